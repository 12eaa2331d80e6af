"""The errors of minidl.data, in one place so that every module raises the same classes.

Every error about a file names the file (or the URL) and says what was expected and what
was found, in one line where it can.  The ones a user causes by what they give (a bad file,
a bad folder, a bad variable) are ``ValueError`` subclasses, so the ``minidl`` command
reports them in one line without a traceback.
"""
from __future__ import annotations

__all__ = [
    "DataError", "ChecksumError", "SizeLimitError", "StalledDownloadError",
    "DatasetNotFoundError", "DownloadError",
]


class DataError(ValueError):
    """A data file or folder cannot be used as it is: the message names it and says why
    (unreadable, a directory, a symbolic link loop, empty, not this file...)."""


class ChecksumError(DataError):
    """A file's content does not have the published checksum (corrupt, truncated or wrong)."""


class SizeLimitError(DataError):
    """A file or a download is larger than it can be: a body past its size cap, or a gzip
    stream that decompresses past its expected size (a corrupt file or a gzip bomb).
    Reading stopped at the cap; nothing past it was kept."""


class StalledDownloadError(DataError):
    """A mirror sent less than the minimum in one window of ``MINIDL_DOWNLOAD_TIMEOUT``
    seconds (a stalled or trickling transfer); the transfer was abandoned."""


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are nowhere to be found and could not be downloaded."""


class DownloadError(RuntimeError):
    """Every mirror failed; ``failures`` holds ``(url, exception)`` pairs in the order tried."""

    def __init__(self, message, failures):
        super().__init__(message)
        self.failures = list(failures)
