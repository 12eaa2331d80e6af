"""Any folder of the four standard IDX files as a data set: ``load_dataset("idx", split, data_dir=DIR)``.

The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzip-compressed (``.gz``)
or raw: KMNIST, EMNIST digits, a Fashion-MNIST copy whose ``.gz`` was re-compressed...
No checksum vouches for such files, so the checks are structural, and each failure is an
:class:`~minidl.data.idx.IDXError` naming the file:

* magic numbers: 2051 (uint8 images, 3 dimensions) and 2049 (uint8 labels, 1 dimension);
* dimensions: at least one image of at least 1 x 1 pixels; a split's images and labels
  equal in number; the test images of the same size as the training images;
* label range: the training labels define the classes ``0 .. max``; at least two classes,
  and every test label among them.

Reading is bounded by what each header declares (magic + dimensions give the exact size;
a gzip stream that decompresses past it is stopped there), and at most
:data:`~minidl.data.reader.MAX_IDX_BYTES` per file.  Record :func:`minidl.data.fingerprint`
with any result: it names the files by their sha256.
"""
from __future__ import annotations

import os
from pathlib import Path

from minidl import backend as B
from minidl.data.dataset import ArrayDataset
from minidl.data.errors import DatasetNotFoundError
from minidl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx
from minidl.data.locate import check_folder, find_file
from minidl.data.reader import scan_file
from minidl.data.verify import digest_entry, file_digest, file_key, remember

np = B.np

__all__ = ["IDX_FILES", "load_idx_folder", "idx_fingerprint"]

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_LOADED = {}  # (split, file keys) -> (images, labels, num_classes), read-only


def _folder(data_dir) -> Path:
    if data_dir is None:
        raise ValueError("load_dataset('idx'): data_dir must name a folder holding the four IDX files "
                         "(--data-dir DIR), got None")
    folder = Path(os.fspath(data_dir)).expanduser()
    if not check_folder(folder, "a folder of IDX files (data_dir)"):
        raise DatasetNotFoundError(f"idx: data_dir={str(folder)!r} does not exist")
    return folder


def _paths(folder: Path, split: str, required: bool = True):
    paths = [find_file(folder, name, f"the IDX file {name}[.gz]") for name in IDX_FILES[split]]
    missing = [name + "[.gz]" for name, p in zip(IDX_FILES[split], paths) if p is None]
    if missing and required:
        raise DatasetNotFoundError(f"idx {split}: {folder} lacks {', '.join(missing)}")
    return None if missing else paths


def _read(path, magic):
    result = scan_file(path, keep=True)  # capped at what the header declares
    remember(path, result)
    if result.file_bytes == 0:
        raise IDXError(f"{path}: the file is empty (0 bytes)")
    result.check_idx(magic)
    return parse_idx(result.content, os.fspath(path), magic)


def _num_classes(folder: Path, split: str, labels, labels_path) -> int:
    """The training labels define the classes; the test labels must fall among them."""
    train = _paths(folder, "train", required=False) if split == "test" else None
    if train is not None:
        train_labels, classes_from = _read(train[1], LABELS_MAGIC), train[1]
    else:
        train_labels, classes_from = labels, labels_path
    classes = int(train_labels.max()) + 1
    if classes < 2:
        raise IDXError(f"{classes_from}: every label is {classes - 1}: a classification set needs at least "
                       f"two classes")
    top = int(labels.max())
    if top >= classes:
        raise IDXError(f"{labels_path}: label {top} is outside the classes 0..{classes - 1} of the training "
                       f"labels ({classes_from})")
    return classes


def _check_image_size(folder: Path, split: str, shape, images_path) -> None:
    other = _paths(folder, "test" if split == "train" else "train", required=False)
    if other is None:
        return
    header = scan_file(other[0], header_only=True).header
    if header is not None and header.magic == IMAGES_MAGIC and tuple(header.dims[1:]) != tuple(shape[1:]):
        raise IDXError(f"{images_path}: images of {shape[1]} x {shape[2]} pixels, but {other[0]} holds images of "
                       f"{header.dims[1]} x {header.dims[2]}: both splits must have the same image size")


def load_idx_folder(data_dir, split: str) -> ArrayDataset:
    """The ``split`` ("train" or "test") of the IDX files in ``data_dir``, checked (see the module)."""
    folder = _folder(data_dir)
    images_path, labels_path = _paths(folder, split)
    key = (split,) + tuple(file_key(p) for p in (images_path, labels_path))
    if key not in _LOADED:
        images = _read(images_path, IMAGES_MAGIC)
        labels = _read(labels_path, LABELS_MAGIC)
        if min(images.shape) == 0:
            raise IDXError(f"{images_path}: images of shape {images.shape}: expected at least one image of at "
                           f"least 1 x 1 pixels")
        if labels.shape[0] != images.shape[0]:
            raise IDXError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                           f"{labels.shape[0]} labels: a split needs one label per image")
        _check_image_size(folder, split, images.shape, images_path)
        classes = _num_classes(folder, split, labels, labels_path)
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        if len(_LOADED) > 8:
            _LOADED.clear()
        _LOADED[key] = (images, labels, classes)
    images, labels, classes = _LOADED[key]
    return ArrayDataset(images, labels, "idx", num_classes=classes, source=f"idx: {folder}")


def idx_fingerprint(data_dir, splits) -> dict:
    """``{"name": "idx", "files": {name: {"file", "bytes", "sha256", "content_sha256"}}}`` of
    the folder's files for ``splits``, hashed in a stream (remembered per file version)."""
    folder = _folder(data_dir)
    files = {}
    for split in splits:
        for name, path in zip(IDX_FILES[split], _paths(folder, split)):
            files[name] = digest_entry(path, file_digest(path))
    return {"name": "idx", "files": files}
