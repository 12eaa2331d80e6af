"""Where data set files come from (data_dir > MINIDL_DATA_DIR > cache > download), the download
path against a local HTTP server on 127.0.0.1, verification and the cache.

Small made-up IDX sets registered as extra named data sets ("tiny", "tiny2", "tinyfashion")
stand in for MNIST, so every path runs in milliseconds; one test downloads the real MNIST
test files from the local server when they are here.
"""
import gzip
import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from minidl.data import ChecksumError, DatasetNotFoundError, IDXError, cache_dir, load_dataset
from minidl.data import catalogue as D
from minidl.data import download as DL

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def make_set(seed, n=(30, 10)):
    """Uncompressed IDX bytes {file name: bytes} of a small random set."""
    rng = np.random.default_rng(seed)
    files = {}
    for split, count in zip(("train", "test"), n):
        files[NAMES[split][0]] = idx_bytes(rng.integers(0, 256, (count, 28, 28)))
        files[NAMES[split][1]] = idx_bytes(rng.integers(0, 10, count))
    return files


def gz(data):
    return gzip.compress(data, mtime=0)


def spec_for(name, files, md5_of_gz=False):
    """A DatasetSpec verified like MNIST (sha256 of the content) or like Fashion-MNIST (md5 of the .gz)."""
    def fs(fname):
        if md5_of_gz:
            return D.FileSpec(fname, gz_md5=hashlib.md5(gz(files[fname])).hexdigest())
        return D.FileSpec(fname, sha256=hashlib.sha256(files[fname]).hexdigest())

    return D.DatasetSpec(name=name, title=name.upper(), files={s: tuple(fs(f) for f in NAMES[s]) for s in NAMES},
                         sizes={"train": 30, "test": 10}, mirrors=("http://127.0.0.1:9/unused/",))


TINY = make_set(0)
TINY2 = make_set(1)  # another data set with the same file names


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Registered tiny sets, an empty cache under tmp_path, no MINIDL_DATA_DIR, fast retries."""
    monkeypatch.setitem(D.DATASETS, "tiny", spec_for("tiny", TINY))
    monkeypatch.setitem(D.DATASETS, "tiny2", spec_for("tiny2", TINY2))
    monkeypatch.setitem(D.DATASETS, "tinyfashion", spec_for("tinyfashion", TINY, md5_of_gz=True))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setattr(DL, "BACKOFF", 0.0)
    monkeypatch.setattr(DL, "TIMEOUT", 5.0)
    return tmp_path


class Server:
    """A local HTTP server: routes[path] = bytes, or ("cut", bytes) to send a short body with the
    full Content-Length; anything else is a 404.  ``hits`` lists the paths requested."""

    def __init__(self):
        self.routes, self.hits = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                body = outer.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                cut = isinstance(body, tuple)
                data = body[1] if cut else body
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if cut else data)
                if cut:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def serve(self, prefix, files, transform=gz):
        for name, data in files.items():
            self.routes[f"/{prefix}/{name}.gz"] = transform(data)
        return f"{self.url}/{prefix}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def write_set(folder, files, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / (name + ".gz" if compress else name)).write_bytes(gz(data) if compress else data)
    return folder


def cache_files(name):
    folder = cache_dir(name)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens: connection refused


# ------------------------------------------------------------------------------ download
def test_download_verifies_writes_cache_and_second_load_skips_server(env, server):
    url = server.serve("good", TINY)
    ds = load_dataset("tiny", "train", mirrors=[url], progress=False)
    assert ds.source.startswith("download:") and len(ds) == 30 and ds.image_shape == (1, 28, 28)
    assert cache_files("tiny") == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert str(cache_dir("tiny")).startswith(str(env / "xdg" / "minidl"))  # XDG_CACHE_HOME respected
    hits = len(server.hits)
    again = load_dataset("tiny", "train", mirrors=[url], progress=False)
    assert again.source.startswith("cache:") and len(server.hits) == hits
    np.testing.assert_array_equal(again.images, ds.images)
    np.testing.assert_array_equal(ds.images[:, 0], np.frombuffer(TINY[NAMES["train"][0]][16:], np.uint8).reshape(30, 28, 28))


def test_404_on_first_mirror_then_second_mirror(env, server):
    good = server.serve("second", TINY)
    ds = load_dataset("tiny", "test", mirrors=[f"{server.url}/missing/", good], progress=False)
    assert len(ds) == 10
    assert server.hits[:2] == ["/missing/t10k-images-idx3-ubyte.gz", "/second/t10k-images-idx3-ubyte.gz"]


def test_mirrors_from_environment_variable(env, server, monkeypatch):
    url = server.serve("viaenv", TINY)
    monkeypatch.setenv("MINIDL_TINY_MIRRORS", f"{server.url}/nothing/ , {url}")
    assert len(load_dataset("tiny", "train", progress=False)) == 30
    assert "/nothing/train-images-idx3-ubyte.gz" in server.hits


@pytest.mark.parametrize("bad", ["corrupt", "truncated", "wrong"])
def test_bad_download_names_file_and_both_checksums_and_writes_nothing(env, server, bad):
    name = NAMES["train"][0]
    good_sha = hashlib.sha256(TINY[name]).hexdigest()
    if bad == "corrupt":
        data = bytearray(TINY[name]); data[100] ^= 0xFF; served = gz(bytes(data))
    elif bad == "truncated":
        served = gz(TINY[name])[:-20]  # a short file, with a matching Content-Length
    else:
        served = gz(TINY2[name])  # a valid IDX file, but not this one
    server.routes[f"/bad/{name}.gz"] = served
    with pytest.raises(ChecksumError) as info:
        load_dataset("tiny", "train", mirrors=[f"{server.url}/bad/"], progress=False)
    msg = str(info.value)
    assert name in msg and f"expected {good_sha}" in msg
    actual = msg.split("actual ")[1][:64]
    assert len(actual) == 64 and actual != good_sha
    if bad != "truncated":
        content = gzip.decompress(served)
        assert actual == hashlib.sha256(content).hexdigest()
    assert cache_files("tiny") == []  # nothing written, not even a temporary file
    assert server.hits == [f"/bad/{name}.gz"]  # a checksum failure is not retried on that mirror


def test_bad_first_mirror_good_second(env, server):
    name = NAMES["test"][0]
    server.routes[f"/bad/{name}.gz"] = gz(TINY2[name])
    good = server.serve("good", TINY)
    assert len(load_dataset("tiny", "test", mirrors=[f"{server.url}/bad/", good], progress=False)) == 10


def test_transfer_cut_short_is_retried_a_bounded_number_of_times(env, server, monkeypatch):
    monkeypatch.setattr(DL, "RETRIES", 2)
    name = NAMES["train"][0]
    server.routes[f"/cut/{name}.gz"] = ("cut", gz(TINY[name]))
    with pytest.raises(DatasetNotFoundError, match=r"transfer cut short.*\(3 attempts\)"):
        load_dataset("tiny", "train", mirrors=[f"{server.url}/cut/"], progress=False)
    assert server.hits == [f"/cut/{name}.gz"] * 3
    assert cache_files("tiny") == []


def test_progress_bar_does_not_break_the_download(env, server, capsys):
    url = server.serve("bar", TINY)
    assert len(load_dataset("tiny", "test", mirrors=[url], progress=True)) == 10


# --------------------------------------------------------------------------- not found
def test_offline_with_nothing_found_names_the_three_ways(env):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("tiny", "train", mirrors=[closed_port_url()], progress=False)
    msg = str(info.value)
    for way in ("data_dir", "--data-dir", "MINIDL_DATA_DIR", str(cache_dir("tiny")), "refused"):
        assert way in msg, way
    with pytest.raises(DatasetNotFoundError, match="download=False(.|\n)*MINIDL_DATA_DIR"):
        load_dataset("tiny", "train", download=False)


def test_a_failed_download_does_not_advise_downloading_and_the_cli_says_it_in_one_line(env, monkeypatch, capsys):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("tiny", "train", mirrors=[closed_port_url()], progress=False)
    assert "download=True" not in str(info.value) and "MINIDL_DATA_DIR" in str(info.value)
    from minidl import cli

    monkeypatch.setenv("MINIDL_MNIST_MIRRORS", closed_port_url())
    args = ["compare", "--dataset", "mnist", "--epochs", "1", "--train-subset", "64", "--val-subset", "64",
            "--quiet", "--no-figures", "--out", str(env / "out")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minidl compare: error: MNIST train: the files were not found")
    assert "--data-dir" in err and "MINIDL_DATA_DIR" in err and "refused" in err and "download=True" not in err


def test_a_data_dir_that_does_not_exist_is_said_so(env):
    with pytest.raises(DatasetNotFoundError, match=r"TINY train: data_dir='.*nowhere' does not exist"):
        load_dataset("tiny", "train", data_dir=env / "nowhere", progress=False)


def test_explicit_data_dir_without_the_files_does_not_fall_through(env, server):
    url = server.serve("good", TINY)
    (env / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="data_dir=.*empty.*lacks train-images-idx3-ubyte"):
        load_dataset("tiny", "train", data_dir=env / "empty", mirrors=[url])
    assert server.hits == []
    partial = env / "partial"
    write_set(partial, {NAMES["train"][0]: TINY[NAMES["train"][0]]})
    with pytest.raises(DatasetNotFoundError, match="lacks train-labels-idx1-ubyte"):
        load_dataset("tiny", "train", data_dir=partial)


# -------------------------------------------------------------------------- precedence
def test_precedence_data_dir_then_env_then_cache_then_download(env, server, monkeypatch):
    url = server.serve("good", TINY)
    d1 = write_set(env / "explicit", TINY)
    d2 = write_set(env / "fromenv" / "tiny", TINY, compress=False)  # <dir>/<dataset>/ and raw files
    write_set(cache_dir("tiny"), TINY)
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env / "fromenv"))
    assert load_dataset("tiny", data_dir=d1, mirrors=[url]).source == f"data_dir: {d1}"
    assert load_dataset("tiny", mirrors=[url]).source == f"MINIDL_DATA_DIR: {d2}"
    monkeypatch.delenv("MINIDL_DATA_DIR")
    assert load_dataset("tiny", mirrors=[url]).source.startswith("cache:")
    for f in cache_dir("tiny").iterdir():
        f.unlink()
    assert server.hits == []
    assert load_dataset("tiny", mirrors=[url], progress=False).source.startswith("download:")
    assert len(server.hits) == 2


def test_env_dir_missing_the_files_falls_through_to_cache(env, monkeypatch):
    (env / "envdir").mkdir()
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env / "envdir"))
    write_set(cache_dir("tiny"), TINY)
    assert load_dataset("tiny").source.startswith("cache:")


def test_env_dir_holding_another_sets_files_is_skipped(env, monkeypatch):
    # like MINIDL_DATA_DIR=shared/data/mnist when fashion-mnist is asked for
    monkeypatch.setenv("MINIDL_DATA_DIR", str(write_set(env / "other", TINY2)))
    write_set(cache_dir("tiny"), TINY)
    assert load_dataset("tiny").source.startswith("cache:")
    with pytest.raises(ChecksumError, match="is the TINY2 file of that name, not the TINY one"):
        load_dataset("tiny", data_dir=env / "other")


def test_cache_respects_xdg_and_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir("mnist") == tmp_path / "x" / "minidl" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("fashion-mnist") == tmp_path / "home" / ".cache" / "minidl" / "fashion-mnist"


# ----------------------------------------------------------------------- verification
@pytest.mark.parametrize("where", ["data_dir", "env", "cache"])
def test_local_files_are_verified_wherever_they_are(env, monkeypatch, where):
    files = dict(TINY)
    name = NAMES["test"][1]
    bad = bytearray(files[name]); bad[-1] = (bad[-1] + 1) % 10; files[name] = bytes(bad)
    folder = write_set(cache_dir("tiny") if where == "cache" else env / "d", files)
    if where == "env":
        monkeypatch.setenv("MINIDL_DATA_DIR", str(folder))
    with pytest.raises(ChecksumError) as info:
        load_dataset("tiny", "test", data_dir=folder if where == "data_dir" else None, download=False)
    msg = str(info.value)
    assert str(folder / (name + ".gz")) in msg
    assert f"expected {hashlib.sha256(TINY[name]).hexdigest()}" in msg
    assert f"actual {hashlib.sha256(files[name]).hexdigest()}" in msg
    if where == "cache":
        assert "delete it to download it again" in msg


def test_truncated_local_gzip_is_a_checksum_error_naming_the_problem(env):
    folder = write_set(env / "d", TINY)
    path = folder / (NAMES["train"][0] + ".gz")
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte\.gz: sha256 mismatch(.|\n)*truncated"):
        load_dataset("tiny", data_dir=folder)


def test_md5_verified_set_accepts_its_gz_and_refuses_raw_files(env, server):
    assert len(load_dataset("tinyfashion", data_dir=write_set(env / "gz", TINY))) == 30
    with pytest.raises(ChecksumError, match="uncompressed TINYFASHION file cannot be verified"):
        load_dataset("tinyfashion", data_dir=write_set(env / "raw", TINY, compress=False))
    with pytest.raises(ChecksumError, match="md5 mismatch(.|\n)*expected [0-9a-f]{32}, actual [0-9a-f]{32}"):
        load_dataset("tinyfashion", data_dir=write_set(env / "other", TINY2))
    url = server.serve("f", TINY)
    assert load_dataset("tinyfashion", "test", mirrors=[url], progress=False).source.startswith("download:")


def test_a_verified_file_with_a_broken_idx_header_is_still_refused(env):
    files = dict(TINY)
    files[NAMES["test"][0]] = files[NAMES["test"][1]]  # a labels file under the images name
    monkey = spec_for("tiny", files)
    D.DATASETS["tiny"] = monkey  # restored by the env fixture's monkeypatch
    with pytest.raises(IDXError, match="wrong magic number 2049"):
        load_dataset("tiny", "test", data_dir=write_set(env / "d", files))


def test_fashion_mnist_spec_refuses_mnist_files(mnist_path, env):
    with pytest.raises(ChecksumError, match="MNIST file of that name, not the Fashion-MNIST one"):
        load_dataset("fashion-mnist", "test", data_dir=mnist_path)


def test_real_mnist_download_from_local_server(mnist_path, env, server):
    for name in NAMES["test"]:
        server.routes[f"/mnist/{name}.gz"] = (mnist_path / f"{name}.gz").read_bytes()
    ds = load_dataset("mnist", "test", mirrors=[f"{server.url}/mnist/"], progress=False)
    assert len(ds) == 10_000 and ds.source.startswith("download:")
    assert sorted(os.listdir(cache_dir("mnist"))) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="unknown data set 'cifar'.*mnist"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("synthetic", "valid")
