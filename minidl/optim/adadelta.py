r"""Adadelta: Adagrad's rate without the ever-growing sum, and in the units of the weights.

The step is a ratio of two running root mean squares, RMS[x] = sqrt(E[x^2] + eps):
that of the past updates over that of the gradients.  ``^2``, ``sqrt`` and ``/`` are
elementwise; ``v`` = E[g^2] and ``u`` = E[dx^2] start at 0.  One formula for every convention:

Rule (every convention):

    v_t = rho * v_{t-1} + (1 - rho) * g_t^2                  # state "square_avg"
    dx_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
    u_t = rho * u_{t-1} + (1 - rho) * dx_t^2                 # state "acc_delta"
    w_t = w_{t-1} - lr * dx_t

Both Keras 3 and PyTorch put eps inside both square roots, as the paper does.
The conventions differ only in their defaults:

* ``keras`` (Keras 3 ``Adadelta``): lr 0.001, rho 0.95, eps 1e-7 (Keras scales the
  paper's update by a learning rate; with lr 0.001 it moves 1000 times slower
  than the paper; its docs say to use 1.0 to match the paper);
* ``pytorch`` (``torch.optim.Adadelta``): lr 1.0, rho 0.9, eps 1e-6;
* ``paper`` (Zeiler 2012, "ADADELTA: an adaptive learning rate method", Algorithm 1):
  the paper has no learning rate, which is lr = 1.0 here; rho 0.95 and eps 1e-6
  are the values of its MNIST experiments.

Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_positive, check_range


class Adadelta(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "rho": 0.95, "eps": 1e-7},
        "pytorch": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
        "paper": {"lr": 1.0, "rho": 0.95, "eps": 1e-6},
    }

    def __init__(self, params, lr=None, rho=None, eps=None, weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["rho"], "rho", 0, 1)
        check_positive(group["eps"], "eps")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "square_avg": xp.zeros_like(w), "acc_delta": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        state["step"] += 1
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        dx = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * dx * dx
        w -= lr * dx
