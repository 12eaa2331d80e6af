"""Inverted dropout.

In training, each element is kept with probability ``1 - rate`` and scaled by
``1 / (1 - rate)`` so that the expected activation is unchanged:
``y = x * mask``, ``mask = (u >= rate) / (1 - rate)``, ``u ~ U[0, 1)``.
The mask is float32 (the activations' dtype): a float64 mask would silently
promote everything after it.  Backward: ``dx = g * mask``.  In evaluation
mode dropout is the identity.

``MaskStream`` gives a layer its masks one step after another, exactly those
``dropout_mask`` would draw from the layer's generator; on the CPU it can draw the
next one in a background thread while the step's convolution runs.
"""
from __future__ import annotations

from minidl import backend as B
from minidl import cpu
from minidl.tensor import Function


class DropoutFunction(Function):
    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, g):
        return g * self.mask, None


def dropout_mask(shape, rate, rng, dtype):
    """The scaled keep-mask for ``rate``, drawn from ``rng`` (a backend Generator)."""
    xp = B.xp()
    mask = rng.random(shape, dtype=B.np.float32 if dtype == B.np.float32 else B.np.float64)
    xp.greater_equal(mask, rate, out=mask)       # u >= rate, written as 1.0 / 0.0 in place
    mask *= B.np.dtype(dtype).type(1.0 / (1.0 - rate))   # a scalar argument: no host-device copy
    return mask.astype(dtype, copy=False)


class MaskStream:
    """The dropout masks of one layer: ``next(shape, rate, rng, dtype)`` returns exactly
    ``dropout_mask(shape, rate, rng, dtype)``, call after call, and leaves ``rng`` where
    that call would.

    ``prefetch()`` starts drawing the mask the next call will most likely ask for (the
    last call's shape, rate and dtype) in a background thread (``minidl.cpu.submit``),
    from a copy of ``rng``.  ``Sequential`` calls it when a forward pass starts, so on
    the CNN the draw (0.45 ms of the first dropout's 1 ms) overlaps the convolution,
    which runs on one core.  The copy's mask is used only if ``next`` asks for the same
    shape, rate and dtype from the same generator in the same state; ``rng`` itself
    moves on only when a mask is taken, so a checkpoint between steps records the right
    state.  Otherwise the copy is dropped and the mask drawn from ``rng`` as usual.
    Masks smaller than ``PREFETCH_MIN_SIZE`` elements are not worth a thread.
    """

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
        future = cpu.submit(dropout_mask, shape, rate, copy, dtype)
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


def dropout(x, rate, rng=None, training=True, mask=None):
    """Inverted dropout of ``x``; ``mask`` (if given) is used as is, e.g. for gradient checks."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if not training or (rate == 0.0 and mask is None):
        return x
    if mask is None:
        if rng is None:
            rng = B.default_rng()
        mask = dropout_mask(x.shape, rate, rng, x.dtype)
    return DropoutFunction.apply(x, mask)
