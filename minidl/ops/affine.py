"""The dense (fully connected) layer's op: ``y = x @ W + b``.

Shapes: ``x`` (N, I), ``W`` (I, O) as in Keras, ``b`` (O,).
Backward: ``dx = g @ W.T``, ``dW = x.T @ g``, ``db = g.sum(axis=0)``.
One fused function instead of MatMul + Add: the bias gradient is a plain sum
and no broadcast bookkeeping runs.
"""
from __future__ import annotations

from minidl.ops.checks import check_float, check_ndim
from minidl.tensor import Function


class LinearFunction(Function):
    def forward(self, x, w, b):
        self.x, self.w = x, w
        out = x @ w
        out += b
        return out

    def backward(self, g):
        gx = g @ self.w.T if self.needs_grad[0] else None
        gw = self.x.T @ g if self.needs_grad[1] else None
        gb = g.sum(axis=0) if self.needs_grad[2] else None
        return gx, gw, gb


def linear(x, weight, bias, layer="linear"):
    """``x @ weight + bias`` for ``x`` of shape (N, in_features)."""
    check_ndim(x, 2, layer, "input", "(N, in_features)")
    check_float(x, layer, weight.dtype)
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{layer}: expected input with {weight.shape[0]} features (N, {weight.shape[0]}), "
            f"got shape {tuple(x.shape)}"
        )
    return LinearFunction.apply(x, weight, bias)
