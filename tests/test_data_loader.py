"""ArrayDataset and DataLoader: validation, batch sizes, drop_last, shuffling per (seed, epoch), scaling."""
import numpy as np
import pytest

from minidl import backend as B
from minidl.data import ArrayDataset, DataLoader


def make(n=10, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, 4, 3) if channels is None else (n, channels, 4, 3)
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    images.reshape(n, -1)[:, 0] = np.arange(n)  # pixel 0 holds the sample's index
    images.reshape(n, -1)[0, 1], images.reshape(n, -1)[0, 2] = 0, 255
    return ArrayDataset(images, np.arange(n) % 3, "toy")


def sample_ids(x):
    """The index stored in pixel 0 of each image of a batch."""
    return np.rint(B.to_numpy(x).reshape(len(x), -1)[:, 0] * 255).astype(int)


# ------------------------------------------------------------------------- ArrayDataset
def test_array_dataset_shapes_and_attributes():
    ds = make(10)
    assert ds.images.shape == (10, 1, 4, 3) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and len(ds) == 10
    assert ds.image_shape == (1, 4, 3) and ds.num_classes == 3 and ds.name == "toy"
    assert make(5, channels=3).image_shape == (3, 4, 3)


def test_array_dataset_validation():
    img = np.zeros((4, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="4 images, 3 labels"):
        ArrayDataset(img, np.zeros(3, int))
    with pytest.raises(TypeError, match="dtype uint8.*float32"):
        ArrayDataset(img.astype(np.float32), np.zeros(4, int))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\).*\(4, 4\)"):
        ArrayDataset(np.zeros((4, 4), np.uint8), np.zeros(4, int))
    with pytest.raises(ValueError, match="labels must be 1-D"):
        ArrayDataset(img, np.zeros((4, 1), int))
    with pytest.raises(TypeError, match="labels must be integers"):
        ArrayDataset(img, np.zeros(4))
    with pytest.raises(TypeError, match="host numpy array"):
        ArrayDataset(img.tolist(), np.zeros(4, int))
    with pytest.raises(ValueError, match="labels must be >= 0"):
        ArrayDataset(img, np.array([0, 1, -1, 2]))


def test_subset_first_n_and_indices():
    ds = make(10)
    first = ds.subset(4)
    assert len(first) == 4 and np.array_equal(first.labels, ds.labels[:4]) and first.num_classes == 3
    picked = ds.subset([9, 2])
    assert np.array_equal(picked.images, ds.images[[9, 2]])
    for bad in (0, 11):
        with pytest.raises(ValueError, match=r"n must be in \[1, 10\]"):
            ds.subset(bad)
    with pytest.raises(ValueError, match="indices must be in"):
        ds.subset([10])


def test_batch_scaling_dtype_layout(backend_name):
    ds = make(10, channels=2)
    x, y = ds.batch(np.array([0, 3]))
    assert B.get_array_module(x) is B.xp() and B.get_array_module(y) is B.xp()
    assert x.shape == (2, 2, 4, 3) and x.dtype == np.float32 and y.dtype == np.int64
    expected = ds.images[[0, 3]].astype(np.float32) / 255
    np.testing.assert_array_equal(B.to_numpy(x), expected)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert ds.images.dtype == np.uint8  # the stored images stay uint8


def test_batch_follows_default_dtype(float64):
    x, _ = make().batch(slice(0, 3))
    assert x.dtype == np.float64


# ---------------------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("bs,drop,sizes", [
    (3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]), (1, False, [1] * 10), (10, False, [10]),
    (10, True, [10]), (5, True, [5, 5]), (25, False, [10]),
])
def test_batch_sizes_and_drop_last(bs, drop, sizes):
    loader = DataLoader(make(10), bs, seed=0, drop_last=drop)
    got = [len(y) for _, y in loader]
    assert got == sizes and len(loader) == len(sizes)


def test_every_sample_once_per_epoch_and_labels_match():
    ds = make(10)
    ids = []
    for x, y in DataLoader(ds, 4, seed=3):
        batch_ids = sample_ids(x)
        assert np.array_equal(B.to_numpy(y), ds.labels[batch_ids])
        ids.extend(batch_ids)
    assert sorted(ids) == list(range(10))


def test_full_batch_is_the_whole_set(backend_name):
    ds = make(10)
    (x, y), = list(DataLoader(ds, 10, shuffle=False))
    np.testing.assert_array_equal(B.to_numpy(x), ds.images / np.float32(255))
    assert x.dtype == np.float32


def epoch_order(loader):
    return np.concatenate([sample_ids(x) for x, _ in loader])


def test_shuffle_order_is_a_function_of_seed_and_epoch_only():
    ds = make(10)
    a = DataLoader(ds, 3, seed=5)
    e0, e1, e2 = epoch_order(a), epoch_order(a), epoch_order(a)  # advances 0, 1, 2 by itself
    assert not np.array_equal(e0, e1) and not np.array_equal(e1, e2)
    np.testing.assert_array_equal(e0, np.random.default_rng((5, 0)).permutation(10))
    np.testing.assert_array_equal(e2, np.random.default_rng((5, 2)).permutation(10))
    resumed = DataLoader(ds, 3, seed=5)
    resumed.set_epoch(2)  # a resumed run sees the order the uninterrupted run saw
    np.testing.assert_array_equal(epoch_order(resumed), e2)
    assert resumed.epoch == 2
    resumed.set_epoch(0)
    np.testing.assert_array_equal(epoch_order(resumed), e0)
    np.testing.assert_array_equal(epoch_order(DataLoader(ds, 7, seed=5)), e0)  # batch size does not matter
    assert not np.array_equal(epoch_order(DataLoader(ds, 3, seed=6)), e0)


def test_no_shuffle_keeps_order():
    loader = DataLoader(make(10), 4, shuffle=False)
    assert list(epoch_order(loader)) == list(range(10)) == list(epoch_order(loader))


@pytest.mark.parametrize("bs,drop", [(0, False), (-1, False), (11, True)])
def test_bad_batch_sizes_name_batch_size_and_n(bs, drop):
    with pytest.raises(ValueError, match=rf"batch_size={bs}.*N=10"):
        DataLoader(make(10), bs, drop_last=drop)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(make(), 2.0)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        DataLoader(make(), 2, seed=-1)
    with pytest.raises(TypeError, match="ArrayDataset"):
        DataLoader([1, 2, 3], 2)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        DataLoader(make(), 2).set_epoch(-1)


def test_full_shuffled_batch_allocates_only_the_float_batch():
    import tracemalloc

    n = 20_000
    ds = ArrayDataset(np.zeros((n, 28, 28), np.uint8), np.zeros(n, np.int64))
    loader = DataLoader(ds, n, seed=0)
    float_bytes = n * 28 * 28 * 4
    tracemalloc.start()
    try:
        x, y = next(iter(loader))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert x.shape == (n, 1, 28, 28)
    # the float32 batch plus small pieces (labels, order, one 4096-image uint8 gather chunk);
    # a uint8 copy of the whole set would add n*784 bytes = 25% more
    assert peak < float_bytes * 1.1, (peak, float_bytes)
