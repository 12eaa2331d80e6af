"""Lion: evolved sign momentum (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
arXiv:2302.06675, Algorithm 2), as Keras 3's ``keras.optimizers.Lion`` runs it.

Every element moves by exactly ``lr`` (or stays put where the interpolation is 0): the
direction is the sign of an interpolation c_t between the momentum m_{t-1} and the gradient,
with beta1; the momentum itself is then updated with another rate, beta2.  m_0 = 0.

Rule (every convention):

    c_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # the interpolation that gives the direction
    step_t = lr * sign(c_t)
    w_t = w_{t-1} - step_t                                   # from w_decayed where weight_decay > 0
    m_t = beta2 * m_{t-1} + (1 - beta2) * g_t                # state "exp_avg", Keras's "momentum"

Weight decay is decoupled in every convention (``DECOUPLED_WEIGHT_DECAY``), done by the base
before the rule: ``w_decayed = w_{t-1} * (1 - lr * weight_decay)``.  That is Algorithm 2's
``theta_t = theta_{t-1} - eta_t * (sign(c_t) + lambda * theta_{t-1})`` with eta_t = lr and
lambda = weight_decay, and Keras's ``variable - variable * weight_decay * lr`` before its
``update_step``: the same number up to rounding.

Defaults:

    convention  lr      beta1  beta2  weight_decay
    keras       0.001   0.9    0.99   0
    paper       0.0001  0.9    0.99   0

paper takes beta1, beta2 from the paper ("0.9 and 0.99") and lr = 1e-4, weight_decay = 0 from
the authors' implementation (google/automl, ``lion_pytorch.py``); the paper advises an lr 3-10x
smaller than AdamW's and a weight decay 3-10x larger, so that lr * weight_decay stays alike.

.. note:: The two conventions run the same rule; they differ only in the defaults.  The
   step's size does not depend on the gradient's size, only on signs; clipping still counts,
   as it changes the weight of g_t against m_{t-1} in c_t.  Keras refuses beta1 = 0 (Lion
   would be sign descent); so does this class.  sign(0) = 0: an element whose c_t is 0
   (a zero gradient and a zero momentum) does not move.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_range


class Lion(Optimizer):
    __doc__ = __doc__
    DECOUPLED_WEIGHT_DECAY = True
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.99},
        "paper": {"lr": 0.0001, "beta1": 0.9, "beta2": 0.99},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, weight_decay=None,
                 convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, low_open=True)
        check_range(group["beta2"], "beta2", 0, 1)

    def init_state(self, w, group):
        return {"step": 0, "exp_avg": B.get_array_module(w).zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2 = group["lr"], group["beta1"], group["beta2"]
        state["step"] += 1
        m = state["exp_avg"]
        c = beta1 * m + (1 - beta1) * g
        step = lr * xp.sign(c)
        w -= step
        m *= beta2
        m += (1 - beta2) * g
