"""Fetching a file from a list of mirrors, within bounds of size, time and memory.

:func:`download_file` tries each URL in turn, HTTPS (and local ``file:``) mirrors first and
plain-HTTP ones last.  Every response is streamed, block by block, into a temporary file
in the destination folder (:func:`minidl.fileio.atomic_writer`) and into the caller's
check, which hashes and decompresses it as it comes (:class:`minidl.data.verify.DownloadCheck`).
Only a body that passes the check gets its final name; any failure removes the temporary
file, so the cache never holds a partial or a bad file.  Nothing holds a whole body in
memory: a failed download costs a few MiB whatever the server sends.

Bounds:

* **size**: a body larger than ``max_bytes`` is refused, before reading when the server
  announces its length, else at the first byte past it.  The catalogue's files are capped
  at their published size plus an eighth (any gzip level fits) and 64 KiB
  (:func:`size_cap`); a file of unknown size at 64 MiB (:data:`UNKNOWN_SIZE_CAP`).
* **time**: a transfer that delivers less than 16 KiB (:data:`MIN_BYTES_PER_WINDOW`) in any
  window of ``MINIDL_DOWNLOAD_TIMEOUT`` seconds (default 30) is abandoned, whether it stalls
  (connecting, in the headers or in the body) or trickles.  A watchdog thread checks each
  window and shuts the socket down, so the transfer ends within a window of going slow.
* **redirects** from HTTPS to plain HTTP are refused.

Retries: a transient failure (connection refused or reset, a 5xx answer, a transfer cut
short) is retried ``RETRIES`` times with a pause of ``BACKOFF`` x attempt seconds; a
permanent one (a 4xx answer, content that fails the check, a body past its cap, a stalled
transfer) moves on to the next mirror at once.  A MemoryError or a failure to write the
destination folder stops the download at once.  When every mirror fails,
:class:`~minidl.data.errors.DownloadError` lists what each one said.
"""
from __future__ import annotations

import functools
import http.client
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from minidl import fileio
from minidl.data.errors import DataError, DownloadError, SizeLimitError, StalledDownloadError

__all__ = [
    "download_file", "download_window", "order_mirrors", "size_cap",
    "TIMEOUT", "RETRIES", "BACKOFF", "MIN_BYTES_PER_WINDOW", "UNKNOWN_SIZE_CAP", "TIMEOUT_ENV",
]

TIMEOUT_ENV = "MINIDL_DOWNLOAD_TIMEOUT"
TIMEOUT = 30.0                   # seconds: the default window
MIN_BYTES_PER_WINDOW = 16 << 10  # a transfer must deliver this much in every window
UNKNOWN_SIZE_CAP = 64 << 20      # the cap of a body whose size is not known
RETRIES = 2
BACKOFF = 1.0
_CHUNK = 1 << 16
_USER_AGENT = "minidl-data/2 (+python urllib)"


class CacheWriteError(DataError):
    """The destination folder cannot be written (permission, full disk): no mirror can help."""


def size_cap(gz_size: int | None) -> int:
    """The largest body accepted for a file whose published size is ``gz_size`` bytes
    (None: unknown): that size plus an eighth plus 64 KiB, else :data:`UNKNOWN_SIZE_CAP`."""
    if gz_size is None:
        return UNKNOWN_SIZE_CAP
    return int(gz_size) + int(gz_size) // 8 + (64 << 10)


def download_window(value=None) -> float:
    """The window in seconds: ``value`` when given, else ``$MINIDL_DOWNLOAD_TIMEOUT``, else
    :data:`TIMEOUT`; a value that is not a finite number > 0 is a one-line ``ValueError``."""
    source = "timeout"
    if value is None:
        text = os.environ.get(TIMEOUT_ENV, "").strip()
        if not text:
            return float(TIMEOUT)
        value, source = text, TIMEOUT_ENV
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise DataError(f"{source} must be a number of seconds > 0 (the window in which a download must "
                        f"deliver {MIN_BYTES_PER_WINDOW // 1024} KiB), got {value!r}")
    return seconds


def order_mirrors(urls) -> list:
    """``urls`` with plain-HTTP ones moved last (otherwise in the given order)."""
    urls = list(urls)
    return [u for u in urls if not u.lower().startswith("http:")] + [u for u in urls if u.lower().startswith("http:")]


# ------------------------------------------------------------------------------ watchdog
class _Watchdog:
    """A thread that, at the end of each window, abandons a transfer that delivered less than
    ``min_bytes`` in it: it marks ``tripped`` and shuts the socket down (which ends a blocked
    read, whether in the connection, the headers or the body)."""

    def __init__(self, window: float, min_bytes: int):
        self.window, self.min_bytes = window, min_bytes
        self.received = 0
        self.tripped = False
        self._sockets = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="minidl-download-watchdog", daemon=True)

    def attach(self, sock) -> None:
        self._sockets.append(sock)
        if self.tripped:
            self._shutdown()

    def _shutdown(self) -> None:
        for sock in self._sockets:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        counted = 0
        while not self._done.wait(self.window):
            if self.received - counted < self.min_bytes:
                self.tripped = True
                self._shutdown()
                return
            counted = self.received

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


class _Watched:
    """A connection whose socket the stall watch follows once it is connected."""

    def __init__(self, *args, watch, **kwargs):
        super().__init__(*args, **kwargs)
        self._watch = watch

    def connect(self):
        super().connect()
        self._watch.attach(self.sock)


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watch):
        super().__init__()
        self._watch = watch

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(functools.partial(_WatchedHTTP, watch=self._watch), req, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watch):
        super().__init__()
        self._watch = watch

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(functools.partial(_WatchedHTTPS, watch=self._watch), req, **kwargs)


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if req.full_url.lower().startswith("https:") and not newurl.lower().startswith("https:"):
            raise urllib.error.HTTPError(newurl, code, f"refused redirect from HTTPS to {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# ------------------------------------------------------------------------------ transfer
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


def _stalled(url, window):
    return StalledDownloadError(
        f"{url}: less than {MIN_BYTES_PER_WINDOW // 1024} KiB arrived in {window:g} s (a stalled or trickling "
        f"transfer); abandoned ({TIMEOUT_ENV} sets the window)")


def _timed_out(exc) -> bool:
    return isinstance(exc, socket.timeout) or isinstance(getattr(exc, "reason", None), socket.timeout)


def _transfer(url, out, check, *, max_bytes, window, progress, desc):
    """Stream the body of ``url`` into the open file ``out`` and ``check``, within the bounds."""
    watch = _Watchdog(window, MIN_BYTES_PER_WINDOW)
    opener = urllib.request.build_opener(_HTTPHandler(watch), _HTTPSHandler(watch), _NoDowngrade())
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with watch:
        try:
            response = opener.open(request, timeout=window + 1.0)  # the watchdog acts first
        except (OSError, http.client.HTTPException) as exc:
            if watch.tripped or _timed_out(exc):
                raise _stalled(url, window) from None
            raise
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.strip().isdigit() else None
            if total is not None and total > max_bytes:
                raise SizeLimitError(f"{url}: the server announces {total} bytes, more than the {max_bytes} "
                                     f"bytes expected of {desc}; not downloaded")
            read = getattr(response, "read1", response.read)
            bar = _progress_bar(total, desc, progress)
            try:
                received = _pump(read, out, check, watch, url, max_bytes, window, bar, desc)
            finally:
                bar.close()
    if total is not None and received != total:
        raise http.client.IncompleteRead(b"", total - received)


def _pump(read, out, check, watch, url, max_bytes, window, bar, desc) -> int:
    received = 0
    while True:
        try:
            block = read(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            if watch.tripped or _timed_out(exc):
                raise _stalled(url, window) from None
            raise
        if watch.tripped:
            raise _stalled(url, window)
        if not block:
            return received
        received += len(block)
        if received > max_bytes:
            raise SizeLimitError(f"{url}: the body is larger than the {max_bytes} bytes expected of {desc}; "
                                 f"stopped there")
        watch.received = received
        try:
            out.write(block)
        except OSError as exc:
            raise CacheWriteError(f"cannot write {desc} into {os.path.dirname(out.name)}: "
                                  f"{exc.strerror or exc}") from None
        check.update(block)
        bar.update(len(block))


class _NoCheck:
    def update(self, block):
        pass

    def finish(self):
        pass


# ------------------------------------------------------------------------------ mirrors
def _permanent(exc) -> bool:
    """True for failures a retry of the same URL cannot fix."""
    if isinstance(exc, DataError):
        return True  # bad content, a body past its cap, a stalled transfer
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code < 500 and exc.code not in (408, 429)
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, socket.gaierror):  # the host name does not resolve (offline)
            return True
        if isinstance(exc.reason, str):
            return "unknown url type" in exc.reason
    return isinstance(exc, ValueError)  # e.g. a malformed URL


def download_file(urls, dest, make_check=None, *, max_bytes=None, progress=True, timeout=None,
                  retries=None, backoff=None):
    """Fetch the first URL of ``urls`` that works, check it as it streams, move it to ``dest``.

    ``make_check(url)`` returns a fresh check per attempt: an object with ``update(block)``
    and ``finish()``, which raises (typically :class:`~minidl.data.errors.ChecksumError`)
    when the content is wrong; then nothing is kept and the next mirror is tried.
    ``max_bytes``: the size cap (default :data:`UNKNOWN_SIZE_CAP`); ``timeout``: the window
    (default ``$MINIDL_DOWNLOAD_TIMEOUT`` or :data:`TIMEOUT`).  Returns the URL that worked.
    Raises :class:`DownloadError` listing every mirror's failure when none works.
    """
    urls = order_mirrors(urls)
    if not urls:
        raise ValueError("download_file: urls must name at least one mirror, got none")
    window = download_window(timeout)
    max_bytes = UNKNOWN_SIZE_CAP if max_bytes is None else int(max_bytes)
    retries = RETRIES if retries is None else int(retries)
    backoff = BACKOFF if backoff is None else float(backoff)
    if retries < 0:
        raise ValueError(f"download_file: retries must be >= 0, got {retries}")
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheWriteError(f"cannot create the folder {dest.parent}: {exc.strerror or exc}") from None
    fileio.remove_stale_temporaries(dest.parent)  # left by a process killed mid-download
    failures = []
    for url in urls:
        for attempt in range(retries + 1):
            check = make_check(url) if make_check is not None else _NoCheck()
            try:
                _attempt(url, dest, check, max_bytes=max_bytes, window=window, progress=progress)
            except (MemoryError, CacheWriteError) as exc:  # no other mirror can help
                failures.append((url, exc))
                raise DownloadError(_summary(dest, failures), failures) from None
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                failures.append((url, exc))
                if _permanent(exc) or attempt == retries:
                    break
                time.sleep(backoff * (attempt + 1))
                continue
            return url
    raise DownloadError(_summary(dest, failures), failures)


def _attempt(url, dest, check, *, max_bytes, window, progress):
    stage = "open"
    try:
        with fileio.atomic_writer(dest, "wb") as out:  # a failure removes the temporary file
            stage = "transfer"
            _transfer(url, out, check, max_bytes=max_bytes, window=window, progress=progress, desc=dest.name)
            check.finish()
            stage = "commit"
    except OSError as exc:
        if stage == "transfer":
            raise
        raise CacheWriteError(f"cannot write {dest.name} into {dest.parent}: {exc.strerror or exc}") from None


def _summary(dest, failures) -> str:
    lines = []
    for url, exc in failures:  # one line per mirror and distinct failure
        said = _describe(exc)
        line = f"  {url}: {said[len(url) + 2:] if said.startswith(url + ': ') else said}"
        if lines and lines[-1][0] == line:
            lines[-1][1] += 1
        else:
            lines.append([line, 1])
    text = "\n".join(line + (f" ({k} attempts)" if k > 1 else "") for line, k in lines)
    return f"could not download {Path(dest).name} from any mirror:\n{text}"


def _describe(exc) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"transfer cut short ({exc.expected} bytes missing)"
    if isinstance(exc, DataError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
