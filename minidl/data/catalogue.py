"""The catalogue of named data sets: their files, the published checksums and sizes, their mirrors.

Each :class:`FileSpec` says how one file is verified and how large it may be:

* **MNIST**: the sha256 of the *uncompressed* IDX content must equal the published value
  (so a gzip or a raw file both pass, however the gzip was made).
* **Fashion-MNIST**: Zalando publishes MD5 checksums of the four ``.gz`` files; no
  published sha256 of the uncompressed files could be found.  So a Fashion-MNIST file must
  be the original ``.gz`` and its MD5 must match; an uncompressed Fashion-MNIST file is
  refused, since nothing published can vouch for it.

Sizes bound every read (see :mod:`minidl.data.reader` and :mod:`minidl.data.download`):
``size`` is the exact uncompressed size (16 header bytes + N x 28 x 28 for images, 8 + N for
labels), the cap of any decompression; ``gz_size`` is the size of the published ``.gz``
(the files served by the mirrors below; MNIST's as served by the PyTorch and CVDF mirrors,
Fashion-MNIST's as Zalando's and Keras's mirrors serve them), from which the download cap
is made (:func:`minidl.data.download.size_cap`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "FileSpec", "DatasetSpec", "MNIST", "FASHION_MNIST", "DATASETS", "SPLITS", "IMAGE_SHAPE",
    "available_datasets", "canonical_name",
]

SPLITS = ("train", "test")
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class FileSpec:
    """One IDX file: its standard name (without .gz), how it is verified and its sizes."""

    name: str
    sha256: str | None = None   # of the uncompressed content
    gz_md5: str | None = None   # of the .gz file itself (Fashion-MNIST's published checksums)
    size: int | None = None     # uncompressed bytes, exact
    gz_size: int | None = None  # bytes of the published .gz


def images_file(name: str, count: int, *, gz_size: int, **checksum) -> FileSpec:
    """An image file of ``count`` 28 x 28 uint8 images: 16 header bytes then the pixels."""
    return FileSpec(name, size=16 + count * IMAGE_SHAPE[0] * IMAGE_SHAPE[1], gz_size=gz_size, **checksum)


def labels_file(name: str, count: int, *, gz_size: int, **checksum) -> FileSpec:
    """A label file of ``count`` uint8 labels: 8 header bytes then the labels."""
    return FileSpec(name, size=8 + count, gz_size=gz_size, **checksum)


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
        "train": (images_file("train-images-idx3-ubyte", 60_000, gz_size=9_912_422,
                              sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
                  labels_file("train-labels-idx1-ubyte", 60_000, gz_size=28_881,
                              sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")),
        "test": (images_file("t10k-images-idx3-ubyte", 10_000, gz_size=1_648_877,
                             sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
                 labels_file("t10k-labels-idx1-ubyte", 10_000, gz_size=4_542,
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
        "train": (images_file("train-images-idx3-ubyte", 60_000, gz_size=26_421_880,
                              gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                  labels_file("train-labels-idx1-ubyte", 60_000, gz_size=29_515,
                              gz_md5="25c81989df183df01b3e8a0aad5dffbe")),
        "test": (images_file("t10k-images-idx3-ubyte", 10_000, gz_size=4_422_102,
                             gz_md5="bef4ecab320f06d8554ea6380940ec79"),
                 labels_file("t10k-labels-idx1-ubyte", 10_000, gz_size=5_148,
                             gz_md5="bb300cfdad3c16e7a12a480ee83cd310")),
    },
    sizes={"train": 60_000, "test": 10_000},
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist"}

#: Names that are not catalogue entries: the embedded set and any folder of IDX files.
GENERATED = "synthetic"
ANY_IDX = "idx"


def canonical_name(name: str) -> str:
    """``name`` lower-cased, with the aliases of Fashion-MNIST resolved."""
    key = name.lower()
    return _ALIASES.get(key, key)


def available_datasets():
    """The names ``load_dataset`` accepts."""
    return sorted(DATASETS) + [ANY_IDX, GENERATED]
