"""Gradient clipping, written once and used by every optimizer (the same names in every convention).

* ``clipnorm=c`` (Keras's ``clipnorm``): each parameter's gradient by its own norm,
  ``g <- g * min(1, c / ||g||_2)``;
* ``global_clipnorm=c`` (Keras's ``global_clipnorm``, PyTorch's ``clip_grad_norm_``): all
  gradients of the group by their norm taken together,
  ``g_i <- g_i * min(1, c / ||(g_1, ..., g_n)||_2)``;
* ``clipvalue=c`` (Keras's ``clipvalue``, PyTorch's ``clip_grad_value_``): ``g <- clip(g, -c, c)``.

They apply in that order, each to what the one before left.  :func:`clip_grad_norm` and
:func:`clip_grad_value` do the same in place on ``.grad``, as PyTorch's functions do.
"""
from __future__ import annotations

import math

from minidl import backend as B


def global_norm(grads) -> float:
    """The 2-norm of all arrays in ``grads`` taken together (accumulated in float64)."""
    total = 0.0
    for g in grads:
        g64 = g if g.dtype == B.np.float64 else g.astype(B.np.float64)
        total += float(B.get_array_module(g).dot(g64.reshape(-1), g64.reshape(-1)))
    return math.sqrt(total)


def _scaled(g, norm, limit):
    return g * g.dtype.type(limit / norm) if norm > limit else g


def clip_gradients(grads, group) -> list:
    """The gradients after the group's ``clipnorm``, ``global_clipnorm`` and ``clipvalue``
    (new arrays only where something was clipped)."""
    if group.get("clipnorm") is not None:
        grads = [_scaled(g, global_norm([g]), group["clipnorm"]) for g in grads]
    if group.get("global_clipnorm") is not None and grads:
        norm = global_norm(grads)
        grads = [_scaled(g, norm, group["global_clipnorm"]) for g in grads]
    if group.get("clipvalue") is not None:
        c = group["clipvalue"]
        grads = [B.get_array_module(g).clip(g, -c, c) for g in grads]
    return grads


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale the ``.grad`` of ``params`` in place so their global norm is at most ``max_norm``.

    Returns the norm before clipping (like ``torch.nn.utils.clip_grad_norm_``).
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise ValueError(f"Invalid max_norm: {max_norm!r} (expected a number > 0)")
    params = [p for p in params if p.grad is not None]
    norm = global_norm([p.grad for p in params])
    if norm > max_norm:
        for p in params:
            p.grad *= p.grad.dtype.type(max_norm / norm)
    return norm


def clip_grad_value(params, clip_value: float) -> None:
    """Clip every ``.grad`` of ``params`` in place to ``[-clip_value, clip_value]``."""
    if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float)) or not clip_value > 0:
        raise ValueError(f"Invalid clip_value: {clip_value!r} (expected a number > 0)")
    for p in params:
        if p.grad is not None:
            B.get_array_module(p.grad).clip(p.grad, -clip_value, clip_value, out=p.grad)
