"""The IDX file format (LeCun's MNIST format): its header and its decoding.

An IDX file is a big-endian header followed by the data, row-major::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension, uint32 big-endian
    the data    prod(sizes) elements

Read as one big-endian uint32, bytes 0-3 are the "magic number": 2051 (0x00000803) for
MNIST's image files (uint8, 3 dimensions: N, rows, cols) and 2049 (0x00000801) for its
label files (uint8, 1 dimension: N).  The header alone gives the exact size of the file
(:attr:`IDXHeader.total_bytes`), which is what bounds reading a file of unknown origin.

Every failure is an :class:`IDXError` (a ``ValueError``) that names the file: a wrong
magic number, a header or data shorter or longer than the header announces.  Nothing is
ever unpickled: the data is decoded with ``numpy.frombuffer``.  Reading files (gzip or raw,
in a stream, within a size cap) is :mod:`minidl.data.reader`.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidl import backend as B
from minidl.data.errors import DataError

np = B.np

__all__ = [
    "IDXError", "IDXHeader", "IMAGES_MAGIC", "LABELS_MAGIC", "GZIP_MAGIC", "is_gzip",
    "header_length", "parse_header", "check_magic", "check_length", "parse_idx",
]

IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension
GZIP_MAGIC = b"\x1f\x8b"

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(DataError):
    """A file is not a valid IDX file (or not the one expected); the message names the file."""


def is_gzip(data) -> bool:
    """True when ``data`` starts with the gzip magic bytes 1f 8b."""
    return bytes(data[:2]) == GZIP_MAGIC


@dataclass(frozen=True)
class IDXHeader:
    """A decoded IDX header: ``magic``, element ``dtype`` (big-endian), ``dims`` and the
    number of header bytes; :attr:`total_bytes` is the size of the whole file."""

    magic: int
    dtype: object
    dims: tuple
    header_bytes: int

    @property
    def total_bytes(self) -> int:
        count = 1
        for d in self.dims:
            count *= d
        return self.header_bytes + count * self.dtype.itemsize


def header_length(prefix) -> int | None:
    """How many bytes the header starting with ``prefix`` takes, or None while fewer than 4
    bytes are known."""
    if len(prefix) < 4:
        return None
    return 4 + 4 * prefix[3]


def parse_header(data, name: str = "<bytes>", expected_magic: int | None = None) -> IDXHeader:
    """Decode the header at the start of ``data`` (the uncompressed bytes, or their first
    :func:`header_length` bytes); ``name`` is used in error messages and ``expected_magic``
    (e.g. :data:`IMAGES_MAGIC`), when given, must equal the header's magic number."""
    if len(data) < 4:
        raise IDXError(f"{name}: {len(data)} bytes is too short for an IDX header (at least 4 bytes)")
    magic = int.from_bytes(data[:4], "big")
    check_magic(magic, expected_magic, name)
    zero, type_code, ndim = bytes(data[:2]), data[2], data[3]
    if zero != b"\x00\x00" or type_code not in _DTYPES or ndim < 1:
        raise IDXError(
            f"{name}: not an IDX file (magic number {magic} = 0x{magic:08x}: expected 0x0000 then a "
            f"type code in {[hex(c) for c in _DTYPES]} then at least 1 dimension)"
        )
    size = header_length(data)
    if len(data) < size:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {size} bytes, the file has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return IDXHeader(magic, np.dtype(_DTYPES[type_code]), dims, size)


def check_magic(magic: int, expected_magic: int | None, name: str = "<bytes>") -> None:
    """Raise :class:`IDXError` unless ``magic`` is ``expected_magic`` (any magic when None)."""
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(
            f"{name}: wrong magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}); this is not the IDX file expected here"
        )


def check_length(header: IDXHeader, length: int, name: str = "<bytes>") -> None:
    """Raise :class:`IDXError` unless ``length`` (the uncompressed size) is what ``header`` announces."""
    expected = header.total_bytes
    if length != expected:
        what = "truncated" if length < expected else "too long"
        raise IDXError(
            f"{name}: {what}: the header announces shape {header.dims} of {header.dtype.name} "
            f"({expected} bytes with the header), the file has {length} bytes"
        )


def parse_idx(data, name: str = "<bytes>", expected_magic: int | None = None):
    """Decode the uncompressed IDX bytes ``data`` (bytes or bytearray) into a read-only numpy
    array (native byte order), without a copy for one-byte types."""
    header = parse_header(data, name, expected_magic)
    check_length(header, len(data), name)
    arr = np.frombuffer(data, dtype=header.dtype, offset=header.header_bytes).reshape(header.dims)
    if not header.dtype.isnative and header.dtype.itemsize > 1:
        arr = arr.astype(header.dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr
