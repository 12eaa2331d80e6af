"""Adam: adaptive moment estimation (Kingma & Ba 2015), with the AMSGrad option (Reddi et al. 2018).

Two moving averages of the gradient g_t, m_0 = v_0 = 0, t = 1, 2, ...

Rule (every convention):

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # first moment, state "exp_avg"
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # second moment, state "exp_avg_sq"
    v_max_t = max(v_max_{t-1}, v_t)                          # amsgrad only, state "max_exp_avg_sq"
    bias1_t = 1 - beta1^t
    bias2_t = 1 - beta2^t

With ``amsgrad=True`` the running maximum v_max_t (of the raw v_t, before any bias
correction) takes the place of v_t in the lines below.  The conventions differ in how
the bias corrections are applied and where epsilon sits:

Rule (keras):  Keras 3 ``Adam``: the corrections folded into the step size, eps added to sqrt(v_t)

    alpha_t = lr * sqrt(bias2_t) / bias1_t
    step_t = alpha_t * m_t / (sqrt(v_t) + eps)
    w_t = w_{t-1} - step_t

Rule (pytorch):  ``torch.optim.Adam``, in the order it computes

    step_size_t = lr / bias1_t
    denom_t = sqrt(v_t) / sqrt(bias2_t) + eps
    step_t = step_size_t * m_t / denom_t
    w_t = w_{t-1} - step_t

Rule (paper):  Kingma & Ba, Algorithm 1

    m_hat_t = m_t / bias1_t
    v_hat_t = v_t / bias2_t
    step_t = lr * m_hat_t / (sqrt(v_hat_t) + eps)
    w_t = w_{t-1} - step_t

pytorch and paper give the same number up to rounding.  keras is the paper's rule with
eps replaced by eps / sqrt(1 - beta2^t), so its epsilon weighs more in the first steps
(at t = 1 with beta2 = 0.999: 1e-7 / sqrt(0.001) = 3.2e-6).  Keras computes the moments
as m += (g - m) * (1 - beta1), PyTorch as a lerp; these equal the lines above up to rounding.

Reddi et al.'s AMSGrad (Algorithm 2) has no bias correction and a decaying alpha / sqrt(t);
like Keras and PyTorch, amsgrad here keeps Adam's bias corrections and a constant lr.

Defaults:

    convention  lr      beta1  beta2  eps    amsgrad
    keras       0.001   0.9    0.999  1e-7   False
    pytorch     0.001   0.9    0.999  1e-8   False
    paper       0.001   0.9    0.999  1e-8   False

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper); see ``AdamW`` for decoupled decay.
"""
from __future__ import annotations

import math

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_positive, check_range


class Adam(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "amsgrad": False},
        "pytorch": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False},
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, amsgrad=None,
                 weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         amsgrad=amsgrad, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_bool(group["amsgrad"], "amsgrad")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(w)
        return state

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps, amsgrad = (group[k] for k in ("lr", "beta1", "beta2", "eps", "amsgrad"))
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        if amsgrad:
            v_max = state["max_exp_avg_sq"]
            xp.maximum(v_max, v, out=v_max)
        bias1 = 1 - beta1 ** t
        bias2 = 1 - beta2 ** t
        if self.convention == "keras":
            alpha = lr * math.sqrt(bias2) / bias1
            step = alpha * m / (xp.sqrt(v_max if amsgrad else v) + eps)
        elif self.convention == "pytorch":
            step_size = lr / bias1
            denom = xp.sqrt(v_max if amsgrad else v) / math.sqrt(bias2) + eps
            step = step_size * m / denom
        else:
            m_hat = m / bias1
            v_hat = (v_max if amsgrad else v) / bias2
            step = lr * m_hat / (xp.sqrt(v_hat) + eps)
        w -= step
