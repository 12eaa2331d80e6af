"""Writing files so that a crash never leaves a torn one: the one ``atomic_write`` of minidl.

A file is written to a temporary file in the same folder (named ``.<name>.<random>.tmp``),
flushed and fsync'ed, then renamed over its path with ``os.replace`` (atomic on POSIX and
Windows), and the folder is fsync'ed where the platform allows it.  A process killed at any
moment leaves either the old file or the new one.  A failed write removes its temporary file;
one killed mid-write leaves it, and :func:`remove_stale_temporaries` clears such files.

This module imports no array library.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time

__all__ = ["atomic_write", "atomic_writer", "remove_stale_temporaries", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError, AttributeError):   # not every platform opens a folder
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path, mode: str = "wb", exclusive: bool = False):
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``.

    ``mode``: ``"wb"`` (bytes) or ``"w"`` (UTF-8 text).  ``exclusive``: never replace an
    existing file; if ``path`` already exists when the write finishes, ``FileExistsError``
    is raised and the existing file is kept (``os.link``, atomic, where the file system
    has hard links; else a check just before the rename).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode())          # mkstemp makes it 0600; a written file gets the umask's mode
        if exclusive:
            _link_exclusive(tmp, path)
        else:
            os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _default_mode() -> int:
    """0o666 less the process's umask (read from /proc where it can be: os.umask can only
    read it by setting it, which would race with other threads)."""
    try:
        with open("/proc/self/status") as fh:
            umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _link_exclusive(tmp: str, path: str) -> None:
    try:
        os.link(tmp, path)                       # fails with FileExistsError if path exists
    except FileExistsError:
        raise
    except OSError:                              # no hard links here: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(f"{path} already exists") from None
        os.replace(tmp, path)


def atomic_write(path, data, exclusive: bool = False) -> None:
    """Write ``data`` (``bytes`` or ``str``, written as UTF-8) to ``path`` atomically."""
    mode = "w" if isinstance(data, str) else "wb"
    with atomic_writer(path, mode, exclusive=exclusive) as fh:
        fh.write(data)


def remove_stale_temporaries(directory, older_than: float = 3600.0) -> list:
    """Delete this module's temporary files (``.<name>.<random>.tmp``) in ``directory`` that
    have not been modified for ``older_than`` seconds (a write in progress is younger);
    returns the paths removed."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime >= older_than:
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed
