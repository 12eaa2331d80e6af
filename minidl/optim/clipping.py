"""Gradient clipping, written once and used by every optimizer (the same names in every convention).

* ``clipnorm=c`` (Keras's ``clipnorm``): each parameter's gradient by its own norm,
  ``g <- g * (c / max(||g||_2, c))``;
* ``global_clipnorm=c`` (Keras's ``global_clipnorm``; PyTorch's ``clip_grad_norm_``, up to
  its 1e-6 in the denominator): all gradients of the group by their norm taken together,
  ``g_i <- g_i * min(c / ||(g_1, ..., g_n)||_2, 1)``;
* ``clipvalue=c`` (Keras's ``clipvalue``, PyTorch's ``clip_grad_value_``): ``g <- clip(g, -c, c)``.

At most one of them is set (as Keras requires).  The scale is computed on the arrays' device
and always applied (a factor of exactly 1 where nothing is clipped, so the gradient is
unchanged to the bit), so clipping reads nothing back to the host.  Keras writes the same
factors as ``g * c / max(||g||, c)`` and ``c * min(1 / norm, 1 / c)``: equal up to rounding.  :func:`clip_grad_norm` and :func:`clip_grad_value` do the same in
place on ``.grad``, as PyTorch's functions do.
"""
from __future__ import annotations

import math

from minidl import backend as B


def _squared_norm(g):
    flat = g.reshape(-1)
    return B.get_array_module(g).dot(flat, flat)


def global_norm(grads) -> float:
    """The 2-norm of all arrays in ``grads`` taken together, as a Python float (accumulated in
    float64; one read to the host)."""
    return math.sqrt(sum(float(_squared_norm(g.astype(B.np.float64, copy=False))) for g in grads))


def clip_gradients(grads, group) -> list:
    """The gradients after the group's ``clipnorm``, ``global_clipnorm`` or ``clipvalue``
    (new arrays where one is set; the same arrays otherwise)."""
    if not grads:
        return grads
    xp = B.get_array_module(grads[0])
    if group.get("clipnorm") is not None:
        c = group["clipnorm"]
        return [g * (c / xp.maximum(xp.sqrt(_squared_norm(g)), c)) for g in grads]
    if group.get("global_clipnorm") is not None:
        c = group["global_clipnorm"]
        norm = xp.sqrt(sum(_squared_norm(g) for g in grads))
        with B.np.errstate(divide="ignore"):         # a zero norm: c / 0 = inf, and the scale is 1
            scale = xp.minimum(c / norm, 1)
        return [g * scale.astype(g.dtype) for g in grads]
    if group.get("clipvalue") is not None:
        c = group["clipvalue"]
        return [xp.clip(g, -c, c) for g in grads]
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
