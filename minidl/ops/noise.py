"""Inverted dropout.

In training, each element is kept with probability ``1 - rate`` and scaled by
``1 / (1 - rate)`` so that the expected activation is unchanged:
``y = x * mask``, ``mask = (u >= rate) / (1 - rate)``, ``u ~ U[0, 1)``.
The mask is float32 (the activations' dtype): a float64 mask would silently
promote everything after it.  Backward: ``dx = g * mask``.  In evaluation
mode dropout is the identity.
"""
from __future__ import annotations

from minidl import backend as B
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
