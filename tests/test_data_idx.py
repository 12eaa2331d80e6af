"""The IDX reader: gzip and raw files, and every way a file can be wrong."""
import gzip

import numpy as np
import pytest

from minidl.data import DataError, IDXError, SizeLimitError, read_idx, read_idx_images, read_idx_labels
from minidl.data.idx import parse_idx
from minidl.data.reader import BoundedGunzip, IDXScan, gunzip, scan_file


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
    # reading stops at the size the header declares: one byte more is refused
    (tmp_path / "long").write_bytes(idx_bytes(images) + b"\x00")
    with pytest.raises(SizeLimitError, match=r"long: too long: its header announces shape \(7, 5, 4\)"):
        read_idx_images(tmp_path / "long")
    with pytest.raises(IDXError, match="too long"):  # parse_idx on bytes in memory says the same
        parse_idx(idx_bytes(images) + b"\x00", "long")


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
    content, problem = gunzip(gzip.compress(a) + gzip.compress(b), limit=6006)
    assert problem is None and content == a + b
    content, problem = gunzip(gzip.compress(a)[:-12], limit=6000)
    assert "truncated" in problem and a.startswith(content)
    content, problem = gunzip(gzip.compress(a) + b"\x00" * 7, limit=6000)  # zero padding is allowed
    assert problem is None and content == a
    content, problem = gunzip(gzip.compress(a) + b"junk", limit=6000)
    assert problem == "unexpected bytes after the gzip stream" and content == a


def test_gunzip_stops_at_its_limit():
    data = gzip.compress(bytes(100_000))
    assert gunzip(data, limit=100_000)[0] == bytes(100_000)
    with pytest.raises(SizeLimitError, match="decompresses past its expected size of 99999 bytes"):
        gunzip(data, limit=99_999)


def test_bounded_gunzip_never_asks_zlib_for_more_than_the_room_left():
    pieces = []
    stream = BoundedGunzip(pieces.append, limit=1000, chunk=256, name="ten-thousand-zeros.gz")
    with pytest.raises(SizeLimitError, match="ten-thousand-zeros.gz: decompresses past its expected size of 1000"):
        stream.feed(gzip.compress(bytes(10_000)))
    # 256-byte pieces until the room left is 1000 - 768 + 1 = 233 bytes: 1001 bytes in all
    assert [len(p) for p in pieces] == [256, 256, 256, 233] and stream.produced == 1001


@pytest.mark.parametrize("piece", [1, 3, 1000])
def test_scan_fed_in_small_pieces_gives_the_same_digest(images, piece):
    import hashlib
    data = idx_bytes(images)
    packed = gzip.compress(data) + gzip.compress(b"")  # two members, the second empty
    scan = IDXScan("x", keep=True)
    for start in range(0, len(packed), piece):
        scan.feed(packed[start:start + piece])
    result = scan.finish()
    assert result.problem is None and result.compressed and bytes(result.content) == data
    assert result.content_sha256 == hashlib.sha256(data).hexdigest()
    assert result.file_sha256 == hashlib.sha256(packed).hexdigest()
    assert result.file_md5 == hashlib.md5(packed).hexdigest()
    assert result.header.dims == (7, 5, 4) and result.header.total_bytes == len(data) == 16 + 140


def test_scan_of_an_unknown_file_refuses_a_non_idx_header_at_once(tmp_path):
    (tmp_path / "zeros").write_bytes(bytes(1 << 20))
    with pytest.raises(IDXError, match="zeros: not an IDX file"):
        scan_file(tmp_path / "zeros")
    # with a known size the checksum speaks first: the header problem is only recorded
    result = scan_file(tmp_path / "zeros", expected_size=1 << 20)
    assert result.header is None and "not an IDX file" in str(result.header_error)


def test_header_declaring_more_than_the_reader_accepts(tmp_path):
    head = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (100_000, 1000, 1000))
    (tmp_path / "huge.gz").write_bytes(gzip.compress(head + bytes(1000)))
    with pytest.raises(SizeLimitError, match=r"huge\.gz: its IDX header declares shape \(100000, 1000, 1000\) "
                                             r"\(100000000016 bytes\), more than the 2147483648 bytes"):
        read_idx(tmp_path / "huge.gz")


def test_unreadable_paths_are_one_line_errors(tmp_path, monkeypatch):
    (tmp_path / "adir").mkdir()
    with pytest.raises(DataError, match="adir is a directory"):
        read_idx(tmp_path / "adir")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(DataError, match="loop is a symbolic link loop"):
        read_idx(tmp_path / "loop")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(IDXError, match="empty: the file is empty"):
        read_idx(tmp_path / "empty")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        read_idx(tmp_path / "nowhere-idx3-ubyte")
