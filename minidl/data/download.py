"""Fetching a file from a list of mirrors: retries, a progress bar, a check, an atomic write.

:func:`download_file` tries each URL in turn.  A transient failure (connection refused or
reset, a timeout, a 5xx answer, a transfer cut short) is retried a bounded number of times
with a short pause; a permanent one (a 4xx answer such as 404) or content that fails the
caller's check moves on to the next mirror at once.  The content is checked *before*
anything is written; a good file is written to a temporary name beside the destination and
renamed over it (``os.replace``), so a reader never sees half a file and a bad download
leaves nothing behind.  When every mirror fails, :class:`DownloadError` lists what each
one said.

The module-level constants ``TIMEOUT`` (seconds per socket operation), ``RETRIES``
(attempts per mirror after the first) and ``BACKOFF`` (seconds, multiplied by the attempt
number) are the defaults; tests lower them.
"""
from __future__ import annotations

import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["DownloadError", "ChecksumError", "download_file", "fetch", "atomic_write",
           "TIMEOUT", "RETRIES", "BACKOFF"]

TIMEOUT = 30.0
RETRIES = 2
BACKOFF = 1.0
_CHUNK = 1 << 16
_USER_AGENT = "minidl-data/1 (+python urllib)"


class ChecksumError(ValueError):
    """A file's content does not have the published checksum (corrupt, truncated or wrong)."""


class DownloadError(RuntimeError):
    """Every mirror failed; ``failures`` holds ``(url, exception)`` pairs in the order tried."""

    def __init__(self, message, failures):
        super().__init__(message)
        self.failures = list(failures)


def _progress_bar(total, desc, enabled):
    """A tqdm bar when asked for and tqdm is importable; otherwise a silent stand-in."""
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is a declared dependency
            pass
        else:
            return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)

    class _Silent:
        def update(self, n):
            pass

        def close(self):
            pass

    return _Silent()


def fetch(url: str, timeout: float | None = None, progress: bool = False, desc: str = "") -> bytes:
    """The body of ``url`` (HTTP(S) or file://); raises when the transfer is cut short."""
    timeout = TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = _progress_bar(total, desc or url.rsplit("/", 1)[-1], progress)
        parts = []
        received = 0
        try:
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                parts.append(block)
                received += len(block)
                bar.update(len(block))
        finally:
            bar.close()
    if total is not None and received != total:
        raise http.client.IncompleteRead(b"", total - received)
    return b"".join(parts)


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _permanent(exc) -> bool:
    """True for failures a retry of the same URL cannot fix."""
    if isinstance(exc, ChecksumError):
        return True
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code < 500 and exc.code not in (408, 429)
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, socket.gaierror):  # the host name does not resolve (offline)
            return True
        if isinstance(exc.reason, str):
            return "unknown url type" in exc.reason
    return isinstance(exc, ValueError)  # e.g. a malformed URL


def download_file(urls, dest, check=None, *, progress=True, timeout=None, retries=None, backoff=None):
    """Fetch the first URL of ``urls`` that works, check it, write it atomically to ``dest``.

    ``check(data)`` raises (typically :class:`ChecksumError`) when the content is wrong; then
    nothing is written and the next mirror is tried.  Returns ``(url, data)``.
    Raises :class:`DownloadError` listing every mirror's failure when none works.
    """
    urls = list(urls)
    if not urls:
        raise ValueError("download_file: urls must name at least one mirror, got none")
    retries = RETRIES if retries is None else int(retries)
    backoff = BACKOFF if backoff is None else float(backoff)
    if retries < 0:
        raise ValueError(f"download_file: retries must be >= 0, got {retries}")
    failures = []
    for url in urls:
        for attempt in range(retries + 1):
            try:
                data = fetch(url, timeout=timeout, progress=progress, desc=Path(dest).name)
                if check is not None:
                    check(data)
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                failures.append((url, exc))
                if _permanent(exc) or attempt == retries:
                    break
                time.sleep(backoff * (attempt + 1))
                continue
            atomic_write(dest, data)
            return url, data
    lines = []
    for url, exc in failures:  # one line per mirror and distinct failure
        line = f"  {url}: {_describe(exc)}"
        if lines and lines[-1][0] == line:
            lines[-1][1] += 1
        else:
            lines.append([line, 1])
    lines = "\n".join(line + (f" ({k} attempts)" if k > 1 else "") for line, k in lines)
    raise DownloadError(f"could not download {Path(dest).name} from any mirror:\n{lines}", failures)


def _describe(exc) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"transfer cut short ({exc.expected} bytes missing)"
    return f"{type(exc).__name__}: {exc}"
