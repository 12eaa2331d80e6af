"""Dropout masks drawn ahead, in a background thread, exactly as the layer would draw them.

``MaskStream`` gives one Dropout layer its masks step after step: ``next(shape, rate, rng,
dtype)`` returns exactly ``ops.dropout_mask(shape, rate, rng, dtype)``, call after call, and
leaves ``rng`` where that call would.  ``prefetch()`` starts drawing the mask the next call will
most likely ask for (the last call's shape, rate and dtype) on a pool thread
(``threads.submit``), from a copy of ``rng``.  The fused model (``fusion.py``) calls it when a
forward pass starts, so the draw overlaps the convolution, which runs on one core.  The copy's
mask is used only if ``next`` asks for the same shape, rate and dtype from the same generator in
the same state; ``rng`` itself moves on only when a mask is taken, so a checkpoint between steps
records the right state.  Otherwise the copy is dropped and the mask drawn from ``rng`` as usual.
Masks smaller than ``PREFETCH_MIN_SIZE`` elements are not worth a thread.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.ops import dropout_mask
from minidl.perf import threads


class MaskStream:
    """The masks of one Dropout layer, the next one drawn ahead (see the module docstring)."""

    PREFETCH_MIN_SIZE = 1 << 15

    def __init__(self):
        self._last = None               # (shape, rate, rng, dtype) of the last call
        self._pending = None            # (the last call's key, rng state at the copy, future, the copy)
        self._copy = None               # the generator the background draw uses (one at a time)

    def next(self, shape, rate, rng, dtype):
        self._last = (tuple(shape), float(rate), rng, dtype)
        mask = self._take(rng)
        return mask if mask is not None else dropout_mask(shape, rate, rng, dtype)

    def prefetch(self) -> None:
        if self._pending is not None or self._last is None or B.name() != "numpy":
            return
        shape, rate, rng, dtype = self._last
        size = 1
        for d in shape:
            size *= d
        if size < self.PREFETCH_MIN_SIZE or not isinstance(rng, B.np.random.Generator):
            return
        state = rng.bit_generator.state
        copy = self._copy
        if copy is None or type(copy.bit_generator) is not type(rng.bit_generator):
            copy = self._copy = B.np.random.Generator(type(rng.bit_generator)(0))   # made once, reused
        copy.bit_generator.state = state
        future = threads.submit(dropout_mask, shape, rate, copy, dtype)
        if future is not None:
            self._pending = (self._key(self._last), state, future, copy)

    @staticmethod
    def _key(last):
        shape, rate, rng, dtype = last
        return shape, rate, id(rng), B.np.dtype(dtype).str

    def _take(self, rng):
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        key, state, future, copy = pending
        try:
            mask = future.result()                  # the copy's thread is done before we go on
        except Exception:                           # noqa: BLE001 - rng is untouched: draw in place
            return None
        if key != self._key(self._last) or rng.bit_generator.state != state:
            return None
        rng.bit_generator.state = copy.bit_generator.state
        return mask

    def clear(self) -> None:
        """Drop a mask drawn ahead (after its thread is done)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[2].exception()                  # waits; a failed draw is simply dropped

    # a pending Future cannot be copied or pickled: a copy starts afresh
    def __getstate__(self):
        return {"_last": None, "_pending": None, "_copy": None}

    def __deepcopy__(self, memo):
        return MaskStream()
