"""``load_dataset("idx", split, data_dir=DIR)``: any folder of the four IDX files, gzip or raw,
checked for structure (magic numbers, dimensions, counts, label range); broken folders are
refused with the file named."""
import gzip
import time

import numpy as np
import pytest

from minidl.data import DataError, DatasetNotFoundError, IDXError, SizeLimitError, load_dataset

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(arr):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


rng = np.random.default_rng(7)
# a KMNIST-like set of another image size: 12 x 10 pixels, 5 classes
ARRAYS = {"train": (rng.integers(0, 256, (40, 12, 10)), np.arange(40) % 5),
          "test": (rng.integers(0, 256, (15, 12, 10)), (np.arange(15) * 2) % 5)}


def write(folder, how="gz", files=None):
    """The four files in ``folder``: ``how`` = "gz", "raw" or "mixed" (images gz, labels raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = files or {name: idx_bytes(arr) for split in NAMES for name, arr in zip(NAMES[split], ARRAYS[split])}
    for name, data in files.items():
        packed = how == "gz" or (how == "mixed" and "images" in name)
        (folder / (name + ".gz" if packed else name)).write_bytes(gzip.compress(data) if packed else data)
    return folder


def replace(folder, name, data, compress=True, level=9):
    for old in (folder / name, folder / f"{name}.gz"):
        if old.exists():
            old.unlink()
    (folder / (name + ".gz" if compress else name)).write_bytes(gzip.compress(data, level) if compress else data)
    return folder / (name + ".gz" if compress else name)


@pytest.mark.parametrize("how", ["gz", "raw", "mixed"])
def test_loads_any_folder_of_the_four_files(tmp_path, how):
    folder = write(tmp_path / how, how)
    for split in ("train", "test"):
        ds = load_dataset("idx", split, data_dir=folder)
        images, labels = ARRAYS[split]
        assert len(ds) == len(labels) and ds.image_shape == (1, 12, 10) and ds.name == "idx"
        np.testing.assert_array_equal(ds.images[:, 0], images)
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.num_classes == 5 and ds.source == f"idx: {folder}"
        assert not ds.images.flags.writeable


def test_the_real_mnist_folder_loads_as_idx(mnist_path):
    ds = load_dataset("idx", "test", data_dir=mnist_path)
    named = load_dataset("mnist", "test", data_dir=mnist_path)
    np.testing.assert_array_equal(ds.images, named.images)
    assert ds.num_classes == 10


def test_needs_a_folder(tmp_path):
    with pytest.raises(ValueError, match=r"load_dataset\('idx'\): data_dir must name a folder"):
        load_dataset("idx", "train")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_dataset("idx", "train", data_dir=tmp_path / "nowhere")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(DataError, match="file is a file, not a folder of IDX files"):
        load_dataset("idx", "train", data_dir=tmp_path / "file")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(DataError, match="loop is a symbolic link loop, not a folder of IDX files"):
        load_dataset("idx", "train", data_dir=tmp_path / "loop")


def test_a_missing_file_is_named(tmp_path):
    folder = write(tmp_path / "d")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"idx test: .* lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        load_dataset("idx", "test", data_dir=folder)
    assert len(load_dataset("idx", "train", data_dir=folder)) == 40  # the other split still loads


def _broken(folder, case):
    """Break ``folder`` in the way ``case``; returns (split to load, file named, message)."""
    img, lab = ARRAYS["train"]
    train_images, train_labels = NAMES["train"]
    if case == "labels-as-images":
        path = replace(folder, train_images, idx_bytes(lab))
        return "train", path, r"wrong magic number 2049 \(0x00000801\), expected 2051"
    if case == "images-as-labels":
        path = replace(folder, train_labels, idx_bytes(img))
        return "train", path, r"wrong magic number 2051 \(0x00000803\), expected 2049"
    if case == "int32-images":
        head = bytes([0, 0, 0x0C, 3]) + b"".join(int(d).to_bytes(4, "big") for d in img.shape)
        path = replace(folder, train_images, head + img.astype(">i4").tobytes())
        return "train", path, "wrong magic number 3075"
    if case == "counts":
        path = replace(folder, train_labels, idx_bytes(lab[:-1]))
        return "train", path, "holds 40 images but"
    if case == "test-label-out-of-range":
        path = replace(folder, NAMES["test"][1], idx_bytes(np.full(15, 7)))
        return "test", path, "label 7 is outside the classes 0..4 of the training labels"
    if case == "one-class":
        path = replace(folder, train_labels, idx_bytes(np.zeros(40)))
        return "train", path, "every label is 0: a classification set needs at least two classes"
    if case == "image-size":
        path = replace(folder, NAMES["test"][0], idx_bytes(rng.integers(0, 256, (15, 28, 28))))
        return "test", path, "images of 28 x 28 pixels, but"
    if case == "no-images":
        path = replace(folder, train_images, idx_bytes(np.zeros((0, 12, 10))))
        return "train", path, "expected at least one image"
    if case == "truncated-gzip":
        data = gzip.compress(idx_bytes(img))
        path = folder / f"{train_images}.gz"
        path.write_bytes(data[: len(data) // 2])
        return "train", path, "the gzip stream is truncated"
    if case == "truncated-raw":
        path = replace(folder, train_images, idx_bytes(img)[:-100], compress=False)
        return "train", path, r"truncated: the header announces shape \(40, 12, 10\)"
    if case == "text":
        path = replace(folder, train_labels, b"these are not labels\n", compress=False)
        return "train", path, "not an IDX file"
    if case == "empty":
        path = replace(folder, train_labels, b"", compress=False)
        return "train", path, r"the file is empty \(0 bytes\)"
    if case == "gzip-bomb":  # the right header, then 64 MiB of zeros
        path = replace(folder, train_images, idx_bytes(img)[:16] + bytes(64 << 20), level=1)
        return "train", path, r"decompresses past its expected size: its header announces shape \(40, 12, 10\)"
    if case == "huge-header":
        head = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (4_000_000_000, 100, 100))
        path = replace(folder, train_images, head)
        return "train", path, "its IDX header declares shape .* more than the 2147483648 bytes"
    raise AssertionError(case)


CASES = ["labels-as-images", "images-as-labels", "int32-images", "counts", "test-label-out-of-range",
         "one-class", "image-size", "no-images", "truncated-gzip", "truncated-raw", "text", "empty",
         "gzip-bomb", "huge-header"]


@pytest.mark.parametrize("case", CASES)
def test_broken_folders_are_refused_with_the_file_named(tmp_path, case):
    folder = write(tmp_path / "d")
    split, path, message = _broken(folder, case)
    start = time.perf_counter()
    with pytest.raises(IDXError if case not in ("gzip-bomb", "huge-header") else SizeLimitError,
                       match=message) as info:
        load_dataset("idx", split, data_dir=folder)
    assert str(path) in str(info.value)
    assert time.perf_counter() - start < 2.0


def test_a_file_changed_on_disk_is_read_again(tmp_path):
    folder = write(tmp_path / "d")
    first = load_dataset("idx", "test", data_dir=folder)
    again = load_dataset("idx", "test", data_dir=folder)
    assert np.shares_memory(again.images, first.images)  # cached per file version
    _broken(folder, "test-label-out-of-range")
    with pytest.raises(IDXError, match="outside the classes"):
        load_dataset("idx", "test", data_dir=folder)
