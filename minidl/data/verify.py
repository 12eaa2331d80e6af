"""Verifying a file against its catalogue entry, in one streamed pass, and remembering the result.

:func:`read_verified` reads a local file once (:func:`minidl.data.reader.scan_file`, capped
at the entry's uncompressed size), checks its checksums and returns its content;
:func:`file_digest` does the same without keeping the content (for fingerprints);
:class:`DownloadCheck` checks a download as it streams.  Every failure names the file:

* an empty file is reported as empty (an interrupted copy or download);
* a sha256 or md5 mismatch gives the expected and the actual checksum;
* a gzip stream that decompresses past the entry's size stops there
  (:class:`~minidl.data.errors.SizeLimitError`).

Digests (never contents) are remembered per process, keyed by the file's real path, size
and modification time, so a second look at an unchanged file costs one ``stat``.
"""
from __future__ import annotations

import os

from minidl.data.catalogue import FileSpec
from minidl.data.errors import ChecksumError
from minidl.data.idx import IDXError
from minidl.data.reader import IDXScan, ScanResult, scan_file

__all__ = [
    "file_key", "remember", "remembered", "check_digests", "matches", "read_verified", "file_digest",
    "digest_entry", "DownloadCheck",
]

_DIGESTS = {}  # file_key -> ScanResult without content
_MAX_REMEMBERED = 256


def file_key(path):
    """``(real path, size, mtime_ns)``: what identifies a file's version here."""
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


def remember(path, result: ScanResult) -> None:
    """Keep the digest of ``result`` (the file at ``path`` as just read) for this process."""
    if len(_DIGESTS) >= _MAX_REMEMBERED:
        _DIGESTS.clear()
    _DIGESTS[file_key(path)] = result.digest()


def check_digests(result: ScanResult, fspec: FileSpec, label: str, title: str) -> None:
    """Raise :class:`ChecksumError` naming ``label`` unless ``result`` is the file ``fspec``."""
    if result.file_bytes == 0:
        raise ChecksumError(f"{label}: the file is empty (0 bytes), not the {title} file {fspec.name}: "
                            f"an interrupted copy or download? Replace it.")
    if fspec.gz_md5 is not None:
        if not result.compressed:
            raise ChecksumError(
                f"{label}: an uncompressed {title} file cannot be verified: only the MD5 of the "
                f"original {fspec.name}.gz is published ({fspec.gz_md5}). Put the original .gz file there.")
        if result.file_md5 != fspec.gz_md5:
            raise ChecksumError(
                f"{label}: md5 mismatch for {title} {fspec.name}.gz: expected {fspec.gz_md5}, "
                f"actual {result.file_md5} (the file is corrupt, truncated or not this file)")
        if result.problem is not None:  # pragma: no cover - the md5 matched the published file
            raise IDXError(f"{label}: {result.problem}")
        return
    if result.problem is not None or result.content_sha256 != fspec.sha256:
        extra = f"; {result.problem}" if result.problem else ""
        raise ChecksumError(
            f"{label}: sha256 mismatch for {title} {fspec.name} (of the uncompressed content): "
            f"expected {fspec.sha256}, actual {result.content_sha256}{extra} (the file is corrupt, "
            f"truncated or not this file)")


def matches(result: ScanResult, fspec: FileSpec) -> bool:
    """True when ``result`` passes ``fspec``'s checks (used to say whose file it is)."""
    try:
        check_digests(result, fspec, "", "")
    except (ChecksumError, IDXError):
        return False
    return True


def read_verified(path, fspec: FileSpec, title: str) -> bytearray:
    """The uncompressed content of the file at ``path``, verified against ``fspec``.

    The digest is remembered even when the check fails, so that :func:`remembered` tells
    whose file it is without reading it again.
    """
    result = scan_file(path, expected_size=fspec.size, keep=True)
    remember(path, result)
    check_digests(result, fspec, os.fspath(path), title)
    return result.content


def file_digest(path, fspec: FileSpec | None = None, title: str = "") -> ScanResult:
    """The digest (checksums, sizes, header; no content) of the file at ``path``: remembered,
    else computed in one streamed pass; verified against ``fspec`` when given."""
    key = file_key(path)
    result = _DIGESTS.get(key)
    if result is None:
        result = scan_file(path, expected_size=None if fspec is None else fspec.size)
        remember(path, result)
    if fspec is not None:
        check_digests(result, fspec, os.fspath(path), title)
    return result


def remembered(path) -> ScanResult | None:
    """The digest of the file at ``path`` if this process has read it unchanged, else None."""
    try:
        return _DIGESTS.get(file_key(path))
    except OSError:
        return None


def digest_entry(path, result: ScanResult) -> dict:
    """What a fingerprint records of one file: its name as used, its size and checksums."""
    return {"file": os.path.basename(os.fspath(path)), "bytes": result.file_bytes,
            "sha256": result.file_sha256, "content_sha256": result.content_sha256}


class DownloadCheck:
    """Verify a download of the file ``fspec`` as it streams: ``update(block)`` for each
    block of the body, ``finish()`` at the end (raises when the content is wrong)."""

    def __init__(self, fspec: FileSpec, title: str, label: str, expected_magic: int):
        self.fspec, self.title, self.label, self.expected_magic = fspec, title, label, expected_magic
        self.scan = IDXScan(label, expected_size=fspec.size)

    def update(self, block) -> None:
        self.scan.feed(block)

    def finish(self) -> None:
        result = self.scan.finish()
        check_digests(result, self.fspec, self.label, self.title)
        result.check_idx(self.expected_magic)
