"""Reading a checkpoint file as untrusted input: ``read_checkpoint(path) -> (meta, arrays)``.

Every way a file can fail to be a checkpoint is one ``CheckpointError`` (a ValueError)
that names the path and the first thing wrong: a folder, a symlink loop or a link to a
missing file, no permission, not a regular file, an empty file, a single ``.npy`` array,
a file that is not a zip archive, a truncated or damaged archive, an entry that is not a
``.npy`` array, a compressed entry, an array of Python objects or of a non-number dtype,
an array whose header promises more bytes than the entry holds, missing or unreadable
metadata, another format or version.  Only a path where nothing exists raises
FileNotFoundError.

What is read into memory is bounded by the file's size: entries must be stored
uncompressed (as ``numpy.savez``, which ``save_checkpoint`` uses, writes them), and each
array's header is checked against its entry's size before the array is read.  No numpy
message about ``allow_pickle`` ever reaches the user: object arrays are refused from
their header, before numpy sees them.
"""
from __future__ import annotations

import json
import math
import os
import stat
import zipfile
import zlib

from minidl import backend as B

FORMAT = "minidl-checkpoint"
VERSION = 1
META_KEY = "__meta__"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"

#: what reading a damaged archive can raise, besides OSError (zipfile and numpy's reader)
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError,
                NotImplementedError, OverflowError)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the path and what is wrong."""


def fail(path, message) -> CheckpointError:
    return CheckpointError(f"load_checkpoint: {path} {message}")


def _reason(exc) -> str:
    text = str(exc) or type(exc).__name__
    if "pickle" in text:   # numpy suggesting allow_pickle=True: never passed on
        return "it holds pickled Python objects, which a checkpoint never does"
    return text


def _open(path):
    """The file at ``path``, opened for reading, after checking that it is a non-empty regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise fail(path, "is a symbolic link to a missing file") from None
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path} (nothing exists there)") from None
    except OSError as exc:   # a symlink loop, a folder that may not be entered, a name too long...
        raise fail(path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(path, "is a folder, not a checkpoint file")
    if not stat.S_ISREG(info.st_mode):
        raise fail(path, "is not a regular file")
    if info.st_size == 0:
        raise fail(path, "is empty (0 bytes); not a checkpoint")
    try:
        return open(path, "rb")
    except OSError as exc:   # no permission
        raise fail(path, f"cannot be read ({exc.strerror or exc})") from None


def _array_header(path, zf, entry):
    """(shape, dtype) of an entry's .npy header, checked to be numbers that fit in the entry."""
    name = entry.filename
    with zf.open(entry) as member:
        version = B.np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = B.np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = B.np.lib.format.read_array_header_2_0(member)
        else:
            raise fail(path, f"is not a readable .npz checkpoint: entry {name!r} is a .npy array of format "
                             f"version {version}, which checkpoints do not use")
    if dtype.hasobject or dtype.kind not in "biuf":
        raise fail(path, f"is not a readable .npz checkpoint: entry {name!r} holds "
                         f"{'Python objects' if dtype.hasobject else dtype} (a checkpoint holds only arrays of numbers)")
    if math.prod(shape) * dtype.itemsize > entry.file_size:
        raise fail(path, f"is not a readable .npz checkpoint: entry {name!r} declares a {dtype} array of "
                         f"shape {shape} but holds only {entry.file_size} bytes (truncated or damaged)")
    return shape, dtype


def _read_entry(path, zf, entry):
    name = entry.filename
    if not name.endswith(".npy"):
        raise fail(path, f"is not a minidl checkpoint: entry {name!r} is not a .npy array")
    if entry.compress_type != zipfile.ZIP_STORED or entry.file_size != entry.compress_size:
        raise fail(path, f"is not a readable .npz checkpoint: entry {name!r} is compressed; checkpoints are "
                         "written uncompressed (numpy.savez), so that their size on disk bounds what loading reads")
    try:
        _array_header(path, zf, entry)
        with zf.open(entry) as member:
            return B.np.lib.format.read_array(member, allow_pickle=False)
    except CheckpointError:
        raise
    except _READ_ERRORS as exc:
        raise fail(path, f"is not a readable .npz checkpoint: entry {name!r} is truncated or damaged "
                         f"({_reason(exc)})") from None


def _read_arrays(path) -> dict:
    with _open(path) as fh:
        head = fh.read(len(NPY_MAGIC))
        fh.seek(0)
        if head.startswith(NPY_MAGIC):
            raise fail(path, "is a single .npy array (numpy.save), not a .npz checkpoint")
        if not head.startswith(ZIP_MAGIC):
            raise fail(path, "is not a readable .npz checkpoint (not a zip archive)")
        try:
            zf = zipfile.ZipFile(fh)
        except _READ_ERRORS as exc:
            raise fail(path, f"is not a readable .npz checkpoint: truncated or damaged, not a readable zip archive "
                             f"({_reason(exc)})") from None
        with zf:
            arrays = {}
            for entry in zf.infolist():
                key = entry.filename[:-len(".npy")]
                if key in arrays:
                    raise fail(path, f"is not a readable .npz checkpoint: entry {entry.filename!r} appears twice")
                arrays[key] = _read_entry(path, zf, entry)
    return arrays


def _decode_meta(path, raw) -> dict:
    if raw.dtype != B.np.uint8 or raw.ndim != 1:
        raise fail(path, f"has unreadable metadata: its {META_KEY!r} entry is not UTF-8 bytes "
                         f"(dtype {raw.dtype}, shape {raw.shape})")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise fail(path, f"has unreadable metadata ({type(exc).__name__}: {exc})"[:300]) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise fail(path, "is not a minidl checkpoint (format tag missing)")
    if meta.get("version") != VERSION:
        raise fail(path, f"has format version {meta.get('version')!r}, this minidl reads version {VERSION}")
    return meta


def read_checkpoint(path):
    """``(meta, arrays)`` of a checkpoint file, checked to be one; restores nothing.

    ``meta``: the JSON metadata (format and version checked); ``arrays``: every other
    entry, name -> numpy array.  The rest of the metadata is checked by ``load_checkpoint``.
    """
    path = os.fspath(path)
    arrays = _read_arrays(path)
    if META_KEY not in arrays:
        raise fail(path, f"holds no {META_KEY!r} entry; not a minidl checkpoint")
    return _decode_meta(path, arrays.pop(META_KEY)), arrays
