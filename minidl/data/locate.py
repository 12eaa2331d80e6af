"""Finding a data file: the cache folder, and what is at a path where a data file should be.

:func:`find_file` looks for ``<name>.gz`` then ``<name>`` in a folder.  What is there is
said as it is: a missing file is ``None`` (the search goes on), but a directory, a
symbolic link loop, a broken symbolic link, a device or pipe, or a path that cannot be
looked at (permission denied) is a one-line :class:`~minidl.data.errors.DataError` naming
the path: none of them is "a folder that lacks the file".
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from minidl.data.errors import DataError

__all__ = ["cache_dir", "probe", "find_file", "check_folder"]


def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/minidl/<name>`` when XDG_CACHE_HOME is set (absolute), else ``~/.cache/minidl/<name>``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "minidl" / name


def _stat(path, what: str):
    """``os.stat(path)``, None when nothing is there; a path that cannot be looked at raises."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            raise DataError(f"{path} is a broken symbolic link (to {os.readlink(path)}), not {what}") from None
        return None
    except PermissionError:
        raise DataError(f"{path}: cannot look at it: permission denied (on it or a folder above it)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{path} is a symbolic link loop, not {what}") from None
        raise DataError(f"{path}: cannot look at it: {exc.strerror or exc}") from None


def check_folder(path, what: str = "a folder") -> bool:
    """True when ``path`` is a folder, False when nothing is there; anything else raises
    :class:`DataError` saying what is there instead."""
    st = _stat(os.fspath(path), what)
    if st is None:
        return False
    if not stat.S_ISDIR(st.st_mode):
        kind = "a file" if stat.S_ISREG(st.st_mode) else "not a folder"
        raise DataError(f"{os.fspath(path)} is {kind}, not {what}")
    return True


def probe(path, what: str = "a data file") -> bool:
    """True when ``path`` is a regular file (or a link to one), False when nothing is there;
    anything else raises :class:`DataError` saying what is there instead of ``what``."""
    path = os.fspath(path)
    st = _stat(path, what)
    if st is None:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path} is a directory, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path} is not a regular file (a device, a pipe or a socket), not {what}")
    return True


def find_file(folder, name: str, what: str | None = None):
    """``folder/<name>.gz`` or ``folder/<name>``, the first that is a file, else None (see :func:`probe`)."""
    what = what or f"the file {name}[.gz]"
    for candidate in (Path(folder) / (name + ".gz"), Path(folder) / name):
        if probe(candidate, what):
            return candidate
    return None
