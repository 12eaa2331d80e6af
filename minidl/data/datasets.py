"""Named data sets: ``ArrayDataset``, ``load_dataset`` for mnist, fashion-mnist and synthetic.

Where the files of mnist and fashion-mnist come from, first match wins:

1. ``data_dir`` (the ``--data-dir`` option of the ``minidl`` command): a folder holding the
   files, directly or in a sub-folder named after the data set (``<data_dir>/mnist``).
   When it is given it must hold them: an explicit folder never falls through.
2. the ``MINIDL_DATA_DIR`` environment variable: the same kind of folder; when it lacks
   the files (or holds another data set's files under the same names) the search goes on.
3. the user cache, ``$XDG_CACHE_HOME/minidl/<dataset>`` or ``~/.cache/minidl/<dataset>``.
4. a download (``download=True``) from the public mirrors, tried in turn (override them with
   ``mirrors=`` or ``MINIDL_MNIST_MIRRORS`` / ``MINIDL_FASHION_MNIST_MIRRORS``, URLs
   separated by spaces or commas), into the cache.  See :mod:`minidl.data.download`.

Each split needs two files with the standard names, gzip-compressed or raw
(``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``).

Verification (wherever a file comes from; a download is checked before it is written):

* **MNIST**: the sha256 of the *uncompressed* IDX content must equal the published value
  (so a gzip or a raw file both pass, however the gzip was made).
* **Fashion-MNIST**: Zalando publishes MD5 checksums of the four ``.gz`` files; no
  published sha256 of the uncompressed files could be found (only sha256 values of the
  ``.gz`` files circulate).  So a Fashion-MNIST file must be the original ``.gz`` and its
  MD5 must match; an uncompressed Fashion-MNIST file is refused, since nothing published
  can vouch for it.

A mismatch raises :class:`ChecksumError` naming the file, the expected and the actual
checksum; nothing is ever unpickled (IDX is decoded with ``numpy.frombuffer``).
Loaded sets are cached in memory per process (keyed by file, size and mtime) and their
arrays are read-only.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from minidl import backend as B
from minidl.data import download as _dl
from minidl.data import synthetic as _synthetic
from minidl.data.download import ChecksumError, DownloadError
from minidl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, gunzip, is_gzip, parse_idx

np = B.np

__all__ = [
    "ArrayDataset", "load_dataset", "available_datasets", "cache_dir", "DatasetSpec", "FileSpec",
    "DATASETS", "DatasetNotFoundError", "ChecksumError",
]

SPLITS = ("train", "test")


# --------------------------------------------------------------------------- ArrayDataset
class ArrayDataset:
    """Images and labels held on the host: uint8 ``(N, C, H, W)`` and int64 ``(N,)``.

    ``images`` may be given as ``(N, H, W)`` (one channel is added) or ``(N, C, H, W)``;
    ``labels`` as any integer array of length N.  ``batch(indices)`` returns the batch
    ``(x, y)`` on the active backend: x in the default float dtype scaled to [0, 1], NCHW;
    y int64.  The stored images stay uint8.
    """

    def __init__(self, images, labels, name="", *, num_classes=None, class_names=None, source=""):
        if not isinstance(images, np.ndarray):
            raise TypeError(
                f"ArrayDataset: images must be a host numpy array of uint8 (use "
                f"minidl.backend.to_numpy for device arrays), got {type(images).__name__}"
            )
        if images.dtype != np.uint8:
            raise TypeError(f"ArrayDataset: images must have dtype uint8 (0..255), got {images.dtype}")
        if images.ndim not in (3, 4):
            raise ValueError(
                f"ArrayDataset: images must be (N, H, W) or (N, C, H, W), got shape {images.shape}"
            )
        labels = np.asarray(B.to_numpy(labels)) if not isinstance(labels, np.ndarray) else labels
        if labels.ndim != 1:
            raise ValueError(f"ArrayDataset: labels must be 1-D (N,), got shape {labels.shape}")
        if labels.size and labels.dtype.kind not in "iu":
            raise TypeError(f"ArrayDataset: labels must be integers, got dtype {labels.dtype}")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"ArrayDataset: images and labels differ in length: {images.shape[0]} images, "
                f"{labels.shape[0]} labels"
            )
        if images.shape[0] == 0:
            raise ValueError("ArrayDataset: the data set is empty (0 images)")
        if int(labels.min()) < 0:
            raise ValueError(f"ArrayDataset: labels must be >= 0, got a minimum of {int(labels.min())}")
        if images.ndim == 3:
            images = images[:, None, :, :]
        if labels.dtype != np.int64:
            labels = labels.astype(np.int64)
        self.images = images
        self.labels = labels
        self.name = str(name)
        top = int(labels.max()) + 1
        if num_classes is None:
            num_classes = top
        elif num_classes < top:
            raise ValueError(f"ArrayDataset: num_classes={num_classes} but a label is {top - 1}")
        self.num_classes = int(num_classes)
        self.class_names = tuple(class_names) if class_names is not None else None
        self.source = source

    @property
    def image_shape(self):
        """``(C, H, W)``."""
        return tuple(self.images.shape[1:])

    def __len__(self):
        return self.images.shape[0]

    def __repr__(self):
        src = f", source={self.source!r}" if self.source else ""
        return (f"ArrayDataset(name={self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
                f"num_classes={self.num_classes}{src})")

    def subset(self, n_or_indices):
        """The first ``n`` samples (an int), or the samples at the given indices."""
        if isinstance(n_or_indices, (int, np.integer)) and not isinstance(n_or_indices, bool):
            n = int(n_or_indices)
            if not 1 <= n <= len(self):
                raise ValueError(f"subset: n must be in [1, {len(self)}] for {self.name or 'this set'}, got {n}")
            idx = slice(0, n)
        else:
            idx = np.asarray(n_or_indices)
            if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
                raise ValueError(
                    f"subset: expected an int or a non-empty 1-D integer index array, got "
                    f"shape {idx.shape} dtype {idx.dtype}"
                )
            if int(idx.min()) < -len(self) or int(idx.max()) >= len(self):
                raise ValueError(f"subset: indices must be in [0, {len(self) - 1}], got {int(idx.min())}..{int(idx.max())}")
        return ArrayDataset(self.images[idx], self.labels[idx], self.name, num_classes=self.num_classes,
                            class_names=self.class_names, source=self.source)

    def batch(self, indices, dtype=None):
        """``(x, y)`` for ``indices`` (a slice or integer indices), on the active backend.

        x: ``(n, C, H, W)`` in ``dtype`` (default: ``B.get_default_dtype()``) scaled to [0, 1];
        y: int64 ``(n,)``.  The batch is gathered and converted on the host straight into one
        float array (no uint8 copy of the batch), then moved with one ``B.asarray`` each.
        """
        dtype = B.get_default_dtype() if dtype is None else dtype
        if isinstance(indices, slice):
            src = self.images[indices]  # a view
            x = src.astype(dtype)
            y = self.labels[indices].copy()
        else:
            idx = np.asarray(B.to_numpy(indices))
            if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
                raise ValueError(f"batch: indices must be a 1-D integer array or a slice, got shape "
                                 f"{idx.shape} dtype {idx.dtype}")
            x = np.empty((idx.shape[0],) + self.image_shape, dtype=dtype)
            step = 4096  # gather in pieces: the only full-size array is x itself
            for start in range(0, idx.shape[0], step):
                x[start:start + step] = self.images[idx[start:start + step]]
            y = self.labels[idx]
        x /= 255  # exact at 0 and 255
        return B.asarray(x), B.asarray(y)


# ----------------------------------------------------------------------- specifications
@dataclass(frozen=True)
class FileSpec:
    """One IDX file: its standard name (without .gz) and how it is verified."""

    name: str
    sha256: str | None = None  # of the uncompressed content
    gz_md5: str | None = None  # of the .gz file itself (Fashion-MNIST's published checksums)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    files: dict  # split -> (images FileSpec, labels FileSpec)
    sizes: dict  # split -> number of samples
    mirrors: tuple
    class_names: tuple = ()

    @property
    def mirrors_env(self):
        return "MINIDL_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper()) + "_MIRRORS"


# The published sha256 of the uncompressed MNIST files (also in shared/data/mnist/SHA256SUMS).
MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    files={
        "train": (FileSpec("train-images-idx3-ubyte",
                           sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
                  FileSpec("train-labels-idx1-ubyte",
                           sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")),
        "test": (FileSpec("t10k-images-idx3-ubyte",
                          sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
                 FileSpec("t10k-labels-idx1-ubyte",
                          sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")),
    },
    sizes={"train": 60_000, "test": 10_000},
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=tuple(str(d) for d in range(10)),
)

# Zalando's published MD5 checksums of the four .gz files (github.com/zalandoresearch/fashion-mnist).
FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files={
        "train": (FileSpec("train-images-idx3-ubyte", gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                  FileSpec("train-labels-idx1-ubyte", gz_md5="25c81989df183df01b3e8a0aad5dffbe")),
        "test": (FileSpec("t10k-images-idx3-ubyte", gz_md5="bef4ecab320f06d8554ea6380940ec79"),
                 FileSpec("t10k-labels-idx1-ubyte", gz_md5="bb300cfdad3c16e7a12a480ee83cd310")),
    },
    sizes={"train": 60_000, "test": 10_000},
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist"}


def available_datasets():
    """The names ``load_dataset`` accepts."""
    return sorted(DATASETS) + ["synthetic"]


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are nowhere to be found and could not be downloaded."""


# --------------------------------------------------------------------------- locations
def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/minidl/<name>`` when XDG_CACHE_HOME is set (absolute), else ``~/.cache/minidl/<name>``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "minidl" / name


def _find_file(folder: Path, fspec: FileSpec):
    """``folder/<name>.gz`` or ``folder/<name>``, whichever exists first, else None."""
    for candidate in (folder / (fspec.name + ".gz"), folder / fspec.name):
        if candidate.is_file():
            return candidate
    return None


def _find_split(folder: Path, spec: DatasetSpec, split: str):
    """Look in ``folder/<dataset>`` then ``folder``: ``(paths, missing, where)`` for the first
    of the two holding at least one of the split's files."""
    for where in (folder / spec.name, folder):
        paths = [_find_file(where, f) for f in spec.files[split]]
        if any(p is not None for p in paths):
            missing = [f.name for f, p in zip(spec.files[split], paths) if p is None]
            return paths, missing, where
    return None, [f.name for f in spec.files[split]], folder


# -------------------------------------------------------------------------- verification
_VERIFIED = {}  # (path, size, mtime_ns) -> uncompressed content already checked


def _check_content(raw: bytes, fspec: FileSpec, label: str, title: str) -> bytes:
    """Verify one file's bytes against ``fspec``; returns the uncompressed content."""
    if fspec.gz_md5 is not None:
        if not is_gzip(raw):
            raise ChecksumError(
                f"{label}: an uncompressed {title} file cannot be verified: only the MD5 of the "
                f"original {fspec.name}.gz is published ({fspec.gz_md5}). Put the original .gz file there."
            )
        actual = hashlib.md5(raw).hexdigest()
        if actual != fspec.gz_md5:
            raise ChecksumError(
                f"{label}: md5 mismatch for {title} {fspec.name}.gz: expected {fspec.gz_md5}, "
                f"actual {actual} (the file is corrupt, truncated or not this file)"
            )
        content, problem = gunzip(raw)
        if problem is not None:  # pragma: no cover - the md5 matched the published file
            raise IDXError(f"{label}: {problem}")
        return content
    problem = None
    content = raw
    if is_gzip(raw):
        content, problem = gunzip(raw)
    actual = hashlib.sha256(content).hexdigest()
    if problem is not None or actual != fspec.sha256:
        extra = f"; {problem}" if problem else ""
        raise ChecksumError(
            f"{label}: sha256 mismatch for {title} {fspec.name} (of the uncompressed content): "
            f"expected {fspec.sha256}, actual {actual}{extra} (the file is corrupt, truncated or "
            f"not this file)"
        )
    return content


def _verified_content(path: Path, fspec: FileSpec, title: str) -> bytes:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        content = _check_content(path.read_bytes(), fspec, str(path), title)
        if len(_VERIFIED) > 16:
            _VERIFIED.clear()
        _VERIFIED[key] = content
    return _VERIFIED[key]


def _other_dataset_file(path: Path, spec: DatasetSpec, fspec: FileSpec):
    """The title of another known data set whose file of the same name ``path`` is, or None."""
    raw = path.read_bytes()
    for other in DATASETS.values():
        if other.name == spec.name:
            continue
        for split_files in other.files.values():
            for f in split_files:
                if f.name == fspec.name:
                    try:
                        _check_content(raw, f, str(path), other.title)
                    except (ChecksumError, IDXError):
                        continue
                    return other.title
    return None


_LOADED = {}  # (name, split, file keys) -> (images, labels), read-only


def _load_files(spec: DatasetSpec, split: str, paths, source: str) -> ArrayDataset:
    key = (spec.name, split) + tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if key not in _LOADED:
        (img_spec, lab_spec), (img_path, lab_path) = spec.files[split], paths
        images = parse_idx(_verified_content(img_path, img_spec, spec.title), str(img_path), IMAGES_MAGIC)
        labels = parse_idx(_verified_content(lab_path, lab_spec, spec.title), str(lab_path), LABELS_MAGIC)
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise IDXError(f"{img_path} and {lab_path}: shapes {images.shape} and {labels.shape} do not pair")
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        if len(_LOADED) > 8:
            _LOADED.clear()
        _LOADED[key] = (images, labels)
    images, labels = _LOADED[key]
    return ArrayDataset(images, labels, spec.name, num_classes=10, class_names=spec.class_names, source=source)


# ------------------------------------------------------------------------------ loading
def _mirrors(spec: DatasetSpec, mirrors):
    if mirrors is None:
        env = os.environ.get(spec.mirrors_env, "").strip()
        mirrors = re.split(r"[\s,]+", env) if env else list(spec.mirrors)
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    mirrors = [m for m in mirrors if m]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _ways(spec: DatasetSpec, split: str) -> str:
    names = ", ".join(f"{f.name}[.gz]" for f in spec.files[split])
    return (
        f"Supply the {spec.title} {split} files ({names}) in one of three ways:\n"
        f"  1. data_dir=... (the --data-dir option of the minidl command): a folder holding them;\n"
        f"  2. the MINIDL_DATA_DIR environment variable: such a folder;\n"
        f"  3. copy them into the cache folder {cache_dir(spec.name)}\n"
        f"(or connect to the internet and load again with download=True)."
    )


def _load_named(spec, split, data_dir, download, progress, mirrors):
    files = spec.files[split]
    # 1. an explicit folder: must hold the files
    if data_dir is not None:
        folder = Path(os.fspath(data_dir)).expanduser()
        paths, missing, where = _find_split(folder, spec, split)
        if missing:
            raise DatasetNotFoundError(
                f"{spec.title} {split}: data_dir={str(folder)!r} lacks "
                f"{', '.join(m + '[.gz]' for m in missing)} (looked in {folder / spec.name} and {folder})"
            )
        return _load_checked(spec, split, paths, f"data_dir: {where}", strict=True)
    # 2. MINIDL_DATA_DIR: used when it holds this data set's files
    env = os.environ.get("MINIDL_DATA_DIR")
    if env:
        folder = Path(env).expanduser()
        paths, missing, where = _find_split(folder, spec, split)
        if paths is not None and not missing:
            ds = _load_checked(spec, split, paths, f"MINIDL_DATA_DIR: {where}", strict=False)
            if ds is not None:
                return ds
    # 3. the cache, 4. a download into it
    folder = cache_dir(spec.name)
    paths = [_find_file(folder, f) for f in files]
    if all(p is not None for p in paths):
        try:
            return _load_checked(spec, split, paths, f"cache: {folder}", strict=True)
        except ChecksumError as exc:
            raise ChecksumError(f"{exc}\nThe file is in the cache: delete it to download it again.") from None
    if not download:
        raise DatasetNotFoundError(f"{spec.title} {split}: files not found and download=False.\n" + _ways(spec, split))
    urls = _mirrors(spec, mirrors)
    if not urls:
        raise DatasetNotFoundError(f"{spec.title} {split}: files not found and no mirror to download from.\n"
                                   + _ways(spec, split))
    for i, (fspec, path) in enumerate(zip(files, paths)):
        if path is not None:
            continue
        gz_name = fspec.name + ".gz"
        dest = folder / gz_name
        magic = IMAGES_MAGIC if i == 0 else LABELS_MAGIC

        def check(data, fspec=fspec, gz_name=gz_name, magic=magic):  # before anything is written
            content = _check_content(data, fspec, f"download of {gz_name}", spec.title)
            parse_idx(content, gz_name, magic)

        try:
            _dl.download_file([u + gz_name for u in urls], dest, check, progress=progress)
        except DownloadError as exc:
            bad = [e for _, e in exc.failures if isinstance(e, (ChecksumError, IDXError))]
            if bad:
                raise ChecksumError(
                    f"{spec.title} {split}: every download of {gz_name} failed; nothing was written to "
                    f"{folder}.\n{exc}"
                ) from None
            raise DatasetNotFoundError(f"{spec.title} {split}: the files were not found locally and {exc}\n"
                                       + _ways(spec, split)) from None
        paths[i] = dest
    return _load_checked(spec, split, paths, f"download: {folder}", strict=True)


def _load_checked(spec, split, paths, source, strict):
    """Load verified files; with ``strict=False`` (MINIDL_DATA_DIR) another data set's files
    under the same names are skipped (None is returned) instead of raising."""
    for fspec, path in zip(spec.files[split], paths):
        try:
            _verified_content(path, fspec, spec.title)
        except ChecksumError as exc:
            other = _other_dataset_file(path, spec, fspec)
            if other is None:
                raise
            if not strict:
                return None
            raise ChecksumError(f"{exc}\n{path} is the {other} file of that name, "
                                f"not the {spec.title} one.") from None
    return _load_files(spec, split, paths, source)


def load_dataset(name, split="train", data_dir=None, download=True, progress=True, *, mirrors=None):
    """An :class:`ArrayDataset` of ``"mnist"``, ``"fashion-mnist"`` or ``"synthetic"``.

    ``split`` is ``"train"`` or ``"test"``.  For the two IDX sets the files are looked for in
    ``data_dir``, then ``$MINIDL_DATA_DIR``, then the user cache, then downloaded (when
    ``download``; ``progress`` shows a tqdm bar; ``mirrors`` replaces the mirror list), and
    verified wherever they come from (see the module docstring).  ``"synthetic"`` is
    generated in memory (10,000 train / 2,000 test images, see :mod:`minidl.data.synthetic`).

    >>> ds = load_dataset("synthetic", "test")
    >>> len(ds), ds.image_shape, ds.num_classes
    (2000, (1, 28, 28), 10)
    """
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a str, one of {available_datasets()}, got {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    if split not in SPLITS:
        raise ValueError(f"load_dataset: split must be one of {list(SPLITS)}, got {split!r}")
    if key == "synthetic":
        images, labels = _synthetic.synthetic_digits(_synthetic.DEFAULT_SIZES[split], _synthetic.DEFAULT_SEEDS[split])
        return ArrayDataset(images, labels, "synthetic", num_classes=10,
                            class_names=tuple(str(d) for d in range(10)), source="generated")
    if key not in DATASETS:
        raise ValueError(f"load_dataset: unknown data set {name!r}; available: {available_datasets()}")
    return _load_named(DATASETS[key], split, data_dir, download, progress, mirrors)
