"""AdaBelief: Adam with the step scaled by the belief in the observed gradient (Zhuang et al. 2020,
"AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020,
arXiv:2010.07468, Algorithm 2).

Adam divides by the moving average of g_t^2; AdaBelief divides by the moving average s_t of
(g_t - m_t)^2, how far the gradient lands from its prediction m_t.  A gradient close to its
prediction (small s_t) is believed and taken with a large step; one far from it, with a small
step.  No hyperparameter beyond Adam's.  m_0 = s_0 = 0, t = 1, 2, ...

Rule (paper):  Algorithm 2, with the bias corrections

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # first moment, state "exp_avg"
    s_t = beta2 * s_{t-1} + (1 - beta2) * (g_t - m_t)^2 + eps   # state "exp_avg_var": eps enters s_t at every step
    s_max_t = max(s_max_{t-1}, s_t)                          # amsgrad only, state "max_exp_avg_var"
    m_hat_t = m_t / (1 - beta1^t)
    s_hat_t = s_t / (1 - beta2^t)                            # s_max_t in place of s_t with amsgrad
    step_t = lr * m_hat_t / (sqrt(s_hat_t) + eps)
    w_t = w_{t-1} - step_t

eps sits in two places, as in Algorithm 2: inside s_t, where it accumulates (s_t is at least
eps * (1 - beta2^t) / (1 - beta2), so sqrt(s_hat_t) >= sqrt(eps / (1 - beta2))), and after the
square root.  A coordinate whose gradient stays the same (g_t - m_t = beta1^t * g shrinks to 0)
ends with s_hat_t near eps / (1 - beta2) and steps by up to lr * m_hat_t / sqrt(eps / (1 - beta2)),
3.2e6 * lr * m_hat_t with eps 1e-16 and beta2 0.999: AdaBelief's large step where the gradient is
large but does not change.
Algorithm 2 projects onto the feasible set F (the identity here: F is all of R^d).

Defaults:

    convention  lr      beta1  beta2  eps     amsgrad  decoupled_weight_decay
    paper       0.001   0.9    0.999  1e-16   False    False

The paper fixes no default: the table takes lr, betas and eps of the authors' package
``adabelief-pytorch`` (eps 1e-16 since version 0.1.0; the paper's image-classification runs and
version 0.0.5 use 1e-8, its GAN runs 1e-16 or 1e-12).

Weight decay: the paper's is L2, ``weight_decay * w_{t-1}`` added to g_t before the rule (the
base class does it).  ``decoupled_weight_decay=True`` (also spelled ``weight_decouple``, the
package's name) decouples it, w_{t-1} * (1 - lr * weight_decay) before the rule, as the
package's ``weight_decouple=True`` with ``fixed_decay=False``; the base reads the group's flag.

.. note:: Where the authors' package ``adabelief-pytorch`` differs.  (1) Defaults: since
   0.1.0 it decouples the decay (``weight_decouple=True``) and rectifies the step as RAdam
   (``rectify=True``); this rule is its ``rectify=False, weight_decouple=False`` path (RAdam's
   rectification is ``RAdam``).  (2) eps: the package adds eps to its state ``exp_avg_var``
   in place, so its state is this s_t, eps included, and divides by sqrt(s_t) / sqrt(1 - beta2^t)
   + eps: the same rule, with the bias correction applied after the square root (equal up to
   rounding).  (3) amsgrad: the package keeps the running maximum of s_t beside it
   (``max_exp_avg_var``) and the moving average goes on from the plain s_t, as Reddi et al.'s
   AMSGrad does with v_t; so does this rule.  (4) ``fixed_decay`` (w * (1 - wd), without lr) and
   ``degenerated_to_sgd`` are not offered.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_positive, check_range


class AdaBelief(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "amsgrad": False,
                  "decoupled_weight_decay": False},
    }
    #: the authors' package spells the decoupling flag ``weight_decouple``
    FRAMEWORK_NAMES = {"paper": {"weight_decouple": "decoupled_weight_decay"}}

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, amsgrad=None,
                 decoupled_weight_decay=None, weight_decay=None, convention="paper", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps, amsgrad=amsgrad,
                         decoupled_weight_decay=decoupled_weight_decay, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_bool(group["amsgrad"], "amsgrad")
        check_bool(group["decoupled_weight_decay"], "decoupled_weight_decay")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_var": xp.zeros_like(w)}
        if group["amsgrad"]:
            state["max_exp_avg_var"] = xp.zeros_like(w)
        return state

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps, amsgrad = (group[k] for k in ("lr", "beta1", "beta2", "eps", "amsgrad"))
        state["step"] += 1
        t = state["step"]
        m, s = state["exp_avg"], state["exp_avg_var"]
        m *= beta1
        m += (1 - beta1) * g
        residual = g - m
        s *= beta2
        s += (1 - beta2) * residual * residual
        s += eps
        if amsgrad:
            s_max = state["max_exp_avg_var"]
            xp.maximum(s_max, s, out=s_max)
        m_hat = m / (1 - beta1 ** t)
        s_hat = (s_max if amsgrad else s) / (1 - beta2 ** t)
        step = lr * m_hat / (xp.sqrt(s_hat) + eps)
        w -= step
