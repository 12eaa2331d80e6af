"""LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, "Large Batch Training of
Convolutional Networks", arXiv:1708.03888, Algorithm 1).

SGD with momentum in which each layer gets its own learning rate: the global lr times a local
lr, eta times the ratio of the weights' norm to the gradient's, so that a step moves each layer
by about lr * eta times its own norm, however large or small its gradient.  ``||x||`` is the
2-norm of the whole parameter (each layer's weight and each bias is a parameter with its own
ratio), so the rule is not elementwise (``ELEMENTWISE = False``).  v_0 = 0, t = 1, 2, ...

Rule (paper):  Algorithm 1, with weight decay beta = ``weight_decay_rate`` and trust coefficient eta

    w_norm_t = ||w_{t-1}||
    g_norm_t = ||g_t||
    local_lr_t = eta * w_norm_t / (g_norm_t + weight_decay_rate * w_norm_t + eps)   # 1 where w_norm_t or g_norm_t is 0
    v_t = momentum * v_{t-1} + lr * local_lr_t * (g_t + weight_decay_rate * w_{t-1})   # state "momentum_buffer"
    w_t = w_{t-1} - v_t

lr is Algorithm 1's global rate gamma_t, the one a schedule sets at every step (the paper's
runs decay it polynomially, gamma_0 * (1 - t/T)^2, torch's ``PolynomialLR`` with power 2); it
multiplies the step inside the momentum, as in the paper and Keras's SGD, so a change of lr
acts on the next steps only.  The norms are accumulated in float64 whatever the parameter's
dtype, so that a float32 gradient whose squares overflow float32 still gets its ratio (the
step is lr * eta * ||w||-sized, as LARS promises); lr * local_lr_t is rounded to the
parameter's dtype before it scales the step.

Weight decay: the paper's beta enters the rule twice, in the local lr (its denominator) and in
the step (g_t + beta * w_{t-1}).  So ``weight_decay=`` is read as ``weight_decay_rate``, the rule's
own (``minidl.optim.rule_decay``); the base class decays nothing, so nothing is decayed twice.

Defaults:

    convention  lr    momentum  eta    eps  weight decay
    paper       1.0   0.9       0.001  0    weight_decay_rate 0 (weight_decay= sets it)

The paper fixes no defaults; eta 0.001 and eps 0 are TensorFlow's ``LARSOptimizer`` (its
``eeta``, ``epsilon``), momentum 0.9 that of the paper's runs; lr 1 with eta 0.001 moves each layer
by 0.001 of its norm per step before momentum, as Lamb at its default lr 0.001.

.. note:: Where implementations differ.  (1) Which parameters: the paper scales every layer;
   TensorFlow's ``LARSOptimizer`` (``skip_list``), MindSpore's ``LARS`` (``lars_filter``, by
   default every parameter but biases and LayerNorm), MoCo v3's LARS (parameters of one
   dimension or less) and Lightning Bolts' and timm's (parameters with weight decay 0, for
   SimCLR and BYOL) leave biases and normalisation parameters out of the ratio and the decay.
   Here every parameter gets its ratio; a param group cannot switch it off.  (2) A zero norm:
   the paper leaves it open; the local lr is then 1, as in TensorFlow and MoCo v3 (a
   zero-initialised bias takes plain SGD steps at first).  (3) eps: 0 here and in TensorFlow;
   MindSpore 1e-5, timm 1e-8.  (4) NVIDIA's LARC (apex; timm's ``trust_clip``) and MindSpore's
   ``use_clip`` clip the local lr so that lr * local_lr_t is at most lr.  (5) PyTorch ports built
   on ``torch.optim.SGD`` (MoCo v3, Lightning Bolts, timm) keep lr outside the momentum
   (v_t = momentum * v_{t-1} + local_lr_t * (g_t + beta * w), w_t = w_{t-1} - lr * v_t): the same
   weights while lr is constant.  MoCo v3 divides by ||g_t + beta * w_{t-1}||, the norm of the
   decayed gradient, in place of ||g_t|| + beta * ||w_{t-1}|| (an upper bound of it).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim import rule_decay
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_nonnegative, check_positive

#: the conventions whose weight decay is the rule's own (in the local lr and the step)
DECAY_IN_RULE = ("paper",)


def _routed(convention, given):
    """``given`` (keyword arguments or a param group) with ``weight_decay`` read as the rule's
    ``weight_decay_rate``, checked first under the name the user wrote."""
    if convention in DECAY_IN_RULE and isinstance(given, dict) and given.get("weight_decay") is not None:
        check_nonnegative(given["weight_decay"], "weight_decay")
    return rule_decay.routed(convention, DECAY_IN_RULE, given)


def _norm(xp, x):
    """||x|| on the device, its squares summed in float64 (a float32 square may overflow)."""
    flat = x.reshape(-1).astype(xp.float64, copy=False)
    return xp.sqrt(xp.dot(flat, flat))


class LARS(Optimizer):
    __doc__ = __doc__
    ELEMENTWISE = False
    DEFAULTS = {
        "paper": {"lr": 1.0, "momentum": 0.9, "eta": 0.001, "eps": 0.0, "weight_decay_rate": 0.0},
    }

    def __init__(self, params, lr=None, momentum=None, eta=None, eps=None, weight_decay=None,
                 convention="paper", **options):
        hyper = _routed(convention, {"weight_decay": weight_decay, **options})
        super().__init__(params, convention, lr=lr, momentum=momentum, eta=eta, eps=eps, **hyper)

    def add_param_group(self, group):
        super().add_param_group(_routed(self.convention, group))

    def validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_positive(group["eta"], "eta")
        check_nonnegative(group["eps"], "eps")
        check_nonnegative(group["weight_decay_rate"], "weight_decay_rate")
        rule_decay.check_base_decay_off(group, self.convention, DECAY_IN_RULE, "LARS")

    def init_state(self, w, group):
        return {"step": 0, "momentum_buffer": B.get_array_module(w).zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, momentum, eta, eps, beta = (group[k] for k in ("lr", "momentum", "eta", "eps", "weight_decay_rate"))
        state["step"] += 1
        w_norm = _norm(xp, w)
        g_norm = _norm(xp, g)
        both = (w_norm > 0) & (g_norm > 0)
        local_lr = xp.where(both, eta * w_norm / xp.where(both, g_norm + beta * w_norm + eps, 1.0), 1.0)
        scale = (lr * local_lr).astype(w.dtype)
        v = state["momentum_buffer"]
        v *= momentum
        v += scale * (g + beta * w) if beta else scale * g
        w -= v
