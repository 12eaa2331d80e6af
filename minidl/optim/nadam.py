"""Nadam: Adam with Nesterov momentum (Dozat 2016, "Incorporating Nesterov Momentum into Adam").

m_0 = v_0 = 0, mu_prod_0 = 1, t = 1, 2, ...; a momentum schedule with decay psi, and the
Nesterov look-ahead: the current gradient weighted with this step's momentum, the first
moment with the next step's, each divided by its own bias correction.

Rule (every convention):

    mu_t = beta1 * (1 - 0.5 * 0.96^(psi * t))
    mu_next = beta1 * (1 - 0.5 * 0.96^(psi * (t + 1)))      # mu_{t+1}
    mu_prod_t = mu_prod_{t-1} * mu_t                         # state "mu_product"
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # state "exp_avg"
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq"
    v_hat_t = v_t / (1 - beta2^t)

Rule (keras, paper):  Keras 3 ``Nadam`` with psi = 1 fixed (mu_t = beta1 * (1 - 0.5 * 0.96^t));
Dozat 2016, Algorithm 2, with psi = momentum_decay (0.004 = 1/250)

    m_bar_t = (1 - mu_t) * g_t / (1 - mu_prod_t) + mu_next * m_t / (1 - mu_prod_t * mu_next)
    step_t = lr * m_bar_t / (sqrt(v_hat_t) + eps)
    w_t = w_{t-1} - step_t

Rule (pytorch):  ``torch.optim.NAdam``, psi = momentum_decay, each term divided by denom on its own

    denom_t = sqrt(v_hat_t) + eps
    step_t = lr * (1 - mu_t) / (1 - mu_prod_t) * g_t / denom_t + lr * mu_next / (1 - mu_prod_t * mu_next) * m_t / denom_t
    w_t = w_{t-1} - step_t

(PyTorch subtracts the two terms from w one after the other; here their sum is
subtracted: the same up to rounding.)

Keras 3 and PyTorch differ only in psi (and eps, lr): Keras 3 runs 0.96^t, so mu_t is within
1% of beta1 after about a hundred steps; PyTorch (and the Keras 2 / tf.keras Nadam, whose
docstring still shows 0.96^(0.004 t)) run 0.96^(0.004 t), so mu_t climbs from 0.45 towards
beta1 over tens of thousands of steps.  Like Keras and PyTorch the first moment uses the
constant beta1; the schedule only enters the look-ahead weights.

Defaults:

    convention  lr      beta1  beta2  eps    momentum_decay (psi)
    keras       0.001   0.9    0.999  1e-7   (fixed 1)
    pytorch     0.002   0.9    0.999  1e-8   0.004
    paper       0.002   0.9    0.999  1e-8   0.004

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper; PyTorch's
``decoupled_weight_decay=True`` is not offered).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_nonnegative, check_positive, check_range


class Nadam(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004},
        "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004},
    }
    #: Keras 3's schedule exponent psi (0.96^t); not a Keras argument
    KERAS_PSI = 1.0

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, momentum_decay=None,
                 weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         momentum_decay=momentum_decay, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        if "momentum_decay" in group:
            check_nonnegative(group["momentum_decay"], "momentum_decay")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "mu_product": 1.0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps = group["lr"], group["beta1"], group["beta2"], group["eps"]
        psi = self.KERAS_PSI if self.convention == "keras" else group["momentum_decay"]
        state["step"] += 1
        t = state["step"]
        mu = beta1 * (1 - 0.5 * 0.96 ** (psi * t))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** (psi * (t + 1)))
        mu_prod = state["mu_product"] = state["mu_product"] * mu
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        v_hat = v / (1 - beta2 ** t)
        if self.convention == "pytorch":
            denom = xp.sqrt(v_hat) + eps
            step = (lr * (1 - mu) / (1 - mu_prod) * g / denom
                    + lr * mu_next / (1 - mu_prod * mu_next) * m / denom)
        else:
            m_bar = (1 - mu) * g / (1 - mu_prod) + mu_next * m / (1 - mu_prod * mu_next)
            step = lr * m_bar / (xp.sqrt(v_hat) + eps)
        w -= step
