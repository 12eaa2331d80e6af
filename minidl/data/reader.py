"""Reading IDX files, gzip-compressed or raw, in a stream and within a hard size cap.

Nothing here reads a whole stream into memory before it knows how large the stream may be.
The bytes of a file (from disk or from the network) are fed in pieces to an
:class:`IDXScan`, which

* hashes them as they come (sha256 and md5 of the file as it is, sha256 of its uncompressed
  content: the checksums the catalogue compares);
* decompresses a gzip stream (detected by its magic bytes, not its name) piece by piece,
  never asking zlib for more than the room left under the cap;
* caps the uncompressed size: the expected size when the caller knows it (a file of the
  catalogue), else the exact size its IDX header declares (magic + dimensions), itself at
  most :data:`MAX_IDX_BYTES`.  One byte past the cap raises :class:`SizeLimitError` naming
  the file: it "decompresses past its expected size".  A gzip bomb therefore costs at most
  its expected size in time and memory, however much it would expand to.

With ``keep=True`` the content is kept (in one ``bytearray``, never larger than the cap)
for :func:`minidl.data.idx.parse_idx`; without it only the checksums are.

A problem of the gzip stream (corrupt, cut short, garbage after it) is recorded in the
result (``problem``) rather than raised, so a caller can report it beside the checksum it
got; :func:`read_idx` raises it as an :class:`IDXError` naming the file.
"""
from __future__ import annotations

import errno
import hashlib
import os
import zlib
from dataclasses import dataclass

from minidl.data.errors import DataError, SizeLimitError
from minidl.data.idx import (
    GZIP_MAGIC, IMAGES_MAGIC, LABELS_MAGIC, IDXError, IDXHeader, check_length, check_magic, header_length,
    parse_header, parse_idx,
)

__all__ = [
    "MAX_IDX_BYTES", "BoundedGunzip", "IDXScan", "ScanResult", "scan_file", "open_data_file",
    "gunzip", "read_idx", "read_idx_images", "read_idx_labels",
]

#: The largest uncompressed IDX file read when its size is not known beforehand: 2 GiB
#: (EMNIST ByClass's training images, 697,932 of 28 x 28 bytes, are 0.55 GB).
MAX_IDX_BYTES = 2 << 30
_CHUNK = 1 << 20
_MAX_HEADER = 4 + 4 * 255


class BoundedGunzip:
    """Decompress a gzip stream fed in pieces; each piece of output goes to ``sink``.

    ``limit`` (settable while running) bounds what is asked of zlib: never more than
    ``limit - produced + 1`` bytes, so the sink sees at most one byte past ``limit`` (and may
    refuse it with its own message); past it, :class:`SizeLimitError` naming ``name``.
    Concatenated members (``cat a.gz b.gz``) are decompressed in turn; zero bytes after the
    last member are allowed (gzip tools pad so), anything else is a problem.  :meth:`finish` returns the problem, or None for a complete, valid stream.
    """

    def __init__(self, sink, limit: int, chunk: int = _CHUNK, name: str = "<bytes>"):
        self.sink, self.limit, self.chunk, self.name = sink, int(limit), int(chunk), name
        self.produced = 0
        self.problem = None
        self._inflater = None
        self._pending = b""   # bytes after a member, too few yet to say what follows
        self._padding = False
        self._members = 0

    def feed(self, data) -> None:
        data = bytes(data)
        while data and self.problem is None:
            data = self._inflate(data) if self._inflater is not None else self._next_member(data)

    def _next_member(self, data: bytes) -> bytes:
        if self._padding:
            if data.strip(b"\x00"):
                self.problem = "unexpected bytes after the gzip stream"
            return b""
        head = self._pending + data
        if len(head) < 2:
            self._pending = head
            return b""
        self._pending = b""
        if head[:2] == GZIP_MAGIC:
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._members += 1
            return head
        if head[0] == 0 and self._members:
            self._padding = True
            return head
        self.problem = "unexpected bytes after the gzip stream"
        return b""

    def _inflate(self, data: bytes) -> bytes:
        inflater = self._inflater
        while True:
            room = max(1, min(self.chunk, self.limit - self.produced + 1))
            try:
                out = inflater.decompress(data, room)
            except zlib.error as exc:
                self.problem = f"corrupt gzip stream: {exc}"
                return b""
            data = inflater.unconsumed_tail
            if out:
                self.produced += len(out)
                self.sink(out)
                if self.produced > self.limit:
                    raise SizeLimitError(f"{self.name}: decompresses past its expected size of {self.limit} "
                                         f"bytes; stopped there")
            if inflater.eof:
                self._inflater = None
                return inflater.unused_data
            if not data:
                return b""

    def finish(self):
        """The stream has ended: the problem found (None when the stream was complete)."""
        if self.problem is None:
            if self._inflater is not None:
                self.problem = "the gzip stream is truncated (it ends before its end marker)"
            elif self._pending.strip(b"\x00"):
                self.problem = "unexpected bytes after the gzip stream"
        return self.problem


@dataclass
class ScanResult:
    """What an :class:`IDXScan` found: checksums, sizes, the header, the content if kept."""

    name: str
    file_bytes: int
    file_sha256: str
    file_md5: str
    content_bytes: int
    content_sha256: str
    compressed: bool
    problem: str | None          # of the gzip stream
    header: IDXHeader | None
    header_error: IDXError | None
    content: bytearray | None

    def digest(self) -> "ScanResult":
        """The same result without the content (what caches keep)."""
        return ScanResult(**{**self.__dict__, "content": None})

    def check_idx(self, expected_magic: int | None = None) -> IDXHeader:
        """Raise :class:`IDXError` naming the file unless the content is one whole IDX file
        (with ``expected_magic``); return its header."""
        if self.problem is not None:
            raise IDXError(f"{self.name}: {self.problem}")
        if self.header is None:
            raise self.header_error
        check_magic(self.header.magic, expected_magic, self.name)
        check_length(self.header, self.content_bytes, self.name)
        return self.header


class IDXScan:
    """Feed the bytes of one IDX file (gzip or raw) in pieces; :meth:`finish` gives a :class:`ScanResult`.

    ``name`` (a path or "download of X from URL") is what errors say.  ``expected_size``:
    the exact uncompressed size when known; else the header's declared size is the cap
    (and a header that is not IDX, or declares more than ``max_size``, is refused at once:
    nothing else could bound the stream).  ``keep``: keep the content.
    """

    def __init__(self, name: str, *, expected_size: int | None = None, keep: bool = False,
                 max_size: int = MAX_IDX_BYTES):
        self.name = name
        self.expected_size = expected_size
        self.max_size = int(max_size)
        self.cap = expected_size
        self.file_bytes = 0
        self.content_bytes = 0
        self.compressed = None
        self.header = None
        self.header_error = None
        self._file_sha256, self._file_md5 = hashlib.sha256(), hashlib.md5()
        self._content_sha256 = hashlib.sha256()
        self._lead = b""        # the first byte, until the second tells gzip from raw
        self._head = b""        # the first content bytes, until the header is whole
        self._gunzip = None
        # a known size is allocated once (no regrowth); a declared one grows as data comes
        self._content = (bytearray(expected_size) if expected_size else bytearray()) if keep else None

    def feed(self, data) -> None:
        if not data:
            return
        self.file_bytes += len(data)
        self._file_sha256.update(data)
        self._file_md5.update(data)
        if self.compressed is None:
            data, self._lead = self._lead + bytes(data), b""
            if len(data) < 2:
                self._lead = data
                return
            self.compressed = data[:2] == GZIP_MAGIC
            if self.compressed:
                limit = self.max_size if self.cap is None else self.cap
                self._gunzip = BoundedGunzip(self._take, limit, name=self.name)
        if self.compressed:
            self._gunzip.feed(data)
        else:
            self._take(data)

    def _take(self, piece) -> None:
        """One piece of uncompressed content: header, cap, hash, keep."""
        if self.header is None and self.header_error is None:
            self._read_header(piece)
        total = self.content_bytes + len(piece)
        if self.cap is not None and total > self.cap:
            raise SizeLimitError(self._past_cap())
        if self._content is not None:
            if self.expected_size:
                self._content[self.content_bytes:total] = piece  # same length: in place
            else:
                self._content += piece
        self.content_bytes = total
        self._content_sha256.update(piece)

    def _past_cap(self) -> str:
        if self.expected_size is None:
            announced = (f"its header announces shape {self.header.dims} of {self.header.dtype.name} "
                         f"({self.cap} bytes with the header)")
            if self.compressed:
                return f"{self.name}: decompresses past its expected size: {announced}; stopped reading there"
            return f"{self.name}: too long: {announced}, the file has more; stopped reading there"
        how = "decompresses past" if self.compressed else "is larger than"
        return (f"{self.name}: {how} its expected size of {self.cap} bytes (a corrupt file, the wrong "
                f"file or a gzip bomb); stopped reading there")

    def _read_header(self, piece) -> None:
        self._head += bytes(piece[:_MAX_HEADER - len(self._head)])
        need = header_length(self._head)
        if need is None or len(self._head) < need:
            return
        try:
            self.header = parse_header(self._head, self.name)
        except IDXError as exc:
            if self.expected_size is None:
                raise
            self.header_error = exc
            return
        if self.expected_size is None:
            declared = self.header.total_bytes
            if declared > self.max_size:
                raise SizeLimitError(
                    f"{self.name}: its IDX header declares shape {self.header.dims} ({declared} bytes), more "
                    f"than the {self.max_size} bytes minidl reads from one IDX file of unknown size")
            self.cap = declared
            if self._gunzip is not None:
                self._gunzip.limit = declared

    def finish(self) -> ScanResult:
        """The file has ended: check what only the end can tell, and return the result."""
        if self.compressed is None:  # a file of 0 or 1 byte
            self.compressed = False
            if self._lead:
                self._take(self._lead)
        problem = self._gunzip.finish() if self.compressed else None
        if self._content is not None and len(self._content) > self.content_bytes:
            del self._content[self.content_bytes:]  # a file shorter than expected
        if self.header is None and self.header_error is None:
            try:
                parse_header(self._head, self.name)
            except IDXError as exc:
                self.header_error = exc
        return ScanResult(
            name=self.name, file_bytes=self.file_bytes, file_sha256=self._file_sha256.hexdigest(),
            file_md5=self._file_md5.hexdigest(), content_bytes=self.content_bytes,
            content_sha256=self._content_sha256.hexdigest(), compressed=self.compressed, problem=problem,
            header=self.header, header_error=self.header_error, content=self._content)


def open_data_file(path):
    """Open ``path`` for reading in binary; an unreadable path is a one-line :class:`DataError`
    naming it (permission denied, a directory, a symbolic link loop); a missing one a
    ``FileNotFoundError`` naming it."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a data file") from None
    except PermissionError:
        raise DataError(f"{path}: cannot read the file: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{path} is a symbolic link loop, not a data file") from None
        raise DataError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def scan_file(path, *, name: str | None = None, expected_size: int | None = None, keep: bool = False,
              header_only: bool = False, max_size: int = MAX_IDX_BYTES) -> ScanResult:
    """Scan the file at ``path`` in pieces of 1 MiB (see :class:`IDXScan`); ``header_only``
    stops once the header is read (the checksums are then those of the part read)."""
    name = os.fspath(path) if name is None else name
    scan = IDXScan(name, expected_size=expected_size, keep=keep, max_size=max_size)
    with open_data_file(path) as f:
        while True:
            try:
                block = f.read(_CHUNK)
            except OSError as exc:
                raise DataError(f"{name}: cannot read the file: {exc.strerror or exc}") from None
            if not block:
                break
            scan.feed(block)
            if header_only and (scan.header is not None or scan.header_error is not None):
                break
    return scan.finish()


def gunzip(data, limit: int):
    """Decompress the gzip bytes ``data``, at most ``limit`` bytes of output: ``(content, problem)``.

    ``problem`` is None for a complete, valid stream, else a short description; the
    content read before it is returned too.  More than ``limit`` bytes raise
    :class:`SizeLimitError`.
    """
    parts = []
    stream = BoundedGunzip(parts.append, limit)
    stream.feed(data)
    problem = stream.finish()
    return b"".join(parts), problem


def read_idx(path, expected_magic: int | None = None):
    """Read an IDX file, gzip-compressed (detected by its magic bytes, not its name) or raw,
    decompressing no more than its header declares; a read-only array."""
    result = scan_file(path, keep=True)
    if result.file_bytes == 0:
        raise IDXError(f"{os.fspath(path)}: the file is empty (0 bytes)")
    result.check_idx(expected_magic)
    return parse_idx(result.content, os.fspath(path), expected_magic)


def read_idx_images(path):
    """An MNIST-style image file: magic 2051, uint8 ``(N, rows, cols)``."""
    return read_idx(path, IMAGES_MAGIC)


def read_idx_labels(path):
    """An MNIST-style label file: magic 2049, uint8 ``(N,)``."""
    return read_idx(path, LABELS_MAGIC)
