"""Weight decay, written once for every optimizer.

* coupled (L2; PyTorch's ``weight_decay`` and the papers): the rule sees the gradient
  ``g + wd * w``;
* decoupled (Loshchilov & Hutter; Keras 3's ``weight_decay`` in every optimizer, PyTorch's
  AdamW): the weight shrinks first, ``w <- w - lr * wd * w``, and the rule then sees the
  plain gradient.
"""
from __future__ import annotations


def apply(w, g, group, decoupled: bool):
    """Apply the group's weight decay (``w`` in place when decoupled); returns the gradient
    the rule should use."""
    wd = group["weight_decay"]
    if not wd:
        return g
    if decoupled:
        w *= w.dtype.type(1.0 - group["lr"] * wd)
        return g
    return g + w.dtype.type(wd) * w
