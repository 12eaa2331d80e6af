"""Gradient clipping, written once and used by every optimizer.

* by global norm (``clipnorm`` on an optimizer, or :func:`clip_grad_norm`):
  ``g_i <- g_i * min(1, c / ||(g_1, ..., g_n)||_2)``, the norm taken over all
  gradients of the group together (Keras's ``global_clipnorm``, PyTorch's
  ``clip_grad_norm_``);
* by value (``clipvalue``, :func:`clip_grad_value`): ``g <- clip(g, -c, c)``.
"""
from __future__ import annotations

import math

from minidl import backend as B


def global_norm(grads) -> float:
    """The 2-norm of all arrays in ``grads`` taken together (in float64)."""
    total = 0.0
    for g in grads:
        total += float((g.astype(B.np.float64) ** 2).sum()) if g.dtype != B.np.float64 else float((g * g).sum())
    return math.sqrt(total)


def clip_gradients(grads, clipnorm=None, clipvalue=None):
    """The gradients clipped by global norm and/or value (new arrays only where clipped)."""
    if clipnorm is not None:
        norm = global_norm(grads)
        if norm > clipnorm:
            scale = clipnorm / norm
            grads = [g * g.dtype.type(scale) for g in grads]
    if clipvalue is not None:
        grads = [B.get_array_module(g).clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale the ``.grad`` of ``params`` in place so their global norm is at most ``max_norm``.

    Returns the norm before clipping (like ``torch.nn.utils.clip_grad_norm_``).
    """
    if not max_norm > 0:
        raise ValueError(f"Invalid max_norm: {max_norm!r} (expected a number > 0)")
    params = [p for p in params if p.grad is not None]
    norm = global_norm([p.grad for p in params])
    if norm > max_norm:
        for p in params:
            p.grad *= p.grad.dtype.type(max_norm / norm)
    return norm


def clip_grad_value(params, clip_value: float) -> None:
    """Clip every ``.grad`` of ``params`` in place to ``[-clip_value, clip_value]``."""
    if not clip_value > 0:
        raise ValueError(f"Invalid clip_value: {clip_value!r} (expected a number > 0)")
    for p in params:
        if p.grad is not None:
            B.get_array_module(p.grad).clip(p.grad, -clip_value, clip_value, out=p.grad)
