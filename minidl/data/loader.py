"""DataLoader: mini-batches of an ArrayDataset with per-epoch shuffling from a seed.

The order of epoch ``e`` is ``numpy.random.default_rng((seed, e)).permutation(N)``: it
depends only on the seed and the epoch number, not on what was iterated before, so a
resumed run (``set_epoch(e)``) sees exactly the order the uninterrupted run saw.
Without ``set_epoch`` each pass over the loader moves on to the next epoch by itself
(0, 1, 2, ...).  ``shuffle=False`` keeps the stored order.

Each batch is built on the host by ``dataset.batch``: gathered from the uint8 images,
converted to the default float dtype, scaled to [0, 1] (NCHW), then moved to the active
backend with one ``B.asarray``.  The stored images stay uint8; a batch as large as the
whole set costs one float array of that set and no other full-size copy.
"""
from __future__ import annotations

from minidl import backend as B

np = B.np

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``: yields ``(x, y)`` like ``dataset.batch``.

    >>> from minidl.data import load_dataset
    >>> loader = DataLoader(load_dataset("synthetic", "test"), batch_size=128, seed=0)
    >>> len(loader), [tuple(x.shape) for x, _ in loader][-1]
    (16, (80, 1, 28, 28))
    """

    def __init__(self, dataset, batch_size, shuffle=True, seed=0, drop_last=False):
        if not hasattr(dataset, "batch") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must be an ArrayDataset (with len() and batch()), got {type(dataset).__name__}"
            )
        n = len(dataset)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1 or (drop_last and batch_size > n):
            why = "with drop_last=True no batch would be left" if batch_size >= 1 else "it must be >= 1"
            raise ValueError(
                f"DataLoader: batch_size={batch_size} is invalid for a data set of N={n} samples: {why} "
                f"(use 1 <= batch_size <= {n})"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DataLoader: seed must be an int >= 0, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(min(batch_size, n))
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = None  # the epoch of the current (or last) iteration
        self._next_epoch = 0

    def __len__(self):
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def set_epoch(self, epoch):
        """Make the next iteration use epoch ``epoch``'s order (then ``epoch + 1``, ...)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self._next_epoch = int(epoch)

    def order(self, epoch):
        """The sample order of ``epoch``: a permutation (shuffle) or ``arange(N)``."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng((self.seed, int(epoch))).permutation(n)

    def index_batches(self):
        """The next epoch's batches as index sets (slices, or index arrays when shuffled).

        Advances the epoch as iterating does; for callers that build a batch
        piece by piece (``fit`` accumulates the gradient of a large batch over
        chunks, so full-batch GD never holds the whole set as floats).
        """
        epoch = self._next_epoch
        self._next_epoch = epoch + 1
        self.epoch = epoch
        n, b = len(self.dataset), self.batch_size
        stop = (n // b) * b if self.drop_last else n
        order = self.order(epoch) if self.shuffle else None
        for start in range(0, stop, b):
            end = min(start + b, n)
            # unshuffled batches are slices (views of the stored images, no gather)
            yield slice(start, end) if order is None else order[start:end]

    def __iter__(self):
        for indices in self.index_batches():
            yield self.dataset.batch(indices)

    def __repr__(self):
        return (f"DataLoader({getattr(self.dataset, 'name', '') or type(self.dataset).__name__}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, batches={len(self)})")
