"""What is at a path where a data file should be is said as it is, in one line naming the path:
a directory, a symbolic link loop, a broken link, a pipe, an empty file, a file that cannot be
read.  None of them is reported as "lacks the file" or only as a checksum mismatch."""
import gzip
import hashlib
import os

import numpy as np
import pytest

from minidl.data import ArrayDataset, ChecksumError, DataError, IDXError, cache_dir, load_dataset, read_idx
from minidl.data import catalogue as C
from minidl.data import reader as R

NAMES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


rng = np.random.default_rng(3)
FILES = {NAMES[0]: idx_bytes(rng.integers(0, 256, (10, 28, 28))), NAMES[1]: idx_bytes(rng.integers(0, 10, 10))}


@pytest.fixture
def env(monkeypatch, tmp_path):
    files = {"test": tuple(C.FileSpec(n, sha256=hashlib.sha256(FILES[n]).hexdigest()) for n in NAMES),
             "train": tuple(C.FileSpec(n.replace("t10k", "train"), sha256="0" * 64) for n in NAMES)}
    monkeypatch.setitem(C.DATASETS, "tiny", C.DatasetSpec("tiny", "TINY", files, {"train": 1, "test": 10},
                                                          ("http://127.0.0.1:9/",)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / f"{NAMES[1]}.gz").write_bytes(gzip.compress(FILES[NAMES[1]]))
    return folder


def one_line_error(cls, func):
    with pytest.raises(cls) as info:
        func()
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def test_a_directory_where_the_file_should_be(env):
    (env / f"{NAMES[0]}.gz").mkdir()
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg == f"{env / NAMES[0]}.gz is a directory, not the TINY file {NAMES[0]}[.gz]"
    assert "lacks" not in msg


def test_a_symbolic_link_loop_where_the_file_should_be(env):
    (env / NAMES[0]).symlink_to(env / NAMES[0])
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg == f"{env / NAMES[0]} is a symbolic link loop, not the TINY file {NAMES[0]}[.gz]"


def test_a_broken_symbolic_link(env):
    (env / NAMES[0]).symlink_to(env / "gone")
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg.startswith(f"{env / NAMES[0]} is a broken symbolic link (to {env / 'gone'})")


def test_a_pipe_is_refused_without_reading_it(env):
    os.mkfifo(env / NAMES[0])  # reading it would block forever
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg.startswith(f"{env / NAMES[0]} is not a regular file")


def test_a_directory_in_the_cache_and_in_minidl_data_dir(env, monkeypatch):
    folder = cache_dir("tiny")
    folder.mkdir(parents=True)
    (folder / f"{NAMES[0]}.gz").mkdir()
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", download=False))
    assert msg.startswith(f"{folder / NAMES[0]}.gz is a directory")
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env))
    (env / NAMES[0]).mkdir()
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", download=False))
    assert msg.startswith(f"{env / NAMES[0]} is a directory")


def test_data_dir_that_is_a_file_or_a_loop(env, tmp_path):
    (tmp_path / "afile").write_bytes(b"x")
    assert one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=tmp_path / "afile")) == \
        f"{tmp_path / 'afile'} is a file, not a folder of the TINY files (data_dir)"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert "loop is a symbolic link loop" in one_line_error(
        DataError, lambda: load_dataset("tiny", "test", data_dir=tmp_path / "loop"))


def test_an_empty_file_is_reported_as_empty(env):
    (env / NAMES[0]).write_bytes(b"")
    msg = one_line_error(ChecksumError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg.startswith(f"{env / NAMES[0]}: the file is empty (0 bytes), not the TINY file {NAMES[0]}")
    (env / NAMES[0]).unlink()
    (env / f"{NAMES[0]}.gz").write_bytes(b"")  # an empty .gz too
    assert "the file is empty (0 bytes)" in one_line_error(ChecksumError, lambda: load_dataset("tiny", "test",
                                                                                               data_dir=env))
    with pytest.raises(ChecksumError, match="empty(.|\n)*MNIST"):
        load_dataset("mnist", "test", data_dir=env)


def test_an_empty_file_in_the_cache_says_to_delete_it(env):
    folder = cache_dir("tiny")
    folder.mkdir(parents=True)
    (folder / f"{NAMES[0]}.gz").write_bytes(b"")
    (folder / f"{NAMES[1]}.gz").write_bytes(gzip.compress(FILES[NAMES[1]]))
    with pytest.raises(ChecksumError, match=r"the file is empty \(0 bytes\)(.|\n)*delete it to download it again"):
        load_dataset("tiny", "test", download=False)


def test_a_file_without_read_permission_names_the_file(env, monkeypatch):
    path = env / NAMES[0]
    path.write_bytes(FILES[NAMES[0]])

    def refuse(file, *args, **kwargs):  # what open() does without read permission (root may read anyway)
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(R, "open", refuse, raising=False)
    msg = one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env))
    assert msg == f"{path}: cannot read the file: permission denied"
    assert one_line_error(DataError, lambda: read_idx(path)) == msg
    assert not isinstance(DataError(msg), PermissionError) and isinstance(DataError(msg), ValueError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_a_file_without_read_permission_for_real(env):
    path = env / NAMES[0]
    path.write_bytes(FILES[NAMES[0]])
    path.chmod(0)
    try:
        assert one_line_error(DataError, lambda: load_dataset("tiny", "test", data_dir=env)) == \
            f"{path}: cannot read the file: permission denied"
    finally:
        path.chmod(0o644)


def test_a_missing_file_is_still_lacks_and_names_it(env):
    from minidl.data import DatasetNotFoundError
    with pytest.raises(DatasetNotFoundError, match=f"lacks {NAMES[0]}\\[.gz\\]"):
        load_dataset("tiny", "test", data_dir=env)


def test_a_sha256_mismatch_still_gives_both_checksums(env):
    (env / NAMES[0]).write_bytes(FILES[NAMES[0]][:-1] + b"\x00")
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for TINY t10k-images-idx3-ubyte .*expected [0-9a-f]{64}, "
                                            r"actual [0-9a-f]{64}"):
        load_dataset("tiny", "test", data_dir=env)


def test_an_idx_file_with_a_wrong_header_after_a_matching_checksum(env, monkeypatch):
    files = dict(C.DATASETS["tiny"].files)
    files["test"] = (C.FileSpec(NAMES[0], sha256=hashlib.sha256(FILES[NAMES[1]]).hexdigest()), files["test"][1])
    monkeypatch.setitem(C.DATASETS, "tiny", C.DatasetSpec("tiny", "TINY", files, {"train": 1, "test": 10}, ()))
    (env / NAMES[0]).write_bytes(FILES[NAMES[1]])  # a labels file under the images name, and "verified"
    with pytest.raises(IDXError, match=f"{NAMES[0]}: wrong magic number 2049"):
        load_dataset("tiny", "test", data_dir=env)


# ------------------------------------------------------------------------------ subset
def small(n=12):
    return ArrayDataset(np.zeros((n, 2, 2), np.uint8), np.arange(n) % 3, "small")


def test_subset_errors_name_the_option_when_told():
    ds = small()
    assert one_line_error(ValueError, lambda: ds.subset(0)) == "subset: n must be in [1, 12] for small, got 0"
    assert one_line_error(ValueError, lambda: ds.subset(13, what="--train-subset")) == \
        "--train-subset must be in [1, 12] for small, got 13"
    assert one_line_error(ValueError, lambda: ds.subset([12], what="--val-subset")).startswith(
        "--val-subset: indices must be in [0, 11]")
    assert one_line_error(ValueError, lambda: ds.subset([[1]])).startswith("subset: expected an int")
    assert len(ds.subset(5, what="--train-subset")) == 5
