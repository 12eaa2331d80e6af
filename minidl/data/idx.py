"""The IDX file format (LeCun's MNIST format), read from gzip-compressed or raw files.

An IDX file is a big-endian header followed by the data, row-major::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension, uint32 big-endian
    the data    prod(sizes) elements

Read as one big-endian uint32, bytes 0-3 are the "magic number": 2051 (0x00000803) for
MNIST's image files (uint8, 3 dimensions: N, rows, cols) and 2049 (0x00000801) for its
label files (uint8, 1 dimension: N).

Everything here is checked and every failure is an :class:`IDXError` (a ``ValueError``)
that names the file: a gzip stream that is corrupt or cut short, a wrong magic number,
a header or data shorter or longer than the header announces.  Nothing is ever
unpickled: the data is decoded with ``numpy.frombuffer``.
"""
from __future__ import annotations

import os
import zlib

from minidl import backend as B

np = B.np

__all__ = [
    "IDXError", "IMAGES_MAGIC", "LABELS_MAGIC", "is_gzip", "gunzip", "read_bytes",
    "parse_idx", "read_idx", "read_idx_images", "read_idx_labels",
]

IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension

_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(ValueError):
    """A file is not a valid IDX file (or not the one expected); the message names the file."""


def is_gzip(data: bytes) -> bool:
    """True when ``data`` starts with the gzip magic bytes 1f 8b."""
    return data[:2] == _GZIP_MAGIC


def gunzip(data: bytes, chunk: int = 1 << 20):
    """Decompress a gzip stream as far as it goes: returns ``(content, problem)``.

    ``problem`` is ``None`` for a complete, valid stream, else a short description
    ("the gzip stream is truncated", "corrupt gzip stream: ...").  The content read before
    the problem is returned too, so a caller can report its checksum.
    Concatenated gzip members (what ``cat a.gz b.gz`` gives) are decompressed in turn.
    """
    out = []
    view = memoryview(data)
    pos = 0
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while pos < len(view) and not d.eof:
                piece = view[pos:pos + chunk]
                out.append(d.decompress(piece))
                used = len(piece) - len(d.unused_data)
                pos += used
                if d.unused_data:
                    break
            out.append(d.flush())
        except zlib.error as exc:
            return b"".join(out), f"corrupt gzip stream: {exc}"
        if not d.eof:
            return b"".join(out), "the gzip stream is truncated (it ends before its end marker)"
        rest = bytes(view[pos:])
        if not rest.strip(b"\x00"):  # trailing zero padding is allowed by gzip tools
            return b"".join(out), None
        if not is_gzip(rest):
            return b"".join(out), f"{len(rest)} unexpected bytes after the gzip stream"


def read_bytes(path) -> tuple[bytes, bytes]:
    """``(file_bytes, content)`` of ``path``: content is the decompressed data for a gzip file.

    Raises :class:`FileNotFoundError` naming the path when it is missing, and
    :class:`IDXError` naming it when its gzip stream is corrupt or truncated.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    if not is_gzip(raw):
        return raw, raw
    content, problem = gunzip(raw)
    if problem is not None:
        raise IDXError(f"{path}: {problem}")
    return raw, content


def parse_idx(data: bytes, name: str = "<bytes>", expected_magic: int | None = None):
    """Decode the uncompressed IDX bytes ``data`` into a read-only numpy array (native byte order).

    ``name`` is used in error messages; ``expected_magic`` (e.g. :data:`IMAGES_MAGIC`),
    when given, must equal the header's magic number.
    """
    if len(data) < 4:
        raise IDXError(f"{name}: {len(data)} bytes is too short for an IDX header (at least 4 bytes)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(
            f"{name}: wrong magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}); this is not the IDX file expected here"
        )
    zero, type_code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or type_code not in _DTYPES or ndim < 1:
        raise IDXError(
            f"{name}: not an IDX file (magic number {magic} = 0x{magic:08x}: expected 0x0000 then a "
            f"type code in {[hex(c) for c in _DTYPES]} then at least 1 dimension)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, the file has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[type_code])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise IDXError(
            f"{name}: {what}: the header announces shape {dims} of {dtype.name} "
            f"({expected} bytes with the header), the file has {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    if not dtype.isnative and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def read_idx(path, expected_magic: int | None = None):
    """Read an IDX file, gzip-compressed (detected by its magic bytes, not its name) or raw."""
    _, content = read_bytes(path)
    return parse_idx(content, os.fspath(path), expected_magic)


def read_idx_images(path):
    """An MNIST-style image file: magic 2051, uint8 ``(N, rows, cols)``."""
    return read_idx(path, IMAGES_MAGIC)


def read_idx_labels(path):
    """An MNIST-style label file: magic 2049, uint8 ``(N,)``."""
    return read_idx(path, LABELS_MAGIC)
