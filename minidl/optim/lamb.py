"""Lamb: layer-wise adaptive moments (You et al. 2020, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", arXiv:1904.00962, Algorithm 2), and Keras 3's ``keras.optimizers.Lamb``.

Adam's bias-corrected direction r_t, rescaled per tensor by a trust ratio: the norm of the
weights over the norm of the update, so that each tensor (each layer's weight, each bias)
moves by about lr times its own norm.  ``||x||`` is the 2-norm of the whole parameter, so the
rule is not elementwise (``ELEMENTWISE = False``).  m_0 = v_0 = 0, t = 1, 2, ...

Rule (every convention):

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # state "exp_avg", Keras's "momentum"
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq", Keras's "velocity"
    m_hat_t = m_t / (1 - beta1^t)
    v_hat_t = v_t / (1 - beta2^t)
    r_t = m_hat_t / (sqrt(v_hat_t) + eps)

Rule (keras):  Keras 3's Lamb: the base's decoupled weight decay first (w_decayed = w_{t-1} *
(1 - lr * weight_decay)), then the trust ratio of the decayed weights and r_t alone

    w_norm_t = ||w_decayed||                                 # w_decayed = w_{t-1} where weight_decay = 0
    r_norm_t = ||r_t||
    ratio_t = w_norm_t / r_norm_t                            # 1 where either norm is 0
    step_t = lr * ratio_t * r_t
    w_t = w_decayed - step_t

Rule (paper):  Algorithm 2 with phi the identity: the decay lambda * w_{t-1} (lambda =
``weight_decay_rate``) joins r_t before the trust ratio is taken

    u_t = r_t + weight_decay_rate * w_{t-1}
    w_norm_t = ||w_{t-1}||
    u_norm_t = ||u_t||
    ratio_t = w_norm_t / u_norm_t                            # 1 where either norm is 0
    step_t = lr * ratio_t * u_t
    w_t = w_{t-1} - step_t

Weight decay: under keras, ``weight_decay`` is the base's decoupled decay, applied before the
rule as for every Keras optimizer (Keras's ``variable - variable * weight_decay * lr``); the
trust ratio then sees the decayed weights but not the decay.  Under paper the decay is inside
the rule: ``weight_decay=`` is read as ``weight_decay_rate`` (``minidl.optim.rule_decay``), so
the base decays nothing and lambda * w_{t-1} enters u_t, whose norm the ratio divides by.
The two differ most where the decay and r_t point apart: paper's step always has the norm
lr * ||w_{t-1}||, keras's lr * ||w_decayed||.

Defaults:

    convention  lr      beta1  beta2  eps    weight decay
    keras       0.001   0.9    0.999  1e-7   weight_decay 0 (the base's, decoupled)
    paper       0.001   0.9    0.999  1e-6   weight_decay_rate 0 (the rule's; weight_decay= sets it)

The paper fixes no defaults: paper takes those of TensorFlow's LAMB (TensorFlow Addons and
the Model Garden: lr 0.001, betas 0.9 and 0.999, epsilon 1e-6, weight_decay_rate 0).

.. note:: The paper writes ||x_t^(i)|| per layer i; here a layer's weight and its bias are
   two parameters, each with its own ratio, as in Keras and TensorFlow.  The paper leaves a
   zero norm open; both conventions take Keras's ratio of 1 when either norm is 0 (a zero
   tensor at its first step moves by lr * r_t; a zero update moves nothing).  Keras has no
   phi: it is the identity here too (Algorithm 2 allows any phi, e.g. clipping to [0, 10]).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim import rule_decay
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_nonnegative, check_positive, check_range

#: the conventions whose weight decay is the rule's own (inside the trust ratio)
DECAY_IN_RULE = ("paper",)


def _trust_ratio(xp, w_norm, d_norm):
    """w_norm / d_norm, or 1 where either is 0 (on the device: no host read)."""
    both = (w_norm > 0) & (d_norm > 0)
    return xp.where(both, w_norm / xp.where(both, d_norm, 1), 1)


class Lamb(Optimizer):
    __doc__ = __doc__
    ELEMENTWISE = False
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay_rate": 0.0},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, weight_decay=None,
                 convention="keras", **options):
        hyper = rule_decay.routed(convention, DECAY_IN_RULE, {"weight_decay": weight_decay, **options})
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps, **hyper)

    def add_param_group(self, group):
        super().add_param_group(rule_decay.routed(self.convention, DECAY_IN_RULE, group))

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        if self.convention in DECAY_IN_RULE:
            check_nonnegative(group["weight_decay_rate"], "weight_decay_rate")
        rule_decay.check_base_decay_off(group, self.convention, DECAY_IN_RULE, "Lamb")

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
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        r = m_hat / (xp.sqrt(v_hat) + eps)
        w_norm = xp.sqrt(xp.sum(w * w))
        if self.convention in DECAY_IN_RULE:
            u = r + group["weight_decay_rate"] * w
            u_norm = xp.sqrt(xp.sum(u * u))
            ratio = _trust_ratio(xp, w_norm, u_norm)
            step = lr * ratio * u
        else:
            r_norm = xp.sqrt(xp.sum(r * r))
            ratio = _trust_ratio(xp, w_norm, r_norm)
            step = lr * ratio * r
        w -= step
