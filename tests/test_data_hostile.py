"""Hostile mirrors and hostile files: every bad case fails within its time and memory, the cache
never holds a partial or bad file, and a good mirror still wins after a bad one.

The mirrors are a local HTTP server on 127.0.0.1 in a thread: a trickle (1 byte every 50 ms),
headers that trickle, a server that never answers, endless bodies, a gzip bomb, a 500.  The
download window is set to 0.5 or 1 s (``MINIDL_DOWNLOAD_TIMEOUT``) so a stall fails in about
that time.  Memory is measured with tracemalloc (everything Python, numpy and zlib allocate)
and, in one test, as the peak RSS of a child process.
"""
import gzip
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from minidl.data import (
    DataError, DatasetNotFoundError, DownloadError, SizeLimitError, StalledDownloadError, cache_dir, load_dataset,
)
from minidl.data import catalogue as C
from minidl.data import download as DL

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MiB = 1 << 20


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def gz(data):
    return gzip.compress(data, mtime=0)


rng = np.random.default_rng(0)
TINY = {NAMES["train"][0]: idx_bytes(rng.integers(0, 256, (30, 28, 28))),
        NAMES["train"][1]: idx_bytes(rng.integers(0, 10, 30)),
        NAMES["test"][0]: idx_bytes(rng.integers(0, 256, (10, 28, 28))),
        NAMES["test"][1]: idx_bytes(rng.integers(0, 10, 10))}
IMAGES = NAMES["train"][0]


def spec(name, known_sizes):
    """A data set verified like MNIST; with ``known_sizes`` the catalogue knows each file's
    uncompressed size and .gz size (as for MNIST), else neither (caps come from the header / 64 MiB)."""
    def fs(fname):
        sizes = {"size": len(TINY[fname]), "gz_size": len(gz(TINY[fname]))} if known_sizes else {}
        return C.FileSpec(fname, sha256=hashlib.sha256(TINY[fname]).hexdigest(), **sizes)
    return C.DatasetSpec(name=name, title=name.upper(), files={s: tuple(fs(f) for f in NAMES[s]) for s in NAMES},
                         sizes={"train": 30, "test": 10}, mirrors=("http://127.0.0.1:9/unused/",))


@lru_cache(maxsize=None)
def gzip_bomb(prefix: bytes, zeros: int = 1 << 30) -> bytes:
    """A valid gzip file of ``prefix`` then ``zeros`` zero bytes (1 GiB: about 1 MB compressed),
    made from one compressed MiB of zeros repeated (a full flush makes each copy stand alone)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero_mib = bytes(MiB)
    parts = [packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)]
    block = packer.compress(zero_mib) + packer.flush(zlib.Z_FULL_FLUSH)
    parts += [block] * (zeros // MiB)
    end = packer.flush()  # the final (empty) block and a trailer we rewrite below
    crc = zlib.crc32(prefix)
    for _ in range(zeros // MiB):
        crc = zlib.crc32(zero_mib, crc)
    size = (len(prefix) + zeros) & 0xFFFFFFFF
    return b"".join(parts) + end[:-8] + crc.to_bytes(4, "little") + size.to_bytes(4, "little")


def test_the_bomb_is_a_valid_gzip_file_of_the_announced_size():
    small = gzip_bomb(b"head", zeros=3 * MiB)
    assert gzip.decompress(small) == b"head" + bytes(3 * MiB)
    assert len(gzip_bomb(b"head")) < 1_200_000  # 1 GiB of zeros in about 1 MB


# ------------------------------------------------------------------------------ the server
EMPTY_STORED_BLOCKS = b"\x00\x00\x00\xff\xff" * 13_107  # deflate blocks of 0 bytes each: 64 KiB of nothing
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class Hostile:
    """routes[path] = bytes (a good answer) or a function(handler, stop) that answers itself."""

    def __init__(self):
        self.routes, self.hits = {}, []
        self.stop = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                elif callable(route):
                    try:
                        route(self, outer.stop)
                    except OSError:  # the client hung up: what a hostile server expects
                        pass
                    self.close_connection = True
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def good(self, prefix):
        for name, data in TINY.items():
            self.routes[f"/{prefix}/{name}.gz"] = gz(data)
        return f"{self.url}/{prefix}/"

    def bad(self, prefix, kind):
        """Every file of the mirror ``prefix`` answered the hostile way ``kind``."""
        for name in TINY:
            self.routes[f"/{prefix}/{name}.gz"] = HOSTILE[kind](name)
        return f"{self.url}/{prefix}/"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _trickle(handler, stop):
    handler.send_response(200)
    handler.send_header("Content-Length", "20000")
    handler.end_headers()
    while not stop.wait(0.05):
        handler.wfile.write(b"\x1f")
        handler.wfile.flush()


def _trickled_headers(handler, stop):
    handler.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
    while not stop.wait(0.05):
        handler.wfile.write(b"z")
        handler.wfile.flush()


def _silent(handler, stop):
    stop.wait(30)


def _endless(first, block):
    def answer(handler, stop):
        handler.send_response(200)  # no Content-Length: the body ends when the server closes
        handler.end_headers()
        handler.wfile.write(first)
        while block and not stop.is_set():
            handler.wfile.write(block)
    return answer


def _announce_10_gb(handler, stop):
    handler.send_response(200)
    handler.send_header("Content-Length", str(10 << 30))
    handler.end_headers()
    while not stop.is_set():
        handler.wfile.write(bytes(1 << 16))


def _error_500(handler, stop):
    handler.send_error(500)


HOSTILE = {
    "trickle": lambda name: _trickle,
    "trickled-headers": lambda name: _trickled_headers,
    "silent": lambda name: _silent,
    "endless-nothing": lambda name: _endless(GZIP_HEADER, EMPTY_STORED_BLOCKS),  # a gzip stream of no content
    "endless-zeros": lambda name: _endless(b"", bytes(1 << 16)),
    "announces-10-GB": lambda name: _announce_10_gb,
    "gzip-bomb": lambda name: gzip_bomb(TINY[name][:16], 256 * MiB),  # the right header, then 256 MiB of zeros
    "gzip-bomb-no-length": lambda name: _endless(gzip_bomb(TINY[name][:16], 256 * MiB), b""),
    "error-500": lambda name: _error_500,
}


@pytest.fixture
def server():
    s = Hostile()
    yield s
    s.close()


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Registered sets with and without known sizes, an empty cache, a 1 s download window."""
    monkeypatch.setitem(C.DATASETS, "known", spec("known", known_sizes=True))
    monkeypatch.setitem(C.DATASETS, "unknown", spec("unknown", known_sizes=False))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setenv("MINIDL_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setattr(DL, "BACKOFF", 0.0)
    return tmp_path


def everything_in(folder):
    """Every entry of the folder, hidden temporaries included."""
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def measured(func):
    """``(exception or None, seconds, peak bytes allocated)`` of ``func()``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        func()
        error = None
    except Exception as exc:  # noqa: BLE001 - returned to the test
        error = exc
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, seconds, peak


# ----------------------------------------------------------------------- one bad mirror
# kind, data set, expected error, message, time limit (s)
BAD_CASES = [
    ("trickle", "known", DatasetNotFoundError, r"less than 16 KiB arrived in 0.5 s .*MINIDL_DOWNLOAD_TIMEOUT", 1.5),
    ("trickled-headers", "known", DatasetNotFoundError, r"less than 16 KiB arrived in 0.5 s", 1.5),
    ("silent", "known", DatasetNotFoundError, r"less than 16 KiB arrived in 0.5 s", 1.5),
    ("endless-nothing", "known", DataError, r"the body is larger than the \d+ bytes expected of "
                                            r"train-images-idx3-ubyte\.gz", 3.0),
    ("endless-nothing", "unknown", DataError, r"the body is larger than the 67108864 bytes expected", 6.0),
    ("endless-zeros", "known", DataError, r"is larger than its expected size of 23536 bytes", 3.0),
    ("endless-zeros", "unknown", DataError, r"not an IDX file", 3.0),
    ("announces-10-GB", "known", DataError, r"the server announces 10737418240 bytes, more than the \d+", 3.0),
    ("announces-10-GB", "unknown", DataError, r"the server announces 10737418240 bytes, more than the 67108864", 3.0),
    ("gzip-bomb", "known", DataError, r"the server announces \d+ bytes, more than the \d+ bytes", 3.0),
    ("gzip-bomb-no-length", "known", DataError, r"decompresses past its expected size of 23536 bytes", 3.0),
    ("gzip-bomb", "unknown", DataError, r"decompresses past its expected size: its header announces shape "
                                        r"\(30, 28, 28\)", 3.0),
]


@pytest.mark.parametrize("kind,name,error,message,seconds", BAD_CASES, ids=[f"{c[0]}-{c[1]}" for c in BAD_CASES])
def test_a_hostile_mirror_fails_in_time_and_memory_and_leaves_nothing(env, server, kind, name, error, message,
                                                                      seconds, monkeypatch):
    monkeypatch.setenv("MINIDL_DOWNLOAD_TIMEOUT", "0.5")
    url = server.bad("bad", kind)
    exc, took, peak = measured(lambda: load_dataset(name, "train", mirrors=[url], progress=False))
    assert isinstance(exc, error), repr(exc)
    assert "every download" in str(exc) or "not found locally" in str(exc)
    assert IMAGES in str(exc)
    assert re.search(message, str(exc)), str(exc)
    assert took < seconds, f"{kind}: {took:.1f} s"
    assert peak < 32 * MiB, f"{kind}: {peak / MiB:.0f} MiB allocated"  # the bound is 200 MB
    assert server.hits == [f"/bad/{IMAGES}.gz"]  # none of these is retried
    assert everything_in(cache_dir(name)) == []  # not even a temporary file


def test_500_is_retried_then_the_next_mirror_wins(env, server, monkeypatch):
    monkeypatch.setattr(DL, "RETRIES", 2)
    bad, good = server.bad("bad", "error-500"), server.good("good")
    ds = load_dataset("known", "train", mirrors=[bad, good], progress=False)
    assert len(ds) == 30 and ds.source.startswith("download:")
    assert server.hits[:4] == [f"/bad/{IMAGES}.gz"] * 3 + [f"/good/{IMAGES}.gz"]
    assert everything_in(cache_dir("known")) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_good_mirror_still_wins_after_a_bad_one(env, server, kind, monkeypatch):
    monkeypatch.setenv("MINIDL_DOWNLOAD_TIMEOUT", "0.5")
    bad, good = server.bad("bad", kind), server.good("good")
    start = time.perf_counter()
    ds = load_dataset("known", "test", mirrors=[bad, good], progress=False)
    assert time.perf_counter() - start < 4.0  # two stalled files of 0.5 s each at most, and the rest
    assert len(ds) == 10
    np.testing.assert_array_equal(ds.labels, np.frombuffer(TINY[NAMES["test"][1]][8:], np.uint8))
    folder = cache_dir("known")
    assert everything_in(folder) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for name in NAMES["test"]:
        assert gzip.decompress((folder / f"{name}.gz").read_bytes()) == TINY[name]
    assert f"/good/{NAMES['test'][0]}.gz" in server.hits


def test_download_window_from_the_environment_is_validated(env, server, monkeypatch):
    url = server.good("good")
    for bad in ("abc", "0", "-3", "nan", "inf", "1e400"):
        monkeypatch.setenv("MINIDL_DOWNLOAD_TIMEOUT", bad)
        with pytest.raises(DataError) as info:
            load_dataset("known", "train", mirrors=[url], progress=False)
        msg = str(info.value)
        assert msg.startswith("MINIDL_DOWNLOAD_TIMEOUT must be a number of seconds > 0") and repr(bad) in msg
        assert "\n" not in msg
    assert server.hits == []
    monkeypatch.setenv("MINIDL_DOWNLOAD_TIMEOUT", " 2.5 ")
    assert DL.download_window() == 2.5
    monkeypatch.delenv("MINIDL_DOWNLOAD_TIMEOUT")
    assert DL.download_window() == 30.0
    with pytest.raises(DataError, match="timeout must be a number of seconds > 0"):
        DL.download_window(0)


def test_https_mirrors_are_tried_before_plain_http_ones(env, server):
    assert DL.order_mirrors(["http://a/", "https://b/", "HTTP://c/", "file:///d/", "https://e/"]) == \
        ["https://b/", "file:///d/", "https://e/", "http://a/", "HTTP://c/"]
    assert all(not m.startswith("http:") for m in C.FASHION_MNIST.mirrors[:-1])
    assert C.MNIST.mirrors[-1].startswith("http:") and C.FASHION_MNIST.mirrors[-1].startswith("http:")
    tried = []
    good = server.good("good") + IMAGES + ".gz"

    def check(url):
        tried.append(url)
        return DL._NoCheck()

    https = "https://127.0.0.1:9/none.gz"  # nothing listens on port 9: refused at once
    assert DL.download_file([good, https], env / "out.gz", check, retries=0, progress=False) == good
    assert tried == [https, good]


def test_a_redirect_from_https_to_http_is_refused():
    request = urllib.request.Request("https://mirror.example/x.gz")
    with pytest.raises(urllib.error.HTTPError, match="refused redirect from HTTPS to http://evil.example/x.gz"):
        DL._NoDowngrade().redirect_request(request, None, 302, "Found", {}, "http://evil.example/x.gz")


def test_a_stall_is_a_stalled_download_error_and_not_retried(env, server, monkeypatch):
    monkeypatch.setattr(DL, "RETRIES", 3)
    url = server.bad("bad", "trickle") + IMAGES + ".gz"
    with pytest.raises(DownloadError) as info:
        DL.download_file([url], env / "x.gz", timeout=0.3, progress=False)
    [(failed_url, exc)] = info.value.failures
    assert failed_url == url and isinstance(exc, StalledDownloadError) and "in 0.3 s" in str(exc)
    assert everything_in(env) == []


def test_memory_error_and_oversize_bodies_are_never_retried(env, server, monkeypatch):
    monkeypatch.setattr(DL, "RETRIES", 5)
    good = server.good("good") + IMAGES + ".gz"
    other = server.good("other") + IMAGES + ".gz"

    class OutOfMemory:
        def update(self, block):
            raise MemoryError

        def finish(self):
            pass

    with pytest.raises(DownloadError, match="MemoryError"):
        DL.download_file([good, other], env / "a.gz", lambda url: OutOfMemory(), progress=False)
    assert server.hits == [f"/good/{IMAGES}.gz"]  # neither retried nor another mirror
    with pytest.raises(DownloadError, match=r"announces \d+ bytes, more than the 1000 bytes") as info:
        DL.download_file([good], env / "b.gz", max_bytes=1000, progress=False)
    assert len(info.value.failures) == 1
    assert everything_in(env) == []  # neither file nor temporary


def test_an_unwritable_cache_is_one_error_not_one_per_mirror(env, server, monkeypatch):
    (env / "xdg" / "minidl").mkdir(parents=True)
    (env / "xdg" / "minidl" / "known").write_bytes(b"a file where the cache folder should be")
    with pytest.raises(DataError, match="cannot create the folder .*known"):
        load_dataset("known", "train", mirrors=[server.good("good")], progress=False)
    assert server.hits == []


def test_size_cap_of_the_catalogues_files():
    # the published .gz size plus an eighth and 64 KiB: MNIST's training images at gzip level 1
    # (10,979,562 bytes, measured) still fit under 9,912,422 + 1,239,052 + 65,536 = 11,217,010
    assert DL.size_cap(9_912_422) == 11_217_010
    assert DL.size_cap(None) == 64 * MiB
    for spec_ in (C.MNIST, C.FASHION_MNIST):
        for split, (images, labels) in spec_.files.items():
            n = spec_.sizes[split]
            assert images.size == 16 + n * 28 * 28 and labels.size == 8 + n  # header + data
            assert images.gz_size > 1_000_000 and labels.gz_size > 4_000


# ----------------------------------------------------------------------------- local files
def test_local_gzip_bomb_in_data_dir_is_refused_quickly_and_without_the_memory(env):
    folder = env / "d"
    folder.mkdir()
    for name, data in TINY.items():
        (folder / f"{name}.gz").write_bytes(gz(data))
    (folder / f"{IMAGES}.gz").write_bytes(gzip_bomb(TINY[IMAGES][:16]))
    for name in ("known", "unknown"):
        exc, took, peak = measured(lambda: load_dataset(name, "train", data_dir=folder))
        assert isinstance(exc, SizeLimitError), repr(exc)
        assert str(exc).startswith(f"{folder / IMAGES}.gz: decompresses past its expected size")
        assert took < 2.0 and peak < 8 * MiB, (took, peak)


def test_mnist_gzip_bomb_costs_at_most_the_expected_size(env):
    """The 1 GiB bomb under MNIST's names: stopped at the file's size (47,040,016 and 60,008 bytes)."""
    from minidl.data.verify import read_verified
    folder = env / "mnist"
    folder.mkdir()
    head_images = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (60_000, 28, 28))
    head_labels = bytes([0, 0, 8, 1]) + (60_000).to_bytes(4, "big")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb(head_images))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip_bomb(head_labels))
    exc, took, peak = measured(lambda: load_dataset("mnist", "train", data_dir=folder))
    assert isinstance(exc, SizeLimitError)
    assert "train-images-idx3-ubyte.gz: decompresses past its expected size of 47040016 bytes" in str(exc)
    assert took < 3.0 and peak < 47_040_016 + 8 * MiB, (took, peak)  # at most the content of a good file
    labels = C.MNIST.files["train"][1]
    exc, took, peak = measured(lambda: read_verified(folder / "train-labels-idx1-ubyte.gz", labels, "MNIST"))
    assert isinstance(exc, SizeLimitError) and "expected size of 60008 bytes" in str(exc)
    assert took < 1.0 and peak < 4 * MiB


def test_a_huge_sparse_file_in_data_dir_is_refused_after_its_expected_size(env):
    folder = env / "d"
    folder.mkdir()
    (folder / f"{NAMES['test'][0]}.gz").write_bytes(gz(TINY[NAMES["test"][0]]))
    with open(folder / NAMES["test"][1], "wb") as f:  # 10 GiB of zeros on a sparse file: no disk used
        f.truncate(10 << 30)
    for name, message in (("known", "is larger than its expected size of 18 bytes"), ("unknown", "not an IDX file")):
        exc, took, peak = measured(lambda: load_dataset(name, "test", data_dir=folder))
        assert isinstance(exc, DataError) and message in str(exc), repr(exc)
        assert str(folder / NAMES["test"][1]) in str(exc)
        assert took < 2.0 and peak < 8 * MiB


CHILD = r"""
import json, os, resource, sys
sys.path.insert(0, {tests!r})
import test_data_hostile as T
from minidl.data import load_dataset
server = T.Hostile()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
growth = {{}}
for kind in ("gzip-bomb", "endless-nothing", "endless-zeros", "announces-10-GB"):
    url = server.bad(kind, kind)
    for name in T.NAMES["train"]:
        server.routes[f"/{{kind}}/{{name}}.gz"] = T.HOSTILE[kind](name) if kind != "gzip-bomb" else \
            T.gzip_bomb(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (60_000, 28, 28)))
    try:
        load_dataset("mnist", "train", mirrors=[url], progress=False)
        growth[kind] = "loaded"
    except Exception as exc:
        growth[kind] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024, type(exc).__name__
server.close()
print(json.dumps(growth))
"""


def test_peak_rss_of_failed_mnist_downloads_stays_far_under_200_mb(env):
    """A child process downloads MNIST's training images from each hostile mirror in turn
    (the bomb and the endless bodies of the reports); its peak RSS grows by a few MB."""
    script = CHILD.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "XDG_CACHE_HOME": str(env / "child-cache")})
    assert out.returncode == 0, out.stderr
    growth = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(growth) == {"gzip-bomb", "endless-nothing", "endless-zeros", "announces-10-GB"}
    for kind, (grown, error) in growth.items():
        assert error in ("ChecksumError", "DataError"), (kind, error)
        assert grown < 50 * MiB, (kind, grown)  # the bound is 200 MB
    assert everything_in(env / "child-cache" / "minidl" / "mnist") == []
