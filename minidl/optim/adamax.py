"""Adamax: Adam with the infinity norm in place of the second moment (Kingma & Ba 2015, Algorithm 2).

m_0 = u_0 = 0, t = 1, 2, ...

Rule (every convention):

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # first moment, state "exp_avg"
    lr_t = lr / (1 - beta1^t)                                # bias correction of m, folded into lr

The exponentially weighted infinity norm u_t (state "exp_inf") and the step differ in eps:

Rule (keras):  Keras 3 ``Adamax``: eps added to u_t in the denominator

    u_t = max(beta2 * u_{t-1}, |g_t|)
    step_t = lr_t * m_t / (u_t + eps)
    w_t = w_{t-1} - step_t

Rule (pytorch):  ``torch.optim.Adamax``: eps added to |g_t| inside the max, so it is stored in u_t

    u_t = max(beta2 * u_{t-1}, |g_t| + eps)
    step_t = lr_t * m_t / u_t
    w_t = w_{t-1} - step_t

Rule (paper):  Algorithm 2: no eps at all

    u_t = max(beta2 * u_{t-1}, |g_t|)
    step_t = where(u_t > 0, lr_t * m_t / u_t, 0)
    w_t = w_{t-1} - step_t

Where u_t = 0 the paper's step is taken as 0: then g_t = 0 and, for beta2 > 0, every earlier
gradient was 0 too, so m_t = 0 and 0/0 is taken as 0 (with beta2 = 0 the paper's rule would
divide m_t != 0 by 0).

Defaults:

    convention  lr      beta1  beta2  eps
    keras       0.001   0.9    0.999  1e-7
    pytorch     0.002   0.9    0.999  1e-8
    paper       0.002   0.9    0.999  (none)

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_positive, check_range


class Adamax(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, weight_decay=None,
                 convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        if "eps" in group:
            check_positive(group["eps"], "eps")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "exp_avg": xp.zeros_like(w), "exp_inf": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2 = group["lr"], group["beta1"], group["beta2"]
        state["step"] += 1
        t = state["step"]
        m, u = state["exp_avg"], state["exp_inf"]
        m *= beta1
        m += (1 - beta1) * g
        lr_t = lr / (1 - beta1 ** t)
        u *= beta2
        if self.convention == "keras":
            xp.maximum(u, xp.abs(g), out=u)
            step = lr_t * m / (u + group["eps"])
        elif self.convention == "pytorch":
            xp.maximum(u, xp.abs(g) + group["eps"], out=u)
            step = lr_t * m / u
        else:
            xp.maximum(u, xp.abs(g), out=u)
            step = xp.where(u > 0, lr_t * m / xp.where(u > 0, u, 1), 0)
        w -= step
