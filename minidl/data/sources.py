"""Where a named data set comes from: ``load_dataset`` and ``fingerprint``.

Where the files of mnist and fashion-mnist come from, first match wins:

1. ``data_dir`` (the ``--data-dir`` option of the ``minidl`` command): a folder holding the
   files, directly or in a sub-folder named after the data set (``<data_dir>/mnist``).
   When it is given it must hold them: an explicit folder never falls through.
2. the ``MINIDL_DATA_DIR`` environment variable: the same kind of folder; when it lacks
   the files (or holds another data set's files under the same names) the search goes on.
3. the user cache, ``$XDG_CACHE_HOME/minidl/<dataset>`` or ``~/.cache/minidl/<dataset>``.
4. a download (``download=True``) from the public mirrors, HTTPS ones first (override them
   with ``mirrors=`` or ``MINIDL_MNIST_MIRRORS`` / ``MINIDL_FASHION_MNIST_MIRRORS``, URLs
   separated by spaces or commas), into the cache, within bounds of size and time
   (see :mod:`minidl.data.download`).

Each split needs two files with the standard names, gzip-compressed or raw
(``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``).  Wherever a file comes
from it is verified against the catalogue (:mod:`minidl.data.catalogue`) in one streamed
pass that never decompresses past the file's known size (:mod:`minidl.data.verify`); a
download is verified as it streams, before it gets its name in the cache.  Loaded sets are
cached in memory per process (keyed by file, size and mtime) and their arrays are read-only.

``"synthetic"`` is generated (:mod:`minidl.data.synthetic`); ``"idx"`` is any folder of the
four IDX files, checked for structure only (:mod:`minidl.data.idx_folder`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from minidl import backend as B
from minidl.data import download as _download
from minidl.data import synthetic as _synthetic
from minidl.data.catalogue import (
    ANY_IDX, DATASETS, GENERATED, SPLITS, DatasetSpec, available_datasets, canonical_name,
)
from minidl.data.dataset import ArrayDataset
from minidl.data.errors import (
    ChecksumError, DataError, DatasetNotFoundError, DownloadError, StalledDownloadError,
)
from minidl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx
from minidl.data.idx_folder import idx_fingerprint, load_idx_folder
from minidl.data.locate import cache_dir, check_folder, find_file
from minidl.data.verify import (
    DownloadCheck, digest_entry, file_digest, file_key, matches, read_verified, remembered,
)

np = B.np

__all__ = ["load_dataset", "fingerprint", "cache_dir"]

_LOADED = {}  # (name, split, file keys) -> (images, labels), read-only


# --------------------------------------------------------------------------- locations
def _what(spec: DatasetSpec, fspec) -> str:
    return f"the {spec.title} file {fspec.name}[.gz]"


def _find_split(folder: Path, spec: DatasetSpec, split: str):
    """Look in ``folder/<dataset>`` then ``folder``: ``(paths, missing, where)`` for the first
    of the two holding at least one of the split's files."""
    for where in (folder / spec.name, folder):
        paths = [find_file(where, f.name, _what(spec, f)) for f in spec.files[split]]
        if any(p is not None for p in paths):
            missing = [f.name for f, p in zip(spec.files[split], paths) if p is None]
            return paths, missing, where
    return None, [f.name for f in spec.files[split]], folder


def _local_copies(spec: DatasetSpec, split: str, data_dir):
    """``(paths, source, strict)`` of each local copy in order of precedence; an explicit
    ``data_dir`` that lacks the files raises instead of falling through."""
    if data_dir is not None:
        folder = Path(os.fspath(data_dir)).expanduser()
        if not check_folder(folder, f"a folder of the {spec.title} files (data_dir)"):
            raise DatasetNotFoundError(f"{spec.title} {split}: data_dir={str(folder)!r} does not exist")
        paths, missing, where = _find_split(folder, spec, split)
        if missing:
            raise DatasetNotFoundError(
                f"{spec.title} {split}: data_dir={str(folder)!r} lacks "
                f"{', '.join(m + '[.gz]' for m in missing)} (looked in {folder / spec.name} and {folder})")
        yield paths, f"data_dir: {where}", True
        return
    env = os.environ.get("MINIDL_DATA_DIR")
    if env:
        paths, missing, where = _find_split(Path(env).expanduser(), spec, split)
        if paths is not None and not missing:
            yield paths, f"MINIDL_DATA_DIR: {where}", False
    folder = cache_dir(spec.name)
    paths = [find_file(folder, f.name, _what(spec, f)) for f in spec.files[split]]
    if all(p is not None for p in paths):
        yield paths, f"cache: {folder}", True


def _first_good(spec, split, data_dir, check):
    """``check(paths, strict)`` on each local copy until one gives a result (not None):
    ``(result, source)``, or ``(None, None)`` when no local copy is usable."""
    for paths, source, strict in _local_copies(spec, split, data_dir):
        try:
            result = check(paths, strict)
        except DataError as exc:
            if source.startswith("cache:"):
                raise type(exc)(f"{exc}\nThe file is in the cache: delete it to download it again.") from None
            raise
        if result is not None:
            return result, source
    return None, None


# -------------------------------------------------------------------------- verification
def _other_dataset(path, spec: DatasetSpec, fspec):
    """The title of another known data set whose file of the same name ``path`` is, or None."""
    digest = remembered(path)
    if digest is None:
        return None
    for other in DATASETS.values():
        if other.name == spec.name:
            continue
        for split_files in other.files.values():
            if any(f.name == fspec.name and matches(digest, f) for f in split_files):
                return other.title
    return None


def _checked(spec, fspec, path, strict, keep):
    """The verified content (``keep``) or digest of one file; None when (not ``strict``) it is
    another data set's file of that name."""
    try:
        return read_verified(path, fspec, spec.title) if keep else file_digest(path, fspec, spec.title)
    except ChecksumError as exc:
        other = _other_dataset(path, spec, fspec)
        if other is None:
            raise
        if not strict:
            return None
        raise ChecksumError(f"{exc}\n{path} is the {other} file of that name, not the {spec.title} one.") from None


def _load_checked(spec: DatasetSpec, split: str, paths, strict):
    """The ``(images, labels)`` of verified files, or None (see :func:`_checked`)."""
    key = (spec.name, split) + tuple(file_key(p) for p in paths)
    if key not in _LOADED:
        contents = []
        for fspec, path in zip(spec.files[split], paths):
            content = _checked(spec, fspec, path, strict, keep=True)
            if content is None:
                return None
            contents.append(content)
        (img_path, lab_path) = paths
        images = parse_idx(contents[0], str(img_path), IMAGES_MAGIC)
        labels = parse_idx(contents[1], str(lab_path), LABELS_MAGIC)
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise IDXError(f"{img_path} and {lab_path}: shapes {images.shape} and {labels.shape} do not pair")
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        if len(_LOADED) > 8:
            _LOADED.clear()
        _LOADED[key] = (images, labels)
    return _LOADED[key]


# ------------------------------------------------------------------------------ loading
def _mirrors(spec: DatasetSpec, mirrors):
    if mirrors is None:
        env = os.environ.get(spec.mirrors_env, "").strip()
        mirrors = re.split(r"[\s,]+", env) if env else list(spec.mirrors)
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    mirrors = [m for m in mirrors if m]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _ways(spec: DatasetSpec, split: str, downloaded: bool = False) -> str:
    """How to supply the files; ``downloaded``: a download was just tried (and failed), so the
    advice to download is left out."""
    names = ", ".join(f"{f.name}[.gz]" for f in spec.files[split])
    return (
        f"Supply the {spec.title} {split} files ({names}) in one of three ways:\n"
        f"  1. data_dir=... (the --data-dir option of the minidl command): a folder holding them;\n"
        f"  2. the MINIDL_DATA_DIR environment variable: such a folder;\n"
        f"  3. copy them into the cache folder {cache_dir(spec.name)}"
        + ("." if downloaded else "\n(or connect to the internet and load again with download=True).")
    )


def _download_missing(spec: DatasetSpec, split: str, mirrors, progress):
    """Download the split's files missing from the cache; their paths there."""
    folder = cache_dir(spec.name)
    files = spec.files[split]
    paths = [find_file(folder, f.name, _what(spec, f)) for f in files]
    urls = _mirrors(spec, mirrors)
    if not urls:
        raise DatasetNotFoundError(f"{spec.title} {split}: files not found and no mirror to download from.\n"
                                   + _ways(spec, split))
    for i, (fspec, path) in enumerate(zip(files, paths)):
        if path is not None:
            continue
        gz_name = fspec.name + ".gz"
        magic = IMAGES_MAGIC if i == 0 else LABELS_MAGIC

        def make_check(url, fspec=fspec, magic=magic):
            return DownloadCheck(fspec, spec.title, url, magic)

        try:
            _download.download_file([u + gz_name for u in urls], folder / gz_name, make_check,
                                    max_bytes=_download.size_cap(fspec.gz_size), progress=progress)
        except DownloadError as exc:
            bad = [e for _, e in exc.failures if isinstance(e, DataError) and not isinstance(e, StalledDownloadError)]
            if bad:
                cls = ChecksumError if any(isinstance(e, (ChecksumError, IDXError)) for e in bad) else DataError
                raise cls(f"{spec.title} {split}: every download of {gz_name} failed; nothing was written to "
                          f"{folder}.\n{exc}") from None
            raise DatasetNotFoundError(f"{spec.title} {split}: the files were not found locally and {exc}\n"
                                       + _ways(spec, split, downloaded=True)) from None
        paths[i] = folder / gz_name
    return paths, f"download: {folder}"


def _load_named(spec: DatasetSpec, split, data_dir, download, progress, mirrors) -> ArrayDataset:
    arrays, source = _first_good(spec, split, data_dir, lambda paths, strict: _load_checked(spec, split, paths, strict))
    if arrays is None:
        if not download:
            raise DatasetNotFoundError(f"{spec.title} {split}: files not found and download=False.\n"
                                       + _ways(spec, split))
        paths, source = _download_missing(spec, split, mirrors, progress)
        arrays = _load_checked(spec, split, paths, strict=True)
    images, labels = arrays
    return ArrayDataset(images, labels, spec.name, num_classes=10, class_names=spec.class_names, source=source)


def _resolve(func: str, name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{func}: name must be a str, one of {available_datasets()}, got {name!r}")
    key = canonical_name(name)
    if key not in DATASETS and key not in (GENERATED, ANY_IDX):
        raise ValueError(f"{func}: unknown data set {name!r}; available: {available_datasets()}")
    return key


def load_dataset(name, split="train", data_dir=None, download=True, progress=True, *, mirrors=None):
    """An :class:`ArrayDataset` of ``"mnist"``, ``"fashion-mnist"``, ``"idx"`` or ``"synthetic"``.

    ``split`` is ``"train"`` or ``"test"``.  For the two named IDX sets the files are looked
    for in ``data_dir``, then ``$MINIDL_DATA_DIR``, then the user cache, then downloaded
    (when ``download``; ``progress`` shows a tqdm bar; ``mirrors`` replaces the mirror
    list), and verified wherever they come from (see the module docstring).  ``"idx"``
    reads any folder ``data_dir`` of the four IDX files, checked for structure only.
    ``"synthetic"`` is generated in memory (10,000 train / 2,000 test images, see
    :mod:`minidl.data.synthetic`).

    >>> ds = load_dataset("synthetic", "test")
    >>> len(ds), ds.image_shape, ds.num_classes
    (2000, (1, 28, 28), 10)
    """
    key = _resolve("load_dataset", name)
    if split not in SPLITS:
        raise ValueError(f"load_dataset: split must be one of {list(SPLITS)}, got {split!r}")
    if key == GENERATED:
        images, labels = _synthetic.synthetic_digits(_synthetic.DEFAULT_SIZES[split], _synthetic.DEFAULT_SEEDS[split])
        return ArrayDataset(images, labels, "synthetic", num_classes=10,
                            class_names=tuple(str(d) for d in range(10)), source="generated")
    if key == ANY_IDX:
        return load_idx_folder(data_dir, split)
    return _load_named(DATASETS[key], split, data_dir, download, progress, mirrors)


# -------------------------------------------------------------------------- fingerprint
def fingerprint(name, data_dir=None, *, splits=SPLITS) -> dict:
    """What identifies the data a run used, for its configuration: a JSON-ready dict.

    For a set of files (``"mnist"``, ``"fashion-mnist"``, ``"idx"``): its name and, per file
    of ``splits``, the file name as used, its size, the sha256 of the file as it is and the
    sha256 of its uncompressed content (equal for a ``.gz`` and a raw copy)::

        {"name": "mnist", "files": {"train-images-idx3-ubyte": {"file": "train-images-idx3-ubyte.gz",
                                    "bytes": ..., "sha256": "...", "content_sha256": "ba89..."}, ...}}

    The files are found as :func:`load_dataset` finds them (never downloaded) and hashed in a
    stream; each file version (path, size, mtime) is hashed once per process, so a second
    call costs a ``stat`` per file.  No paths are recorded: the same files give the same
    fingerprint wherever they are.  For ``"synthetic"``: the generator's version and
    parameters (sizes, seeds) instead.
    """
    key = _resolve("fingerprint", name)
    splits = tuple(splits)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"fingerprint: splits must be among {list(SPLITS)}, got {split!r}")
    if key == GENERATED:
        return {"name": GENERATED, "generator": "minidl.data.synthetic", "version": _synthetic.GENERATOR_VERSION,
                "image_size": _synthetic.SIZE, "sizes": {s: _synthetic.DEFAULT_SIZES[s] for s in splits},
                "seeds": {s: _synthetic.DEFAULT_SEEDS[s] for s in splits}}
    if key == ANY_IDX:
        return idx_fingerprint(data_dir, splits)
    spec = DATASETS[key]
    files = {}
    for split in splits:
        def digests(paths, strict, split=split):
            found = [_checked(spec, f, p, strict, keep=False) for f, p in zip(spec.files[split], paths)]
            return None if any(d is None for d in found) else list(zip(paths, found))

        found, _ = _first_good(spec, split, data_dir, digests)
        if found is None:
            raise DatasetNotFoundError(f"fingerprint: no local copy of the {spec.title} {split} files "
                                       f"(load_dataset downloads them into the cache).\n" + _ways(spec, split))
        for fspec, (path, digest) in zip(spec.files[split], found):
            files[fspec.name] = digest_entry(path, digest)
    return {"name": spec.name, "files": files}
