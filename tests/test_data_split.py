"""The validation split: the last N training samples held out, N validated, a default of a sixth
of the training set (at most 10,000)."""
import numpy as np
import pytest

from minidl.data import ArrayDataset, default_validation_size, load_dataset, validation_split


def ten():
    return ArrayDataset(np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2), np.arange(10) % 4, "ten",
                        source="made")


def test_the_last_n_samples_are_held_out_as_views():
    ds = ten()
    train, val = validation_split(ds, 3)
    np.testing.assert_array_equal(train.labels, [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(val.labels, [3, 0, 1])
    np.testing.assert_array_equal(val.images, ds.images[7:])
    assert len(train) + len(val) == 10 and train.num_classes == val.num_classes == 4
    assert np.shares_memory(val.images, ds.images) and np.shares_memory(train.images, ds.images)
    assert train.source == "made; samples 0..6" and val.source == "made; validation: samples 7..9"
    again_train, again_val = ds.split_validation(3)
    np.testing.assert_array_equal(again_val.images, val.images)
    np.testing.assert_array_equal(again_train.images, train.images)


@pytest.mark.parametrize("n_train,expected", [(60_000, 10_000), (120_000, 10_000), (10_000, 1_666), (12, 2),
                                              (6, 1), (2, 1)])
def test_default_size_is_a_sixth_at_most_10000(n_train, expected):
    # 60,000 / 6 = 10,000; 10,000 / 6 = 1,666.7 -> 1,666; 5 / 6 -> 0 -> at least 1
    assert default_validation_size(n_train) == expected


def test_default_split_of_the_embedded_set():
    train, val = validation_split(load_dataset("synthetic", "train"))
    assert (len(train), len(val)) == (8_334, 1_666)


@pytest.mark.parametrize("n", [0, 10, -1, 11, 2.5, True, "3"])
def test_bad_n_is_one_line_naming_the_argument(n):
    with pytest.raises(ValueError) as info:
        validation_split(ten(), n, what="--validation")
    msg = str(info.value)
    assert msg.startswith("--validation must be an int in [1, 9] (samples held out of the 10 training samples of ten)")
    assert msg.endswith(f"got {n!r}") and "\n" not in msg
    with pytest.raises(ValueError, match=r"^n must be an int in \[1, 9\]"):
        ten().split_validation(n)


def test_bad_sizes_and_types():
    for bad in (1, 0, 2.0, False):
        with pytest.raises(ValueError, match="default_validation_size: n_train must be an int >= 2"):
            default_validation_size(bad)
    with pytest.raises(TypeError, match="dataset must be an ArrayDataset"):
        validation_split([1, 2, 3], 1)
    one = ArrayDataset(np.zeros((1, 2, 2), np.uint8), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="n_train must be an int >= 2"):
        validation_split(one)
