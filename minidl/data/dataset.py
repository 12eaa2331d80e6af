"""The data set class: ``ArrayDataset`` (images and labels on the host, batches on the
backend), its subsets and the hold-out of a validation split.

A training set and its validation split never overlap: :func:`validation_split` keeps the
first ``N - n`` samples for training and holds out the last ``n``, so the split is the
same in every run and on every machine (the order of the files), and the test set is
never touched by tuning.
"""
from __future__ import annotations

from minidl import backend as B

np = B.np

__all__ = ["ArrayDataset", "validation_split", "default_validation_size", "MAX_DEFAULT_VALIDATION"]

#: The default validation split is a sixth of the training set, at most this many samples.
MAX_DEFAULT_VALIDATION = 10_000


class ArrayDataset:
    """Images and labels held on the host: uint8 ``(N, C, H, W)`` and int64 ``(N,)``.

    ``images`` may be given as ``(N, H, W)`` (one channel is added) or ``(N, C, H, W)``;
    ``labels`` as any integer array of length N.  ``batch(indices)`` returns the batch
    ``(x, y)`` on the active backend: x in the default float dtype scaled to [0, 1], NCHW;
    y int64.  The stored images stay uint8.

    ``floats=True``: the "images" are float32 or float64 values that batches carry as they
    are (cast to the default dtype, not scaled): data that is not pixels, such as the noise
    samples of a quadratic test problem (``minidl.lab.problems``), stored as ``(N, C, H, W)``.
    """

    def __init__(self, images, labels, name="", *, num_classes=None, class_names=None, source="",
                 floats=False):
        if not isinstance(images, np.ndarray):
            raise TypeError(
                f"ArrayDataset: images must be a host numpy array of uint8 (use "
                f"minidl.backend.to_numpy for device arrays), got {type(images).__name__}"
            )
        if not isinstance(floats, bool):
            raise TypeError(f"ArrayDataset: floats must be True or False, got {floats!r}")
        if floats and images.dtype not in (np.float32, np.float64):
            raise TypeError(f"ArrayDataset: with floats=True, images must have dtype float32 or float64, "
                            f"got {images.dtype}")
        if not floats and images.dtype != np.uint8:
            raise TypeError(f"ArrayDataset: images must have dtype uint8 (0..255), got {images.dtype} "
                            "(float values used as they are: floats=True)")
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
        self.floats = floats

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

    def subset(self, n_or_indices, what=None):
        """The first ``n`` samples (an int), or the samples at the given indices.

        ``what`` names the option at fault in errors (e.g. ``"--train-subset"``); by default
        they say ``subset: n``.
        """
        label = "subset: n" if what is None else str(what)
        if isinstance(n_or_indices, (int, np.integer)) and not isinstance(n_or_indices, bool):
            n = int(n_or_indices)
            if not 1 <= n <= len(self):
                raise ValueError(f"{label} must be in [1, {len(self)}] for {self.name or 'this set'}, got {n}")
            idx = slice(0, n)
        else:
            idx = np.asarray(n_or_indices)
            if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
                raise ValueError(
                    f"{'subset' if what is None else label}: expected an int or a non-empty 1-D integer "
                    f"index array, got shape {idx.shape} dtype {idx.dtype}"
                )
            if int(idx.min()) < -len(self) or int(idx.max()) >= len(self):
                raise ValueError(f"{'subset' if what is None else label}: indices must be in "
                                 f"[0, {len(self) - 1}], got {int(idx.min())}..{int(idx.max())}")
        return self._like(self.images[idx], self.labels[idx], self.source)

    def _like(self, images, labels, source):
        return ArrayDataset(images, labels, self.name, num_classes=self.num_classes,
                            class_names=self.class_names, source=source, floats=self.floats)

    def split_validation(self, n=None, what="n"):
        """``(train, validation)``: the last ``n`` samples held out as a validation set.

        ``n`` defaults to :func:`default_validation_size` (a sixth of the set, at most
        10,000).  Both parts are views of this set's arrays (no copy).  ``what`` names the
        argument in errors (e.g. ``"--validation"``).
        """
        return validation_split(self, n, what=what)

    def batch(self, indices, dtype=None):
        """``(x, y)`` for ``indices`` (a slice or integer indices), on the active backend.

        x: ``(n, C, H, W)`` in ``dtype`` (default: ``B.get_default_dtype()``) scaled to [0, 1]
        (with ``floats=True``: the values as stored); y: int64 ``(n,)``.  The batch is gathered and converted on the host straight into one
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
        if not self.floats:
            x /= 255  # exact at 0 and 255
        return B.asarray(x), B.asarray(y)


def default_validation_size(n_train) -> int:
    """The default number of samples held out for validation from a training set of
    ``n_train``: a sixth of it, at most 10,000, at least 1 (MNIST's 60,000: 10,000;
    the embedded set's 10,000: 1,666)."""
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < 2:
        raise ValueError(f"default_validation_size: n_train must be an int >= 2 (a set to split in two), "
                         f"got {n_train!r}")
    return int(min(MAX_DEFAULT_VALIDATION, max(1, n_train // 6)))


def validation_split(dataset, n=None, *, what="n"):
    """``(train, validation)`` of the :class:`ArrayDataset` ``dataset``: its last ``n``
    samples held out (default :func:`default_validation_size`), the others kept for training.

    ``n`` must be an int in ``[1, len(dataset) - 1]``; the error names the argument as
    ``what`` (``"--validation"`` for the command line).  Both parts are views (no copy);
    their ``source`` says which samples they hold.
    """
    if not isinstance(dataset, ArrayDataset):
        raise TypeError(f"validation_split: dataset must be an ArrayDataset, got {type(dataset).__name__}")
    total = len(dataset)
    if n is None:
        n = default_validation_size(total)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= total - 1:
        raise ValueError(f"{what} must be an int in [1, {total - 1}] (samples held out of the {total} "
                         f"training samples of {dataset.name or 'this set'}), got {n!r}")
    keep = total - int(n)
    where = f"{dataset.source}; " if dataset.source else ""
    train = dataset._like(dataset.images[:keep], dataset.labels[:keep], f"{where}samples 0..{keep - 1}")
    held = dataset._like(dataset.images[keep:], dataset.labels[keep:],
                         f"{where}validation: samples {keep}..{total - 1}")
    return train, held
