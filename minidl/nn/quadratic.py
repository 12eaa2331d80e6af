"""``QuadraticForm``: the loss of a noisy quadratic test problem as a layer.

For a batch of data points ``x_n`` (each of ``dim`` values) and the layer's one Parameter
``theta`` (``dim``,), the output is each example's loss

    out_n = 0.5 * (theta - x_n)^T Q (theta - x_n)                 shape (N, 1)

with a fixed symmetric ``hessian`` Q (not trained).  Its gradient with respect to theta is
``Q (theta - x_n)`` per example.  The problem's loss is the mean of the outputs
(:func:`mean_output`), so the layer and that loss together are DeepOBS's
``0.5 (theta - x)^T Q (theta - x)``; the "logits" of shape (N, 1) make a one-class problem
whose accuracy is always 1 (only the loss is a metric here).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.nn.module import Module, as_tensor
from minidl.tensor import Parameter, Tensor


class QuadraticForm(Module):
    """``0.5 (theta - x)^T Q (theta - x)`` per example; ``theta`` starts at ``init`` (DeepOBS: 1.0)."""

    def __init__(self, hessian, init: float = 1.0):
        super().__init__()
        hessian = B.np.asarray(hessian, dtype=B.np.float64)
        if hessian.ndim != 2 or hessian.shape[0] != hessian.shape[1] or hessian.shape[0] < 1:
            raise ValueError(f"QuadraticForm: hessian must be a square matrix, got shape {hessian.shape}")
        if not B.np.allclose(hessian, hessian.T):
            raise ValueError("QuadraticForm: hessian must be symmetric")
        self.dim = int(hessian.shape[0])
        self.hessian = Tensor(B.asarray(hessian, dtype=B.get_default_dtype()))
        self.theta = Parameter(B.asarray(B.np.full(self.dim, float(init)), dtype=B.get_default_dtype()))

    def forward(self, x):
        x = as_tensor(x)
        n = x.shape[0]
        if x.size != n * self.dim:
            raise ValueError(f"{self.label()}: expected {self.dim} values per example, got input of shape "
                             f"{tuple(x.shape)}")
        diff = self.theta - x.reshape(n, self.dim)          # (N, dim), theta broadcast over the batch
        hessian = self.hessian if self.hessian.dtype == diff.dtype else Tensor(self.hessian.data.astype(diff.dtype))
        return ((diff @ hessian) * diff).sum(axis=1, keepdims=True) * 0.5

    def label(self):
        return f"QuadraticForm({self.dim})"

    def extra_repr(self):
        return f"dim={self.dim}"


def mean_output(outputs, labels):
    """The loss of a model whose outputs are already per-example losses: their mean (labels unused)."""
    return outputs.mean()
