"""``fingerprint(name, data_dir)``: the name and the sha256 of each file as used (the generator's
version and parameters for "synthetic"), hashed in a stream, each file version hashed once."""
import gzip
import hashlib
import json
import os
import tracemalloc

import numpy as np
import pytest

from minidl.data import DatasetNotFoundError, fingerprint, load_dataset
from minidl.data import catalogue as C
from minidl.data import synthetic as S
from minidl.data import verify as V

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


rng = np.random.default_rng(11)
FILES = dict(zip(NAMES, (idx_bytes(rng.integers(0, 256, (20, 28, 28))), idx_bytes(np.arange(20) % 10),
                         idx_bytes(rng.integers(0, 256, (5, 28, 28))), idx_bytes(np.arange(5)))))


@pytest.fixture
def env(monkeypatch, tmp_path):
    def fs(n):
        return C.FileSpec(n, sha256=hashlib.sha256(FILES[n]).hexdigest())
    spec = C.DatasetSpec("tiny", "TINY", {"train": (fs(NAMES[0]), fs(NAMES[1])), "test": (fs(NAMES[2]), fs(NAMES[3]))},
                         {"train": 20, "test": 5}, ("http://127.0.0.1:9/",))
    monkeypatch.setitem(C.DATASETS, "tiny", spec)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setattr(V, "_DIGESTS", {})
    return tmp_path


def write(folder, compress):
    folder.mkdir()
    for name, data in FILES.items():
        (folder / (name + ".gz" if compress else name)).write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return folder


def count_scans(monkeypatch):
    calls = []
    real = V.scan_file

    def counting(path, **kwargs):
        calls.append(os.path.basename(path))
        return real(path, **kwargs)

    monkeypatch.setattr(V, "scan_file", counting)
    return calls


def test_fingerprint_gives_the_sha256_of_each_file_as_used(env):
    folder = write(env / "gz", compress=True)
    fp = fingerprint("tiny", data_dir=folder)
    assert fp["name"] == "tiny" and sorted(fp["files"]) == sorted(NAMES)
    for name in NAMES:
        on_disk = (folder / f"{name}.gz").read_bytes()
        assert fp["files"][name] == {"file": f"{name}.gz", "bytes": len(on_disk),
                                     "sha256": hashlib.sha256(on_disk).hexdigest(),
                                     "content_sha256": hashlib.sha256(FILES[name]).hexdigest()}
    json.dumps(fp)  # goes into a run's configuration as it is
    raw = fingerprint("tiny", data_dir=write(env / "raw", compress=False))
    for name in NAMES:  # the same content, another file
        assert raw["files"][name]["content_sha256"] == fp["files"][name]["content_sha256"]
        assert raw["files"][name]["sha256"] == hashlib.sha256(FILES[name]).hexdigest() != fp["files"][name]["sha256"]
    assert fingerprint("tiny", data_dir=folder, splits=["test"])["files"].keys() == {NAMES[2], NAMES[3]}


def test_repeated_calls_hash_each_file_version_once(env, monkeypatch):
    folder = write(env / "gz", compress=True)
    calls = count_scans(monkeypatch)
    first = fingerprint("tiny", data_dir=folder)
    assert sorted(calls) == sorted(f"{n}.gz" for n in NAMES)
    calls.clear()
    assert fingerprint("tiny", data_dir=folder) == first and calls == []
    path = folder / f"{NAMES[3]}.gz"  # a new version of one file: only it is hashed again
    path.write_bytes(gzip.compress(FILES[NAMES[3]], mtime=1))
    os.utime(path, ns=(1, 1))
    assert fingerprint("tiny", data_dir=folder)["files"][NAMES[3]]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert calls == [f"{NAMES[3]}.gz"]


def test_after_a_load_the_fingerprint_reads_nothing(env, monkeypatch):
    folder = write(env / "gz", compress=True)
    load_dataset("tiny", "train", data_dir=folder)
    load_dataset("tiny", "test", data_dir=folder)
    calls = count_scans(monkeypatch)
    fingerprint("tiny", data_dir=folder)
    assert calls == []


def test_fingerprint_follows_the_sources_and_never_downloads(env, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="no local copy of the TINY train files"):
        fingerprint("tiny")
    monkeypatch.setenv("MINIDL_DATA_DIR", str(write(env / "fromenv", compress=False)))
    assert fingerprint("tiny")["files"][NAMES[0]]["file"] == NAMES[0]


def test_fingerprint_of_an_idx_folder(env):
    folder = write(env / "any", compress=True)
    fp = fingerprint("idx", data_dir=folder)
    assert fp["name"] == "idx"
    assert fp["files"][NAMES[1]]["sha256"] == hashlib.sha256((folder / f"{NAMES[1]}.gz").read_bytes()).hexdigest()


def test_fingerprint_of_the_synthetic_set_is_its_generator():
    assert fingerprint("synthetic") == {"name": "synthetic", "generator": "minidl.data.synthetic",
                                        "version": S.GENERATOR_VERSION, "image_size": 28,
                                        "sizes": {"train": 10_000, "test": 2_000}, "seeds": {"train": 0, "test": 1}}


def test_bad_arguments():
    with pytest.raises(ValueError, match="fingerprint: unknown data set 'cifar'"):
        fingerprint("cifar")
    with pytest.raises(ValueError, match="splits must be among"):
        fingerprint("synthetic", splits=["valid"])


def test_real_mnist_fingerprint_is_the_published_checksums_streamed(mnist_path, monkeypatch):
    monkeypatch.setattr(V, "_DIGESTS", {})
    published = dict(line.split()[::-1] for line in (mnist_path / "SHA256SUMS").read_text().splitlines()
                     if line and not line.startswith("#"))
    tracemalloc.start()
    fp = fingerprint("mnist", data_dir=mnist_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert {n: f["content_sha256"] for n, f in fp["files"].items()} == published
    assert peak < 16 << 20  # streamed: not the 47 MB of the training images
