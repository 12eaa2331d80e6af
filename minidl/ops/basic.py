"""The Tensor's primitive operations, each with its backward beside its forward.

Binary operations broadcast like NumPy; their backward sums the gradient over
the broadcast axes (:func:`unbroadcast`) so it has each input's shape.
Subtraction is ``a + (-b)``; everything else here is a primitive.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.tensor import Function


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = unbroadcast(g * self.b, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(g * self.a, self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = unbroadcast(g / self.b, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(-g * self.a / (self.b * self.b), self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Pow(Function):
    """``a ** p`` for a constant number ``p``."""

    def forward(self, a, exponent):
        self.a, self.p = a, exponent
        return a ** exponent

    def backward(self, g):
        return g * self.p * self.a ** (self.p - 1)


class Exp(Function):
    def forward(self, a):
        self.out = B.get_array_module(a).exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return B.get_array_module(a).log(a)

    def backward(self, g):
        return g / self.a


class ReLU(Function):
    """``max(a, 0)``; the gradient passes where ``a > 0`` (0 at a == 0, as in PyTorch)."""

    def forward(self, a):
        self.out = B.get_array_module(a).maximum(a, 0)
        return self.out   # out > 0 exactly where a > 0: no separate mask is kept

    def backward(self, g):
        return g * (self.out > 0)


class MatMul(Function):
    """``a @ b`` for 2-D operands (and batched stacks that broadcast)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: operands must be at least 1-D, got a scalar")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        xp = B.get_array_module(g)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


def _norm_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(ax % ndim for ax in axis))


class Sum(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, _norm_axis(axis, a.ndim), keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        xp = B.get_array_module(g)
        if not self.keepdims:
            g = xp.expand_dims(g, self.axis) if self.axis else g
        return xp.broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, _norm_axis(axis, a.ndim), keepdims
        self.count = 1
        for ax in self.axis:
            self.count *= a.shape[ax]
        return a.mean(axis=axis, keepdims=keepdims)

    def backward(self, g):
        xp = B.get_array_module(g)
        if not self.keepdims:
            g = xp.expand_dims(g, self.axis) if self.axis else g
        return xp.broadcast_to(g / self.count, self.shape)


class Max(Function):
    """Maximum over axes; the gradient is shared equally among tied maxima."""

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, _norm_axis(axis, a.ndim), keepdims
        self.out = a.max(axis=self.axis, keepdims=True)
        return self.out if keepdims else self.out.reshape(
            [n for i, n in enumerate(a.shape) if i not in self.axis])

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(self.out.shape)
        mask = self.a == self.out
        return mask * (g / mask.sum(axis=self.axis, keepdims=True))


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    def forward(self, a, axes=None):
        self.axes = axes
        return a.transpose(axes) if axes is not None else a.T

    def backward(self, g):
        if self.axes is None:
            return g.T
        inverse = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inverse[ax] = i
        return g.transpose(inverse)


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, g):
        xp = B.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out, self.index, g)  # repeated indices accumulate
        return out
