"""The real MNIST files (skipped where they are missing): shapes, counts, labels, checksums."""
import gzip

import numpy as np
import pytest

from minidl import backend as B
from minidl.data import DataLoader, load_dataset


@pytest.mark.parametrize("split,n", [("train", 60_000), ("test", 10_000)])
def test_real_mnist_loads_and_is_verified(mnist_path, split, n):
    ds = load_dataset("mnist", split, data_dir=mnist_path)
    assert len(ds) == n and ds.name == "mnist" and ds.num_classes == 10
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    assert set(np.unique(ds.labels)) == set(range(10))
    assert ds.image_shape == (1, 28, 28) and ds.source.startswith("data_dir:")
    assert not ds.images.flags.writeable  # shared by the in-memory cache
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.min() > n * 0.08  # every digit is there in quantity
    if split == "test":  # the first test digit of MNIST is a 7
        assert ds.labels[0] == 7


def test_uncompressed_mnist_files_pass_the_same_checksums(mnist_path, tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((mnist_path / f"{name}.gz").read_bytes()))
    raw = load_dataset("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(raw.images, load_dataset("mnist", "test", data_dir=mnist_path).images)


def test_real_mnist_batches(mnist_path):
    ds = load_dataset("mnist", "test", data_dir=mnist_path)
    x, y = next(iter(DataLoader(ds, 256, seed=0)))
    assert x.shape == (256, 1, 28, 28) and x.dtype == B.get_default_dtype()
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
