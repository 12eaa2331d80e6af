"""The IDX reader: gzip and raw files, and every way a file can be wrong."""
import gzip

import numpy as np
import pytest

from minidl.data import IDXError, read_idx, read_idx_images, read_idx_labels
from minidl.data.idx import gunzip, parse_idx


def idx_bytes(arr, type_code=0x08):
    """The IDX encoding of ``arr`` (big-endian), written by hand from the format's description."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    head = bytes([0, 0, type_code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + np.ascontiguousarray(arr, dtype=big).tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)


def test_header_bytes_are_the_documented_magic_numbers(images):
    assert int.from_bytes(idx_bytes(images)[:4], "big") == 2051
    assert int.from_bytes(idx_bytes(np.zeros(3, np.uint8))[:4], "big") == 2049


@pytest.mark.parametrize("compress", [False, True])
def test_reads_raw_and_gzip(tmp_path, images, compress):
    data = idx_bytes(images)
    path = tmp_path / "imgs"
    path.write_bytes(gzip.compress(data) if compress else data)  # detected by content, not name
    out = read_idx_images(path)
    assert out.dtype == np.uint8 and out.shape == (7, 5, 4)
    np.testing.assert_array_equal(out, images)
    assert not out.flags.writeable
    labels = np.arange(7, dtype=np.uint8)
    (tmp_path / "labs.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx_labels(tmp_path / "labs.gz"), labels)


@pytest.mark.parametrize("code,dtype", [(0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
def test_other_element_types_are_decoded_big_endian(tmp_path, code, dtype):
    arr = (np.arange(12).reshape(3, 4) * 1000 - 5000).astype(dtype)
    (tmp_path / "x").write_bytes(idx_bytes(arr, code))
    out = read_idx(tmp_path / "x")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_wrong_magic(tmp_path, images):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(images))  # an image file under a label file's name
    with pytest.raises(IDXError, match=r"train-labels-idx1-ubyte: wrong magic number 2051.*expected 2049"):
        read_idx_labels(path)
    with pytest.raises(IDXError, match="wrong magic number 2049"):
        parse_idx(idx_bytes(np.zeros(3, np.uint8)), "labels", expected_magic=2051)


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello world, not IDX")
    with pytest.raises(IDXError, match="notes.txt: not an IDX file"):
        read_idx(path)
    with pytest.raises(IDXError, match="too short"):
        parse_idx(b"\x00\x00", "tiny")


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data(tmp_path, images, compress):
    data = idx_bytes(images)[:-10]  # the header announces 7*5*4 bytes; 10 are missing
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IDXError, match=r"cut: truncated: the header announces shape \(7, 5, 4\)"):
        read_idx_images(path)


def test_truncated_header(tmp_path):
    (tmp_path / "h").write_bytes(bytes([0, 0, 8, 3]) + (7).to_bytes(4, "big"))
    with pytest.raises(IDXError, match="truncated header"):
        read_idx(tmp_path / "h")


def test_extra_bytes(tmp_path, images):
    (tmp_path / "long").write_bytes(idx_bytes(images) + b"\x00")
    with pytest.raises(IDXError, match="long: too long"):
        read_idx_images(tmp_path / "long")


def test_truncated_gzip_stream(tmp_path, images):
    gz = gzip.compress(idx_bytes(images))
    (tmp_path / "x.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(IDXError, match=r"x\.gz: the gzip stream is truncated"):
        read_idx_images(tmp_path / "x.gz")


def test_corrupted_gzip_stream(tmp_path):
    rng = np.random.default_rng(1)
    data = idx_bytes(rng.integers(0, 4, size=(50, 28, 28), dtype=np.uint8))
    gz = bytearray(gzip.compress(data))
    gz[len(gz) // 2: len(gz) // 2 + 8] = b"\xff" * 8  # damage the middle of the deflate stream
    (tmp_path / "bad.gz").write_bytes(bytes(gz))
    with pytest.raises(IDXError, match=r"bad\.gz: corrupt gzip stream"):
        read_idx_images(tmp_path / "bad.gz")


def test_gunzip_reports_partial_content_and_handles_members():
    a, b = b"first " * 1000, b"second"
    content, problem = gunzip(gzip.compress(a) + gzip.compress(b))
    assert problem is None and content == a + b
    content, problem = gunzip(gzip.compress(a)[:-12])
    assert "truncated" in problem and a.startswith(content)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        read_idx(tmp_path / "nowhere-idx3-ubyte")
