"""Softmax, log-softmax and the fused, numerically stable softmax cross-entropy.

For logits ``z`` (N, K) and integer labels ``y`` (or one-hot / probability rows ``t``):

    log_softmax(z)_k = z_k - m - log(sum_j exp(z_j - m)),   m = max_j z_j   (log-sum-exp)
    loss = -(1/N) sum_n sum_k t_nk log_softmax(z_n)_k
    d loss / d z = (softmax(z) - t) / N

Subtracting the row maximum keeps every ``exp`` <= 1, so logits of 1e4 give no
overflow and no NaN.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.ops.checks import check_float, check_ndim
from minidl.tensor import Function, Tensor


def _log_softmax(z):
    xp = B.get_array_module(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


class LogSoftmax(Function):
    def forward(self, z):
        self.out = _log_softmax(z)
        return self.out

    def backward(self, g):
        xp = B.get_array_module(g)
        return g - xp.exp(self.out) * g.sum(axis=-1, keepdims=True)


class Softmax(Function):
    def forward(self, z):
        xp = B.get_array_module(z)
        self.out = xp.exp(_log_softmax(z))
        return self.out

    def backward(self, g):
        return self.out * (g - (g * self.out).sum(axis=-1, keepdims=True))


class SoftmaxCrossEntropy(Function):
    def forward(self, z, target):
        xp = B.get_array_module(z)
        logp = _log_softmax(z)
        n = z.shape[0]
        if target.ndim == 1:
            picked = logp[xp.arange(n), target]
            onehot = None
        else:
            onehot = target.astype(z.dtype, copy=False)
            picked = (logp * onehot).sum(axis=1)
        self.logp, self.target, self.onehot = logp, target, onehot
        return -picked.sum(dtype=z.dtype) / z.dtype.type(n)

    def backward(self, g):
        xp = B.get_array_module(g)
        n = self.logp.shape[0]
        grad = xp.exp(self.logp)
        if self.onehot is None:
            grad[xp.arange(n), self.target] -= 1
        else:
            grad -= self.onehot
        grad *= g / n
        return grad, None


def log_softmax(z):
    """log(softmax(z)) along the last axis, computed stably."""
    return LogSoftmax.apply(z)


def softmax(z):
    """softmax along the last axis."""
    return Softmax.apply(z)


def softmax_cross_entropy(logits, target, layer="softmax_cross_entropy"):
    """Mean cross-entropy of ``softmax(logits)`` against integer labels or one-hot rows."""
    check_ndim(logits, 2, layer, "logits array", "(N, classes)")
    check_float(logits, layer)
    t = target.data if isinstance(target, Tensor) else B.get_array_module(logits.data).asarray(target)
    n, k = logits.shape
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise TypeError(f"{layer}: integer class labels expected, got dtype {t.dtype}")
        if t.shape[0] != n:
            raise ValueError(f"{layer}: {n} rows of logits but {t.shape[0]} labels")
        # checked on the host only: on the GPU it would cost a device-to-host copy per
        # step (fit() checks the whole label set once before training instead)
        if t.size and B.get_array_module(t) is B.np and (int(t.min()) < 0 or int(t.max()) >= k):
            raise ValueError(
                f"{layer}: labels must be in [0, {k - 1}] for {k} classes, "
                f"got values from {int(t.min())} to {int(t.max())}"
            )
    elif t.shape != (n, k):
        raise ValueError(
            f"{layer}: one-hot targets must have the logits' shape {(n, k)}, got {tuple(t.shape)}"
        )
    return SoftmaxCrossEntropy.apply(logits, Tensor._wrap(t, False))


def accuracy(logits, labels) -> float:
    """Fraction of rows whose arg-max equals the label (labels as ints or one-hot)."""
    z = logits.data if isinstance(logits, Tensor) else logits
    xp = B.get_array_module(z)
    y = xp.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    return float((z.argmax(axis=1) == y).mean())
