"""Tensor, Parameter and the reverse-mode autograd engine.

A :class:`Tensor` wraps one backend array (``.data``).  Every differentiable
operation is a :class:`Function` subclass in ``minidl/ops/`` with its
``forward`` and ``backward`` side by side; calling ``Fn.apply(*tensors)`` runs
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

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor"]

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
        return _ops.Add.apply(self, _lift(other, self))

    def __radd__(self, other):
        return _ops.Add.apply(_lift(other, self), self)

    def __sub__(self, other):
        return _ops.Add.apply(self, _ops.Neg.apply(_lift(other, self)))

    def __rsub__(self, other):
        return _ops.Add.apply(_lift(other, self), _ops.Neg.apply(self))

    def __mul__(self, other):
        return _ops.Mul.apply(self, _lift(other, self))

    def __rmul__(self, other):
        return _ops.Mul.apply(_lift(other, self), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other):
        return _ops.Div.apply(_lift(other, self), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; the exponent must be a number")
        return _ops.Pow.apply(self, exponent=float(exponent))

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(_lift(other, self), self)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=index)

    # --------------------------------------------------------------- methods
    def sum(self, axis=None, keepdims=False):
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self):
        return self.transpose()

    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)


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


from minidl.ops import basic as _ops  # noqa: E402  (the primitives need Tensor defined)
