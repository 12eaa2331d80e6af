r"""Adagrad: a per-coordinate rate lr / sqrt(sum of squared gradients), which only shrinks.

Every convention accumulates the squared gradients (``^2``, ``sqrt`` and ``/``
elementwise; ``a`` is the accumulator, state ``"sum"``; ``t`` counts steps from 1),
a_0 = initial_accumulator_value:

Rule (every convention):

    a_t = a_{t-1} + g_t^2                                    # state "sum"

Rule (keras):  Keras 3 ``Adagrad``: epsilon inside the square root

    step_t = lr * g_t / sqrt(a_t + eps)
    w_t = w_{t-1} - step_t

Rule (pytorch):  ``torch.optim.Adagrad``: epsilon outside the square root, and a learning-rate decay

    lr_t = lr / (1 + (t - 1) * lr_decay)
    step_t = lr_t * g_t / (sqrt(a_t) + eps)
    w_t = w_{t-1} - step_t

Rule (paper):  Duchi, Hazan & Singer 2011, diagonal Adagrad (the denominator is delta + ||g_{1:t}||_2)

    step_t = lr * g_t / (sqrt(a_t) + eps)
    w_t = w_{t-1} - step_t

Defaults:

    convention  lr      initial_accumulator_value  eps     lr_decay
    keras       0.001   0.1                        1e-7    -
    pytorch     0.01    0                          1e-10   0
    paper       0.01    0                          1e-10   -

The paper fixes no numbers (eta and delta are free); paper takes PyTorch's, whose formula
is the paper's.  The effective rate lr / sqrt(a_t + eps) (or lr / (sqrt(a_t) + eps)) never
increases.  Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_nonnegative, check_positive


class Adagrad(Optimizer):
    __doc__ = __doc__
    SUMS_OF_SQUARES = ("sum",)
    DEFAULTS = {
        "keras": {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
        "pytorch": {"lr": 0.01, "lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10},
        "paper": {"lr": 0.01, "initial_accumulator_value": 0.0, "eps": 1e-10},
    }

    def __init__(self, params, lr=None, initial_accumulator_value=None, eps=None, weight_decay=None,
                 convention="keras", **options):
        super().__init__(params, convention, lr=lr, initial_accumulator_value=initial_accumulator_value,
                         eps=eps, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["initial_accumulator_value"], "initial_accumulator_value")
        check_positive(group["eps"], "eps")
        if "lr_decay" in group:
            check_nonnegative(group["lr_decay"], "lr_decay")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "sum": xp.full_like(w, group["initial_accumulator_value"])}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, eps = group["lr"], group["eps"]
        state["step"] += 1
        t = state["step"]
        a = state["sum"]
        a += g * g
        if self.convention == "keras":
            step = lr * g / xp.sqrt(a + eps)
        elif self.convention == "pytorch":
            lr_t = lr / (1 + (t - 1) * group["lr_decay"])
            step = lr_t * g / (xp.sqrt(a) + eps)
        else:
            step = lr * g / (xp.sqrt(a) + eps)
        w -= step
