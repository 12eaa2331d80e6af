"""Muon: momentum, orthogonalized by a Newton-Schulz iteration (Keller Jordan et al. 2024,
https://kellerjordan.github.io/posts/muon/; Liu et al. 2025, "Muon is Scalable for LLM Training",
arXiv:2502.16982), as ``torch.optim.Muon`` (PyTorch 2.13) and Keras 3.15's ``keras.optimizers.Muon``.

Muon is matrix-wise, not elementwise (``ELEMENTWISE = False``): the step of a weight matrix is
its momentum with every singular value pushed towards 1 (U S V^T becomes about U V^T), which
couples all its elements.  The iteration costs ``ns_steps`` rounds of three matrix products of
the smaller side (for an (n, m) matrix with n <= m: two n x n x m products and one n x n x n).

The Newton-Schulz iteration NS(M), written once (``newton_schulz``), the same in both conventions
but for how M is scaled first; a matrix with more rows than columns is transposed before and after:

Rule (every convention):

    X_0 = M / max(||M||_F, eps)                              # pytorch; M / (||M||_F + 1e-7) under keras
    A = X X^T                                                # ns_steps times, from X = X_0
    B = b * A + c * A A                                      # (a, b, c) = ns_coefficients
    X = a * X + B X                                          # O_t = NS(M) is the last X

Rule (pytorch):  ``torch.optim.Muon``, 2-D parameters only; the buffer is an average (torch's lerp)

    m_t = momentum * m_{t-1} + (1 - momentum) * g_t          # state "momentum_buffer"
    u_t = (1 - momentum) * g_t + momentum * m_t              # nesterov; u_t = m_t otherwise
    O_t = NS(u_t)
    adjusted_lr_t = lr * sqrt(max(1, rows / cols))           # "original"; 0.2 lr sqrt(max(rows, cols)) if "match_rms_adamw"
    step_t = adjusted_lr_t * O_t
    w_t = w_decayed - step_t                                 # w_decayed = w_{t-1} (1 - lr * weight_decay), by the base

Rule (keras):  Keras 3 ``Muon``, on the 2-D parameters that are not excluded; the buffer is a sum

    m_t = momentum * m_{t-1} + g_t                           # state "momentum"
    u_t = g_t + momentum * m_t                               # nesterov; u_t = m_t otherwise
    O_t = NS(u_t)
    adjusted_lr_t = lr * sqrt(max(rows, cols)) * rms_rate    # adjusted_lr_t = lr when rms_rate is False (Keras's None)

and, as Keras, AdamW on every other parameter (not 2-D, a name that matches ``exclude_layers``,
or that holds "embedding" when ``exclude_embeddings``), t counting its steps:

Rule (keras):

    adam_m_t = adam_m_{t-1} + (1 - adam_beta1) * (g_t - adam_m_{t-1})     # AdamW only, state "momentum"
    adam_v_t = adam_v_{t-1} + (1 - adam_beta2) * (g_t^2 - adam_v_{t-1})   # AdamW only, state "velocity"
    adam_alpha_t = lr * adam_lr_ratio * sqrt(1 - adam_beta2^t) / (1 - adam_beta1^t)   # AdamW only
    adam_step_t = adam_alpha_t * adam_m_t / (sqrt(adam_v_t) + eps)        # AdamW only
    step_t = adjusted_lr_t * O_t                             # Muon; step_t = adam_step_t on the AdamW path
    w_t = w_decayed - step_t                                 # w_decayed = w_{t-1} (1 - lr * weight_decay), by the base

A conv kernel (out, in, kh, kw) is 4-D: the pytorch convention refuses it at construction, naming
the parameter, as torch.optim.Muon does (give it to another optimizer); the keras convention
trains it with the AdamW rule, as Keras does with any variable that is not 2-D.  (Keller
Jordan's own code flattens a kernel to (out, in * kh * kw); neither framework does.)  The rows
and columns are the array's: minidl's Dense kernel is (in, out), as Keras's, where torch's Linear
weight is (out, in), so "original" scales an (in, out) kernel by sqrt(in / out) where torch would
scale the transposed one by 1.

Defaults:

    convention  lr     momentum  nesterov  ns_coefficients           ns_steps  weight_decay
    pytorch     0.001  0.95      True      (3.4445, -4.775, 2.0315)  5         0.1
    keras       0.001  0.95      True      (3.4445, -4.775, 2.0315)  5         0.004

    and pytorch: eps 1e-7, adjust_lr_fn "original"; keras: rms_rate 0.2, exclude_layers (), exclude_embeddings
    True, and for AdamW adam_beta1 0.9, adam_beta2 0.999, eps 1e-7, adam_lr_ratio 1, adam_weight_decay None
    (= weight_decay)

.. note::
    The two frameworks differ in the buffer and the scale, not in the direction.  torch averages
    (m = momentum * m + (1 - momentum) * g), Keras sums (m = momentum * m + g): torch's m and u are
    (1 - momentum) times Keras's, and NS(M) scales M by its norm first, so both orthogonalize the
    same matrix (up to where eps enters).  The step size: torch's "original" keeps the step's RMS
    near lr / sqrt(cols); Keras (and torch's "match_rms_adamw", with 0.2) match AdamW's RMS.
    torch runs the iteration in bfloat16 for speed; minidl runs it in the parameter's dtype, so
    the parity tests compare with torch's own iteration with its bfloat16 cast removed.  Both
    decay the weights decoupled, by lr * weight_decay with the unadjusted lr, before the step.
    Keras decays the AdamW-path parameters by ``adam_weight_decay`` (default: the same 0.004);
    here a param group has one ``weight_decay``: ``adam_weight_decay`` is accepted when it equals
    it, and otherwise refused, saying to put those parameters in a param group of their own.
    ``rms_rate=False`` is Keras's ``rms_rate=None`` (None means "the default" in minidl).

Spellings: Keras's ``muon_a``, ``muon_b``, ``muon_c`` (ns_coefficients), ``adam_beta_1``,
``adam_beta_2``, ``epsilon`` and ``learning_rate`` under the keras convention.
"""
from __future__ import annotations

import math
import re

from minidl.backend import get_array_module
from minidl.optim.optimizer import Optimizer, parameter_label
from minidl.optim.validation import (check_bool, check_choice, check_int, check_lr, check_nonnegative, check_positive,
                                     check_range, is_number)

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
#: what Keras adds to the norm before the iteration (a constant of its code; its epsilon is AdamW's)
KERAS_NS_EPS = 1e-7


def newton_schulz(M, coefficients, steps, eps, keras_scale=False):
    """NS(M): ``steps`` rounds of X = a X + (b A + c A A) X with A = X X^T, from M scaled to a
    Frobenius norm of at most 1 (divided by max(||M||, eps), or by ||M|| + eps as Keras does);
    M is transposed before and after when it has more rows than columns."""
    xp = get_array_module(M)
    a, b, c = coefficients
    tall = M.shape[0] > M.shape[1]
    X = M.T if tall else M
    norm = xp.linalg.norm(X)
    X_0 = X / (norm + eps) if keras_scale else X / xp.maximum(norm, eps)
    X = X_0
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    return X.T if tall else X


class Muon(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "momentum": 0.95, "nesterov": True, "ns_coefficients": NS_COEFFICIENTS, "ns_steps": 5,
                  "rms_rate": 0.2, "adam_beta1": 0.9, "adam_beta2": 0.999, "eps": 1e-7, "adam_lr_ratio": 1.0,
                  "adam_weight_decay": None, "exclude_layers": (), "exclude_embeddings": True,
                  "weight_decay": 0.004},
        "pytorch": {"lr": 0.001, "momentum": 0.95, "nesterov": True, "ns_coefficients": NS_COEFFICIENTS, "ns_steps": 5,
                    "eps": 1e-7, "adjust_lr_fn": "original", "weight_decay": 0.1},
    }
    FRAMEWORK_NAMES = {"keras": {"adam_beta_1": "adam_beta1", "adam_beta_2": "adam_beta2"}}
    ELEMENTWISE = False
    DECOUPLED_WEIGHT_DECAY = True

    def __init__(self, params, lr=None, momentum=None, nesterov=None, ns_coefficients=None, ns_steps=None,
                 weight_decay=None, convention="keras", **options):
        keras_abc = {k: options.pop(k) for k in ("muon_a", "muon_b", "muon_c") if k in options}
        if keras_abc and convention == "keras":         # Keras's three names for the coefficients
            if ns_coefficients is not None:
                raise ValueError("Muon: give ns_coefficients or Keras's muon_a, muon_b, muon_c, not both")
            ns_coefficients = tuple(keras_abc.get(k, d) for k, d in zip(("muon_a", "muon_b", "muon_c"),
                                                                         NS_COEFFICIENTS))
        elif keras_abc:
            raise ValueError(f"Muon: {sorted(keras_abc)} are the keras convention's names; under the "
                             f"{convention} convention write ns_coefficients=(a, b, c)")
        super().__init__(params, convention, lr=lr, momentum=momentum, nesterov=nesterov,
                         ns_coefficients=ns_coefficients, ns_steps=ns_steps, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_bool(group["nesterov"], "nesterov")
        coefficients = group["ns_coefficients"]
        if not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3 \
                or not all(is_number(x) for x in coefficients):
            raise ValueError(f"Invalid ns_coefficients: {coefficients!r} (expected three numbers (a, b, c))")
        check_int(group["ns_steps"], "ns_steps")
        check_positive(group["eps"], "eps")
        if self.convention == "pytorch":
            if group["ns_steps"] >= 100:
                raise ValueError(f"Invalid ns_steps: {group['ns_steps']!r} (expected fewer than 100, as torch)")
            check_choice(group["adjust_lr_fn"], "adjust_lr_fn", ("original", "match_rms_adamw"))
            for i, p in enumerate(group["params"]):
                if p.ndim != 2:
                    raise ValueError(f"Muon (pytorch convention) takes 2-D parameters only, as torch.optim.Muon; "
                                     f"parameter {parameter_label(p, len(self.param_groups), i)!r} has shape "
                                     f"{tuple(p.shape)} (train it with another optimizer, or use the keras "
                                     "convention, which gives it AdamW)")
            return
        if group["rms_rate"] is not False:
            check_positive(group["rms_rate"], "rms_rate")
        check_range(group["adam_beta1"], "adam_beta1", 0, 1, high_open=True)
        check_range(group["adam_beta2"], "adam_beta2", 0, 1, high_open=True)
        check_nonnegative(group["adam_lr_ratio"], "adam_lr_ratio")
        check_bool(group["exclude_embeddings"], "exclude_embeddings")
        self._check_exclude_layers(group["exclude_layers"])
        adam_wd = group["adam_weight_decay"]
        if adam_wd is not None and adam_wd != group["weight_decay"]:
            raise ValueError(f"Invalid adam_weight_decay: {adam_wd!r} (expected the group's weight_decay "
                             f"{group['weight_decay']!r}: a param group has one weight decay; put the parameters "
                             f"that take AdamW in a param group of their own with weight_decay={adam_wd!r})")

    @staticmethod
    def _check_exclude_layers(patterns):
        if isinstance(patterns, str) or not isinstance(patterns, (tuple, list)):
            raise ValueError(f"Invalid exclude_layers: {patterns!r} (expected a list of regular expressions)")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except (re.error, TypeError):
                raise ValueError(f"Invalid exclude_layers: {pattern!r} is not a regular expression") from None

    def uses_adamw(self, w, group) -> bool:
        """Whether weights ``w`` take the AdamW rule (keras convention): not 2-D, or the name of their
        parameter matches ``exclude_layers`` or holds "embedding" (with ``exclude_embeddings``)."""
        if w.ndim != 2:
            return True
        name = next((p.name for p in group["params"] if p.data is w), None) or ""
        return ((group["exclude_embeddings"] and "embedding" in name.lower())
                or any(re.search(pattern, name) for pattern in group["exclude_layers"]))

    def init_state(self, w, group):
        xp = get_array_module(w)
        if self.convention == "pytorch":
            return {"step": 0, "momentum_buffer": xp.zeros_like(w)}
        if self.uses_adamw(w, group):
            return {"step": 0, "momentum": xp.zeros_like(w), "velocity": xp.zeros_like(w)}
        return {"step": 0, "momentum": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = get_array_module(w)
        lr, mu = group["lr"], group["momentum"]
        state["step"] += 1
        if "velocity" in state:                             # keras: AdamW
            t = state["step"]
            beta1, beta2 = group["adam_beta1"], group["adam_beta2"]
            adam_m, adam_v = state["momentum"], state["velocity"]
            adam_m += (g - adam_m) * (1 - beta1)
            adam_v += (g * g - adam_v) * (1 - beta2)
            adam_alpha = lr * group["adam_lr_ratio"] * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            adam_step = adam_alpha * adam_m / (xp.sqrt(adam_v) + group["eps"])
            step = adam_step
            w -= step
            return
        rows, cols = w.shape
        if self.convention == "pytorch":
            m = state["momentum_buffer"]
            m *= mu
            m += (1 - mu) * g
            u = (1 - mu) * g + mu * m if group["nesterov"] else m
            O = newton_schulz(u, group["ns_coefficients"], group["ns_steps"], group["eps"])
            if group["adjust_lr_fn"] == "original":
                adjusted_lr = lr * math.sqrt(max(1, rows / cols))
            else:
                adjusted_lr = lr * (0.2 * math.sqrt(max(rows, cols)))
        else:
            m = state["momentum"]
            m *= mu
            m += g
            u = g + mu * m if group["nesterov"] else m
            O = newton_schulz(u, group["ns_coefficients"], group["ns_steps"], KERAS_NS_EPS, keras_scale=True)
            rms_rate = group["rms_rate"]
            adjusted_lr = lr if rms_rate is False else lr * math.sqrt(max(rows, cols)) * rms_rate
        step = adjusted_lr * O
        w -= step
