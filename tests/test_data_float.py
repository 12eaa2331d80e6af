"""ArrayDataset(floats=True): values that are not pixels, carried into batches as they are."""
import numpy as np
import pytest

from minidl import backend as B
from minidl.data import ArrayDataset, DataLoader


def make(n=6, dtype=np.float32):
    values = (np.arange(n * 3, dtype=np.float64).reshape(n, 1, 1, 3) - 4.5).astype(dtype)
    return ArrayDataset(values, np.zeros(n, np.int64), "vectors", floats=True)


def test_float_values_reach_the_batch_unscaled():
    ds = make()
    x, y = ds.batch(np.array([1, 0]))
    # sample 1 holds 3, 4, 5 minus 4.5; sample 0 holds 0, 1, 2 minus 4.5 (no division by 255)
    np.testing.assert_array_equal(B.to_numpy(x)[:, 0, 0], [[-1.5, -0.5, 0.5], [-4.5, -3.5, -2.5]])
    assert B.to_numpy(y).tolist() == [0, 0]
    xs, _ = ds.batch(slice(4, 6))
    np.testing.assert_array_equal(B.to_numpy(xs)[:, 0, 0, 0], [7.5, 10.5])


def test_batches_take_the_default_dtype():
    with B.default_dtype("float64"):
        x, _ = make(dtype=np.float32).batch(slice(0, 2))
    assert x.dtype == np.float64
    x, _ = make(dtype=np.float64).batch(slice(0, 2))
    assert x.dtype == np.float32


def test_subsets_and_splits_keep_the_flag():
    ds = make(6)
    train, held = ds.split_validation(2)
    assert train.floats and held.floats and ds.subset(3).floats
    np.testing.assert_array_equal(B.to_numpy(held.batch(slice(0, 1))[0])[0, 0, 0], [7.5, 8.5, 9.5])


def test_the_loader_batches_float_data():
    batches = list(DataLoader(make(5), batch_size=2, shuffle=False))
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    assert float(B.to_numpy(batches[2][0]).sum()) == 12 + 13 + 14 - 3 * 4.5


def test_pixels_stay_uint8_unless_floats_is_asked_for():
    values = np.zeros((2, 1, 1, 3), np.float32)
    with pytest.raises(TypeError, match=r"dtype uint8 \(0..255\), got float32 \(float values used as they are: floats=True\)"):
        ArrayDataset(values, np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="with floats=True, images must have dtype float32 or float64, got uint8"):
        ArrayDataset(values.astype(np.uint8), np.zeros(2, np.int64), floats=True)
    with pytest.raises(TypeError, match="floats must be True or False, got 1"):
        ArrayDataset(values, np.zeros(2, np.int64), floats=1)
    pixels = ArrayDataset(np.full((1, 1, 1, 2), 255, np.uint8), np.zeros(1, np.int64))
    assert not pixels.floats and B.to_numpy(pixels.batch(slice(0, 1))[0]).ravel().tolist() == [1.0, 1.0]
