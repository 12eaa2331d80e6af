"""Adafactor: adaptive steps with a factored second moment (Shazeer & Stern 2018, arXiv:1804.04235).

Adam's second moment costs one number per weight.  Adafactor keeps, for a parameter of two
or more dimensions, only the mean of g_t^2 over each row and over each column of its last
two axes (an (n, m) matrix keeps n + m numbers) and rebuilds the estimate v_hat_t as their
outer product divided by the mean of the row factor; a vector (and a scalar) keeps the full
g_t^2 average.  The step is relative to the weights' own size (RMS(w), at least eps2), its
length rho_t decays as 1 / sqrt(t), and the update is clipped to an RMS of clip_threshold.
beta2_t grows towards 1 with t (1 - t^beta2_decay), so no bias correction is needed.

Adafactor is not elementwise (``ELEMENTWISE = False``): the factored estimate couples the
elements of a row and of a column, and RMS(w) and the clipping are per parameter tensor.
Its state has the parameter's shape only for vectors: ``row_var`` has the shape of w with its
last axis 1, ``col_var`` with its next-to-last axis 1 (torch's state names and shapes).  A
conv kernel (out, in, kh, kw) is factored over its last two axes, kh and kw, as torch and
Keras do.  ``mean`` below is the mean over every element unless an axis is named; t counts
the steps from 1.

Rule (pytorch):  ``torch.optim.Adafactor`` (its single-tensor path), eps1 applied after the factors

    rho_t = min(lr, 1 / sqrt(t))
    rms_t = sqrt(mean(w_{t-1}^2))                            # before the decay: RMS(w_decayed) / (1 - lr weight_decay)
    alpha_t = max(eps2, rms_t) * rho_t
    w_decayed = w_{t-1} * (1 - lr * weight_decay)            # decoupled weight decay, by the base class
    beta2_t = 1 - t^beta2_decay
    row_var_t = beta2_t * row_var_{t-1} + (1 - beta2_t) * mean(g_t^2, last axis)        # ndim >= 2, state "row_var"
    col_var_t = beta2_t * col_var_{t-1} + (1 - beta2_t) * mean(g_t^2, next-to-last axis)  # ndim >= 2, state "col_var"
    variance_t = beta2_t * variance_{t-1} + (1 - beta2_t) * g_t^2  # ndim < 2, state "variance"
    v_hat_t = row_var_t * col_var_t / max(mean(row_var_t), eps1)   # ndim >= 2, an outer product; variance_t if ndim < 2
    u_t = g_t / max(sqrt(v_hat_t), eps1)
    denom_t = max(1, sqrt(mean(u_t^2)) / clip_threshold)
    step_t = alpha_t * u_t / denom_t
    w_t = w_decayed - step_t

eps1 = None (torch's default) is the machine epsilon of w's dtype (2.2e-16 for float64).

Rule (keras):  Keras 3 ``Adafactor``, eps1 added to g_t^2 before the factors

    w_decayed = w_{t-1} * (1 - lr * weight_decay)            # decoupled weight decay, by the base class
    lr_t = min(lr, 1 / sqrt(t))                              # relative_step only; lr_t = lr otherwise
    rho_t = min(lr_t, 1 / sqrt(t))
    rms_t = sqrt(mean(w_decayed^2))                          # Keras decays first, then measures the weights
    alpha_t = max(eps2, rms_t) * rho_t
    beta2_t = 1 - t^beta2_decay
    g2_t = g_t^2 + eps1
    row_var_t = beta2_t * row_var_{t-1} + (1 - beta2_t) * mean(g2_t, last axis)         # ndim >= 2, state "row_var"
    col_var_t = beta2_t * col_var_{t-1} + (1 - beta2_t) * mean(g2_t, next-to-last axis)   # ndim >= 2, state "col_var"
    variance_t = beta2_t * variance_{t-1} + (1 - beta2_t) * g2_t   # ndim < 2, state "variance"
    v_hat_t = row_var_t / mean(row_var_t) * col_var_t        # ndim >= 2, an outer product; variance_t if ndim < 2
    u_t = g_t / sqrt(v_hat_t)
    denom_t = max(1, sqrt(mean(u_t^2)) / clip_threshold)
    step_t = alpha_t * u_t / denom_t
    w_t = w_decayed - step_t

Defaults:

    convention  lr     beta2_decay  eps1    eps2   clip_threshold  relative_step  weight_decay
    keras       0.001  -0.8         1e-30   1e-3   1.0             True           0
    pytorch     0.01   -0.8         None    1e-3   1.0             -              0

.. note::
    The sources disagree in three places.  Where eps1 goes: the paper and Keras add it to
    g_t^2 before the row and column means; torch keeps the factors clean and uses eps1 as a
    floor of mean(row_var_t) and of sqrt(v_hat_t).  The step length: the paper takes
    rho_t = min(0.01, 1 / sqrt(t)); torch writes its lr where the paper has 0.01 (hence lr = 0.01),
    Keras its learning_rate (0.001).  In Keras 3.15, ``relative_step=False`` changes nothing for
    a constant learning rate: Keras takes rho_t = min(lr_t, 1 / sqrt(t)) in either case.  And
    the weight decay, which the paper does not have: both decouple it and scale it by lr, but
    torch measures RMS(w) before the decay and Keras after it.  minidl's base class decays
    before the rule, so the pytorch rule divides the factor back out (1 - lr * weight_decay
    must then be > 0, which is checked).  The paper's first moment (beta1) is in neither
    framework and not here.

Spellings: PyTorch's ``eps=(eps1, eps2)`` and ``d`` (= clip_threshold) under the pytorch
convention; Keras's ``learning_rate``, ``epsilon_1``, ``epsilon_2`` and ``beta_2_decay`` under keras.
"""
from __future__ import annotations

import math

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_nonnegative, check_positive, is_number


class Adafactor(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta2_decay": -0.8, "eps1": 1e-30, "eps2": 1e-3, "clip_threshold": 1.0,
                  "relative_step": True},
        "pytorch": {"lr": 0.01, "beta2_decay": -0.8, "eps1": None, "eps2": 1e-3, "clip_threshold": 1.0},
    }
    FRAMEWORK_NAMES = {"pytorch": {"eps": ("eps1", "eps2"), "d": "clip_threshold"},
                       "keras": {"epsilon_1": "eps1", "epsilon_2": "eps2", "beta_2_decay": "beta2_decay"}}
    ELEMENTWISE = False
    DECOUPLED_WEIGHT_DECAY = True

    def __init__(self, params, lr=None, beta2_decay=None, eps1=None, eps2=None, clip_threshold=None,
                 relative_step=None, weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta2_decay=beta2_decay, eps1=eps1, eps2=eps2,
                         clip_threshold=clip_threshold, relative_step=relative_step,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        if not is_number(group["beta2_decay"]) or group["beta2_decay"] > 0:
            raise ValueError(f"Invalid beta2_decay: {group['beta2_decay']!r} (expected a finite number <= 0)")
        if group["eps1"] is not None or self.convention != "pytorch":
            check_nonnegative(group["eps1"], "eps1")
        check_nonnegative(group["eps2"], "eps2")
        if self.convention == "pytorch":
            if not is_number(group["clip_threshold"]) or group["clip_threshold"] < 1:
                raise ValueError(f"Invalid clip_threshold: {group['clip_threshold']!r} (expected a finite "
                                 "number >= 1, as torch's d)")
            if group["lr"] * group["weight_decay"] >= 1:
                raise ValueError(f"Invalid weight_decay: {group['weight_decay']!r} with lr {group['lr']!r} "
                                 "(expected lr * weight_decay < 1: the decay would zero or flip the weights)")
        else:
            check_positive(group["clip_threshold"], "clip_threshold")
            check_bool(group["relative_step"], "relative_step")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        if w.ndim < 2:
            return {"step": 0, "variance": xp.zeros_like(w)}
        return {"step": 0, "row_var": xp.zeros(w.shape[:-1] + (1,), dtype=w.dtype),
                "col_var": xp.zeros(w.shape[:-2] + (1, w.shape[-1]), dtype=w.dtype)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, eps1, eps2, clip_threshold = (group[k] for k in ("lr", "eps1", "eps2", "clip_threshold"))
        pytorch = self.convention == "pytorch"
        if eps1 is None:
            eps1 = B.np.finfo(w.dtype).eps
        state["step"] += 1
        t = state["step"]
        if pytorch:
            rho = min(lr, 1 / math.sqrt(t))
            rms = xp.sqrt(xp.mean(w * w)) / (1 - lr * group["weight_decay"])
        else:
            lr_t = min(lr, 1 / math.sqrt(t)) if group["relative_step"] else lr
            rho = min(lr_t, 1 / math.sqrt(t))
            rms = xp.sqrt(xp.mean(w * w))
        alpha = xp.maximum(eps2, rms) * rho
        beta2_t = 1 - t ** group["beta2_decay"]
        g2 = g * g if pytorch else g * g + eps1
        if w.ndim >= 2:
            row_var, col_var = state["row_var"], state["col_var"]
            row_var *= beta2_t
            row_var += (1 - beta2_t) * xp.mean(g2, axis=-1, keepdims=True)
            col_var *= beta2_t
            col_var += (1 - beta2_t) * xp.mean(g2, axis=-2, keepdims=True)
            if pytorch:
                v_hat = row_var * col_var / xp.maximum(xp.mean(row_var, axis=-2, keepdims=True), eps1)
            else:
                v_hat = row_var / xp.mean(row_var, axis=-2, keepdims=True) * col_var
        else:
            variance = state["variance"]
            variance *= beta2_t
            variance += (1 - beta2_t) * g2
            v_hat = variance
        u = g / xp.sqrt(xp.maximum(v_hat, eps1 * eps1)) if pytorch else g / xp.sqrt(v_hat)
        denom = xp.maximum(1.0, xp.sqrt(xp.mean(u * u)) / clip_threshold)
        step = alpha * u / denom
        w -= step
