"""ADOPT: Adam with the gradient normalised by the previous second moment (Taniguchi et al. 2024,
"ADOPT: Modified Adam Can Converge with Any beta2 with the Optimal Rate", NeurIPS 2024,
arXiv:2411.02853, Algorithm 1 of the updated version, with clipping).

Adam divides m_t, which already holds g_t, by sqrt(v_t), which holds g_t^2 too: the two are
correlated and Adam can diverge unless beta2 suits the problem.  ADOPT makes two changes: it
divides g_t by the second moment of the PAST gradients, v_{t-1}, and it does so before the
momentum, so m_t averages normalised gradients; then it updates v_t.  It converges at the
optimal rate O(1/sqrt(T)) for any beta2.  v_0 = g_0^2 comes from a gradient of its own: the
first call of ``step()`` only sets it and leaves the weights where they are.  m_0 = 0; the
updates count t = 1, 2, ... from the second call (state "step" counts the calls, t + 1).

Rule (paper):  Algorithm 1, clipped (the updated version; ``clip=False``: the first version)

    denom_t = max(sqrt(v_{t-1}), eps)
    c_t = t^(1/4)                                            # clip only: the clipping bound
    u_t = clip(g_t / denom_t, -c_t, c_t)                     # g_t / denom_t with clip=False
    m_t = beta1 * m_{t-1} + (1 - beta1) * u_t                # state "exp_avg"
    step_t = lr * m_t
    w_t = w_{t-1} - step_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq"; v_0 = g_0^2 (the first call: no step)

There is no bias correction: m_t is an average of normalised gradients, each about 1 in size,
and the first steps are small (lr * (1 - beta1) * u_1 at t = 1).  The clipping bound grows
with t; the updated paper proves the same rate with it, and it keeps a coordinate whose first
gradient was near 0 (a zero-initialised layer) from dividing by a tiny sqrt(v_0).

Defaults:

    convention  lr      beta1  beta2   eps    clip  decoupled_weight_decay
    paper       0.001   0.9    0.9999  1e-6   True  False

(those of the authors' package ``torch-adopt``, ``adopt.ADOPT``, and of mlx-optimizers' ``ADOPT``).

Weight decay: L2 by default, ``weight_decay * w`` added to every gradient, g_0 included (the
base class does it); ``decoupled_weight_decay=True`` (also spelled ``decouple``, the package's
name) decouples it, w * (1 - lr * weight_decay) before the rule.

.. note:: Where the authors' package ``adopt.ADOPT`` differs.  (1) ``clip_lambda`` is a function
   of the step (default ``step**0.25``, the bound above; ``None``: no clipping); here ``clip`` is
   True or False and the bound is always t^(1/4).  (2) Its decoupled decay skips the first call
   (which only sets v_0); the base class here decays the weights at every call, the first one
   too, so with ``decoupled_weight_decay=True`` the weights shrink by (1 - lr * weight_decay)
   once more than in the package.  (3) The package adds the momentum as ``exp_avg.lerp_(u, 1 -
   beta1)``, the same as m_t above up to rounding.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_positive, check_range


class ADOPT(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6, "clip": True,
                  "decoupled_weight_decay": False},
    }
    #: the authors' package spells the decoupling flag ``decouple``
    FRAMEWORK_NAMES = {"paper": {"decouple": "decoupled_weight_decay"}}

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, clip=None,
                 decoupled_weight_decay=None, weight_decay=None, convention="paper", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps, clip=clip,
                         decoupled_weight_decay=decoupled_weight_decay, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_bool(group["clip"], "clip")
        check_bool(group["decoupled_weight_decay"], "decoupled_weight_decay")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps = (group[k] for k in ("lr", "beta1", "beta2", "eps"))
        state["step"] += 1
        v = state["exp_avg_sq"]
        if state["step"] == 1:                   # the first call: v_0 = g_0^2, the weights stay
            v += g * g
            return
        t = state["step"] - 1
        m = state["exp_avg"]
        denom = xp.maximum(xp.sqrt(v), eps)
        if group["clip"]:
            c = t ** 0.25
            u = xp.clip(g / denom, -c, c)
        else:
            u = g / denom
        m *= beta1
        m += (1 - beta1) * u
        step = lr * m
        w -= step
        v *= beta2
        v += (1 - beta2) * g * g
