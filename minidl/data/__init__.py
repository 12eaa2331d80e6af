"""Data: named data sets (mnist, fashion-mnist, any IDX folder, synthetic), batching, validation splits.

    from minidl.data import load_dataset, DataLoader
    train = load_dataset("mnist", "train")          # or "fashion-mnist", "synthetic", "idx"
    train, val = train.split_validation()           # the last 10,000 held out
    for x, y in DataLoader(train, batch_size=128, seed=0):
        ...                                         # x float [0, 1] (N, 1, 28, 28), y int64

The modules, from the bottom up: ``errors``; ``idx``: the IDX format; ``reader``: reading a
file (gzip or raw) in a stream within a size cap; ``dataset``: ArrayDataset and the
validation split; ``catalogue``: the named sets, their checksums and sizes; ``locate``:
finding a file, the cache folder; ``verify``: checking a file against the catalogue;
``download``: mirrors, bounded transfers, retries; ``idx_folder``: any folder of IDX files;
``sources``: ``load_dataset`` and ``fingerprint``; ``synthetic``: the embedded digit set;
``loader``: DataLoader.
"""
from minidl.data.catalogue import DATASETS, DatasetSpec, FileSpec, available_datasets
from minidl.data.dataset import ArrayDataset, default_validation_size, validation_split
from minidl.data.errors import (
    ChecksumError, DataError, DatasetNotFoundError, DownloadError, SizeLimitError, StalledDownloadError,
)
from minidl.data.idx import IDXError
from minidl.data.loader import DataLoader
from minidl.data.locate import cache_dir
from minidl.data.reader import read_idx, read_idx_images, read_idx_labels
from minidl.data.sources import fingerprint, load_dataset
from minidl.data.synthetic import synthetic_digits

__all__ = [
    "ArrayDataset", "load_dataset", "fingerprint", "available_datasets", "cache_dir", "DATASETS",
    "DatasetSpec", "FileSpec", "DataLoader", "validation_split", "default_validation_size",
    "synthetic_digits", "read_idx", "read_idx_images", "read_idx_labels",
    "DataError", "IDXError", "ChecksumError", "SizeLimitError", "StalledDownloadError",
    "DatasetNotFoundError", "DownloadError",
]
