"""Weight decay, written once for every optimizer.

* coupled (L2, PyTorch's ``weight_decay`` and the papers): the gradient becomes
  ``g + wd * w`` before the optimizer's rule sees it;
* decoupled (Loshchilov & Hutter; Keras 3's ``weight_decay`` in every optimizer,
  PyTorch's AdamW): the weight shrinks first, ``w <- w - lr * wd * w``, and the
  rule then runs on the plain gradient.
"""
from __future__ import annotations


def apply(param, grad, group, decoupled: bool):
    """Apply the group's weight decay; returns the gradient the rule should use."""
    wd = group["weight_decay"]
    if not wd:
        return grad
    if decoupled:
        param *= param.dtype.type(1.0 - group["lr"] * wd)
        return grad
    return grad + param.dtype.type(wd) * param
