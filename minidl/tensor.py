"""Tensor, Parameter and the reverse-mode autograd engine.

A :class:`Tensor` wraps one backend array (``.data``).  Every differentiable
operation is a :class:`Function` subclass with its ``forward`` and ``backward``
side by side: the Tensor's own operators (+ - * / @ **, sum, mean, max, reshape,
transpose, indexing, exp, log, relu) at the end of this file, the layers' ops in
``minidl/ops/``; calling ``Fn.apply(*tensors)`` runs
the forward and, when a gradient is wanted, records the function as the
output's ``_ctx`` so that :meth:`Tensor.backward` can walk the graph back.

``backward()`` orders the graph with an iterative depth-first search (no
recursion, so a graph of any depth works), then visits it in reverse
topological order.  Gradients of leaves accumulate into ``.grad``; the engine
never writes into an array it did not allocate, so optimizers may modify
``.grad`` in place.
"""
from __future__ import annotations

import contextlib

from minidl import backend as B

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor", "unbroadcast"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Run operations without recording a graph (evaluation, optimizer steps)."""
    global _grad_enabled
    old, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = old


@contextlib.contextmanager
def enable_grad():
    """Re-enable graph recording inside a ``no_grad`` block."""
    global _grad_enabled
    old, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = old


class Function:
    """One differentiable primitive: subclasses define ``forward`` and ``backward``.

    ``forward(*arrays, **options)`` receives the inputs' backend arrays and returns
    the output array; it may keep on ``self`` what backward needs.
    ``backward(grad)`` receives d(loss)/d(output) and returns one gradient per
    input (a tuple, or a single array for one input); ``None`` where an input
    needs no gradient.  ``self.needs_grad`` tells which inputs want one.
    """

    __slots__ = ("parents", "needs_grad", "__dict__")

    def forward(self, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        fn = cls()
        tensors = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
        out = fn.forward(*[t.data for t in tensors], **options)
        requires = _grad_enabled and any(t.requires_grad for t in tensors)
        result = Tensor._wrap(out, requires)
        if requires:
            fn.parents = tensors
            fn.needs_grad = tuple(t.requires_grad for t in tensors)
            result._ctx = fn
        return result


class Tensor:
    """An n-dimensional backend array that can record the operations applied to it.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0]]
    """

    __array_priority__ = 1000  # so that ``ndarray * Tensor`` calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        xp = B.xp()
        if B.is_array(data):
            if dtype is not None:
                data = data.astype(dtype, copy=False)
            elif data.dtype.kind not in "fc" and requires_grad:
                raise TypeError(
                    f"Tensor: requires_grad needs a floating-point array, got dtype {data.dtype}"
                )
            data = xp.asarray(data) if B.get_array_module(data) is not xp else data
        else:  # Python numbers and lists: floats take the default dtype, integers stay
            arr = B.np.asarray(data)
            if dtype is None and arr.dtype.kind == "f":
                dtype = B.get_default_dtype()
            data = xp.asarray(arr, dtype=dtype)
            if requires_grad and data.dtype.kind != "f":
                raise TypeError(
                    f"Tensor: requires_grad needs floating-point data, got dtype {data.dtype}"
                )
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @classmethod
    def _wrap(cls, data, requires_grad=False):
        t = cls.__new__(cls)
        t.data, t.grad, t.requires_grad, t._ctx = data, None, requires_grad, None
        return t

    # ----------------------------------------------------------------- basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({B.to_numpy(self.data)!r}{grad})"

    def numpy(self):
        """The data as a host numpy array."""
        return B.to_numpy(self.data)

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing the data but cut from the graph."""
        return Tensor._wrap(self.data, False)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------- autograd
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires it.

        ``grad`` is d(loss)/d(self); it may be omitted only for a scalar tensor
        (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input had "
                "requires_grad=True, or it was computed under no_grad())"
            )
        xp = B.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: a gradient must be given for a non-scalar tensor "
                    f"(shape {tuple(self.shape)}); call .sum() first or pass grad="
                )
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=self.dtype)
            grad = grad.copy()  # the caller's array: never let a leaf's .grad alias it
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: grad has shape {tuple(grad.shape)}, expected {tuple(self.shape)}"
                )

        order = self._topological_order()
        grads = {id(self): grad}
        stored = set()  # ids of the arrays handed to leaves in this pass
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None:  # a leaf
                if node.requires_grad:
                    node._accumulate(g, stored)
                continue
            parent_grads = ctx.backward(g)
            if not isinstance(parent_grads, tuple):
                parent_grads = (parent_grads,)
            for parent, pg, needed in zip(ctx.parents, parent_grads, ctx.needs_grad):
                if not needed or pg is None:
                    continue
                key = id(parent)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg

    def _accumulate(self, g, stored) -> None:
        """Add ``g`` to ``.grad``; every leaf ends up owning its own buffer.

        Ops return fresh arrays, except that one may hand the same array (or a view
        of one) to several inputs (``a + b`` gives ``g`` to both).  So ``g`` is copied
        only when it is a view or already went to another leaf in this pass; a
        fresh array (the weight gradient of a matmul, say) is kept as it is, with no
        copy in the training step.  The engine never writes into ``g``.
        """
        if g.shape != self.data.shape:  # pragma: no cover - an op bug
            raise RuntimeError(f"internal: gradient shape {g.shape} != data shape {self.data.shape}")
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        if self.grad is not None:
            self.grad = self.grad + g
        elif g.base is not None or id(g) in stored:
            self.grad = g.copy()
        else:
            self.grad = g
        stored.add(id(self.grad))

    def _topological_order(self):
        """Nodes reachable from self, each after all of its inputs (iterative DFS)."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            if node._ctx is not None:
                for parent in node._ctx.parents:
                    if parent.requires_grad and id(parent) not in visited:
                        stack.append((parent, False))
        return order

    # ------------------------------------------------------------ operators
    def __add__(self, other):
        return Add.apply(self, _lift(other, self))

    def __radd__(self, other):
        return Add.apply(_lift(other, self), self)

    def __sub__(self, other):
        return Add.apply(self, Neg.apply(_lift(other, self)))

    def __rsub__(self, other):
        return Add.apply(_lift(other, self), Neg.apply(self))

    def __mul__(self, other):
        return Mul.apply(self, _lift(other, self))

    def __rmul__(self, other):
        return Mul.apply(_lift(other, self), self)

    def __truediv__(self, other):
        return Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other):
        return Div.apply(_lift(other, self), self)

    def __neg__(self):
        return Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; the exponent must be a number")
        return Pow.apply(self, exponent=float(exponent))

    def __matmul__(self, other):
        return MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other):
        return MatMul.apply(_lift(other, self), self)

    def __getitem__(self, index):
        return GetItem.apply(self, index=index)

    # --------------------------------------------------------------- methods
    def sum(self, axis=None, keepdims=False):
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes=axes or None)

    @property
    def T(self):
        return self.transpose()

    def exp(self):
        return Exp.apply(self)

    def log(self):
        return Log.apply(self)

    def relu(self):
        return ReLU.apply(self)


class Parameter(Tensor):
    """A trainable tensor: ``requires_grad`` is always True and layers register it.

    ``.data`` is the backend array an optimizer updates in place; ``.grad`` is
    its gradient (a backend array, or None before the first backward).
    """

    def __init__(self, data, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=True, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: needs floating-point data, got dtype {self.data.dtype}")
        self.name = name

    def __repr__(self):
        label = f" {self.name!r}" if self.name else ""
        return f"Parameter{label}(shape={tuple(self.shape)}, dtype={self.dtype})"


def tensor(data, requires_grad=False, dtype=None) -> Tensor:
    """Build a Tensor (like ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _lift(value, like: Tensor) -> Tensor:
    """Turn a Python number or array into a constant Tensor of ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(B.get_array_module(like.data).asarray(value, dtype=like.dtype), False)


# ------------------------------------------------------------------ primitives
# The Tensor's operations, each a Function with its backward beside its forward, kept
# beside Tensor as micrograd and DeZero do (the operators above call them by name).
# Binary operations broadcast like NumPy; their backward sums the gradient over the
# broadcast axes (unbroadcast) so it has each input's shape.  Subtraction is a + (-b).

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
