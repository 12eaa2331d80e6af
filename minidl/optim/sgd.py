r"""SGD: (full-batch) gradient descent, stochastic and mini-batch SGD, heavy-ball and Nesterov momentum.

Gradient descent, SGD and mini-batch GD are one rule; they differ only in the batch the
gradient ``g_t`` is computed on (all examples, one, or B of them).  Without momentum
(``mu = 0``, every convention) the rule is ``w_t = w_{t-1} - lr * g_t``.

Rule (keras, paper):  Keras 3 ``SGD``; Sutskever et al. 2013, the same form (v_0 = 0)

    v_t = mu * v_{t-1} - lr * g_t                            # mu > 0 only, state "momentum_buffer"
    w_t = w_{t-1} + v_t                                      # heavy ball; w_{t-1} + mu * v_t - lr * g_t with nesterov; w_{t-1} - lr * g_t without momentum

Rule (pytorch):  ``torch.optim.SGD``, with dampening d (b_1 = g_1)

    b_t = mu * b_{t-1} + (1 - d) * g_t                       # mu > 0 only (b_1 = g_1), state "momentum_buffer"
    w_t = w_{t-1} - lr * b_t                                 # heavy ball; w_{t-1} - lr * (g_t + mu * b_t) with nesterov; w_{t-1} - lr * g_t without momentum

With a constant lr and d = 0 both forms give the same weights (v_t = -lr * b_t); they
differ when lr changes between steps.

Defaults: lr 0.01 (Keras, paper), 0.001 (PyTorch 2.x); momentum 0; nesterov False;
dampening 0 (PyTorch only).
Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_nonnegative, check_range


class SGD(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.01, "momentum": 0.0, "nesterov": False},
        "pytorch": {"lr": 0.001, "momentum": 0.0, "nesterov": False, "dampening": 0.0},
        "paper": {"lr": 0.01, "momentum": 0.0, "nesterov": False},
    }

    def __init__(self, params, lr=None, momentum=None, nesterov=None, weight_decay=None,
                 convention="keras", **options):
        super().__init__(params, convention, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_bool(group["nesterov"], "nesterov")
        if group["nesterov"] and group["momentum"] <= 0:
            raise ValueError(f"Invalid nesterov: True needs momentum > 0 (got momentum={group['momentum']!r})")
        if "dampening" in group:
            check_range(group["dampening"], "dampening", 0, 1)
            if group["nesterov"] and group["dampening"] != 0:
                raise ValueError(f"Invalid dampening: {group['dampening']!r} (Nesterov momentum needs dampening 0)")

    def init_state(self, w, group):
        state = {"step": 0}
        if group["momentum"] > 0:
            state["momentum_buffer"] = B.get_array_module(w).zeros_like(w)
        return state

    def update(self, w, g, state, group):
        lr, mu, nesterov = group["lr"], group["momentum"], group["nesterov"]
        state["step"] += 1
        if mu == 0:
            w -= lr * g
        elif self.convention == "pytorch":
            b = state["momentum_buffer"]
            if state["step"] == 1:
                b[...] = g
            else:
                b *= mu
                b += (1 - group["dampening"]) * g
            w -= lr * (g + mu * b) if nesterov else lr * b
        else:
            v = state["momentum_buffer"]
            v *= mu
            v -= lr * g
            w += mu * v - lr * g if nesterov else v
