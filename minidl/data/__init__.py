"""Data: the IDX reader, named data sets (mnist, fashion-mnist, synthetic) and batching.

    from minidl.data import load_dataset, DataLoader
    train = load_dataset("mnist", "train")          # or "fashion-mnist", "synthetic"
    for x, y in DataLoader(train, batch_size=128, seed=0):
        ...                                         # x float [0, 1] (N, 1, 28, 28), y int64

``idx``: the IDX format; ``datasets``: ArrayDataset, where files come from and how they are
verified; ``download``: mirrors, retries, atomic writes; ``synthetic``: the embedded digit
set; ``loader``: DataLoader.
"""
from minidl.data.datasets import (
    DATASETS, ArrayDataset, ChecksumError, DatasetNotFoundError, available_datasets, cache_dir, load_dataset,
)
from minidl.data.download import DownloadError
from minidl.data.idx import IDXError, read_idx, read_idx_images, read_idx_labels
from minidl.data.loader import DataLoader
from minidl.data.synthetic import synthetic_digits

__all__ = [
    "ArrayDataset", "load_dataset", "available_datasets", "cache_dir", "DATASETS", "DataLoader",
    "synthetic_digits", "read_idx", "read_idx_images", "read_idx_labels",
    "IDXError", "ChecksumError", "DatasetNotFoundError", "DownloadError",
]
