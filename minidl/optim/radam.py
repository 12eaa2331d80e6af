"""RAdam: Adam with the variance of its adaptive learning rate rectified (Liu et al. 2020,
"On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, arXiv:1908.03265).

In its first steps Adam's second moment v_t averages too few squared gradients for the
adaptive learning rate 1 / sqrt(v_hat_t) to be trusted (its variance is large, or infinite).
RAdam measures how many gradients the moving average holds, rho_t, the length of the simple
moving average (SMA) that it approximates; while rho_t is small it steps like SGD with
momentum (lr * m_hat_t), afterwards like Adam with a rectification factor r_t < 1 that
grows to 1 as rho_t approaches its limit rho_inf.  m_0 = v_0 = 0, t = 1, 2, ...

Rule (every convention):

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # first moment, state "exp_avg"
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # second moment, state "exp_avg_sq"
    bias1_t = 1 - beta1^t
    bias2_t = 1 - beta2^t
    m_hat_t = m_t / bias1_t
    rho_inf = 2 / (1 - beta2) - 1                            # the longest SMA (1999 for beta2 = 0.999)
    rho_t = rho_inf - 2 * t * beta2^t / bias2_t              # the SMA's length at step t (about t)

Rule (pytorch):  ``torch.optim.RAdam``, and the authors' code: rectified once the SMA is longer than 5

    rectified_t = rho_t > 5

Rule (paper):  Liu et al., Algorithm 2: rectified once "the variance is tractable"

    rectified_t = rho_t > 4

Rule (every convention):

    l_t = sqrt(bias2_t) / (sqrt(v_t) + eps)                  # rectified only: the adaptive learning rate
    r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))  # rectified only
    step_t = m_hat_t * lr * l_t * r_t                        # rectified; m_hat_t * lr otherwise
    w_t = w_{t-1} - step_t

With beta2 = 0.999, rho_t is 1.0, 2.0, 3.0, 4.0, 4.996, 5.994, ... at t = 1, 2, ...: the paper
rectifies from step 5, torch from step 6; before that both take SGD-with-momentum steps
lr * m_hat_t (which move every coordinate by about lr * |g|, not by about lr as Adam does).
rho_t <= t always (rho_2 = (1 + 3 beta2) / (1 + beta2) <= 2), so no setting rectifies the
first four steps; if rho_inf <= 5 (beta2 <= 2/3) torch never rectifies and RAdam is SGD
with momentum throughout.

Defaults:

    convention  lr      beta1  beta2  eps    decoupled_weight_decay
    pytorch     0.001   0.9    0.999  1e-8   False
    paper       0.001   0.9    0.999  1e-8   False

.. note:: Where the sources differ.  (1) The threshold: Algorithm 2 rectifies when rho_t > 4,
   the authors' code (``N_sma >= 5``) and torch when rho_t > 5 (at rho_t between 4 and 5, r_t
   is below 0.1 and falls to 0 at rho_t = 4; the code's threshold skips these tiny steps).
   (2) Epsilon: Algorithm 2 writes l_t = sqrt((1 - beta2^t) / v_t) with no epsilon; both
   conventions here add eps to sqrt(v_t), as torch and the authors' code do, so that a
   coordinate whose gradients have all been 0 takes a step of 0 instead of 0 / 0.
   (3) Weight decay: the paper has none.  ``weight_decay`` is applied by the base class
   before this rule, as torch does: added to the gradient (L2, g_t + wd * w_{t-1}) by default,
   decoupled (w_{t-1} * (1 - lr * wd), AdamW's form, the moments never see it) with
   ``decoupled_weight_decay=True`` (the base reads the group's flag).  The products of step_t
   are taken in torch's order; the paper writes alpha_t * r_t * m_hat_t * l_t (the same up
   to rounding).  Keras 3 has no RAdam.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_positive, check_range

#: the SMA length above which the step is rectified: torch's (and the authors' code) and the paper's
RECTIFY_ABOVE = {"pytorch": 5, "paper": 4}


class RAdam(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "pytorch": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decoupled_weight_decay": False},
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decoupled_weight_decay": False},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, decoupled_weight_decay=None,
                 weight_decay=None, convention="pytorch", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         decoupled_weight_decay=decoupled_weight_decay, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_bool(group["decoupled_weight_decay"], "decoupled_weight_decay")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps = (group[k] for k in ("lr", "beta1", "beta2", "eps"))
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        bias1 = 1 - beta1 ** t
        bias2 = 1 - beta2 ** t
        m_hat = m / bias1
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * t * beta2 ** t / bias2
        rectified = rho > RECTIFY_ABOVE[self.convention]
        if rectified:
            l_t = bias2 ** 0.5 / (xp.sqrt(v) + eps)
            r_t = ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5
            step = m_hat * lr * l_t * r_t
        else:
            step = m_hat * lr
        w -= step
