r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

Plain, centered (divide by an estimate of the gradient's standard deviation instead of
its RMS) and with optional momentum ``mu``.  ``^2``, ``sqrt`` and ``/`` are elementwise;
``v``, ``m`` (centered only) and ``b`` (momentum only) start at 0.

Rule (keras, paper):  Keras 3 ``RMSprop``; Hinton, Coursera lecture 6e, 2012 (centered: Graves 2013,
"Generating sequences with recurrent neural networks", eqs. 38-41): epsilon inside the square root

    v_t = rho * v_{t-1} + (1 - rho) * g_t^2                  # state "square_avg"
    m_t = rho * m_{t-1} + (1 - rho) * g_t                    # centered only, state "grad_avg"
    denom_t = sqrt(v_t - m_t^2 + eps)                        # centered; sqrt(v_t + eps) otherwise
    step_t = lr * g_t / denom_t
    b_t = mu * b_{t-1} + step_t                              # mu > 0 only, state "momentum_buffer"
    w_t = w_{t-1} - b_t                                      # mu > 0; w_{t-1} - step_t otherwise

Rule (pytorch):  ``torch.optim.RMSprop`` (PyTorch calls rho ``alpha``): epsilon outside the square
root, lr applied after the momentum buffer

    v_t = rho * v_{t-1} + (1 - rho) * g_t^2                  # state "square_avg"
    m_t = m_{t-1} + (1 - rho) * (g_t - m_{t-1})              # centered only, state "grad_avg"
    denom_t = sqrt(v_t - m_t^2) + eps                        # centered; sqrt(v_t) + eps otherwise
    b_t = mu * b_{t-1} + g_t / denom_t                       # mu > 0 only, state "momentum_buffer"
    step_t = lr * b_t                                        # mu > 0; lr * g_t / denom_t otherwise
    w_t = w_{t-1} - step_t

Defaults:

    convention  lr      rho    momentum  eps    centered
    keras       0.001   0.9    0         1e-7   False
    pytorch     0.01    0.99   0         1e-8   False
    paper       0.001   0.9    0         1e-8   False

Hinton's slide gives rho = 0.9 and no epsilon and no lr; paper takes Keras's lr and a tiny
eps that only guards the division.  (Graves used rho 0.95, mu 0.9, lr 1e-4, eps 1e-4 with
centered=True; pass them explicitly to reproduce his setting.)  Graves writes the momentum
as Delta_t = mu * Delta_{t-1} - lr * g_t / denom_t, w_t = w_{t-1} + Delta_t, which is the rule
above with Delta_t = -b_t.  With a constant lr the two momentum forms give the same weights
(b_keras = lr * b_pytorch); they differ when lr changes between steps.
Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_lr, check_nonnegative, check_positive, check_range


class RMSprop(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-7, "centered": False},
        "pytorch": {"lr": 0.01, "rho": 0.99, "momentum": 0.0, "eps": 1e-8, "centered": False},
        "paper": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-8, "centered": False},
    }
    FRAMEWORK_NAMES = {"pytorch": {"alpha": "rho"}}

    def __init__(self, params, lr=None, rho=None, momentum=None, eps=None, centered=None,
                 weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, rho=rho, momentum=momentum, eps=eps,
                         centered=centered, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["rho"], "rho", 0, 1)
        check_nonnegative(group["momentum"], "momentum")
        check_positive(group["eps"], "eps")
        check_bool(group["centered"], "centered")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "square_avg": xp.zeros_like(w)}
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(w)
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(w)
        return state

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, rho, eps, mu, centered = (group[k] for k in ("lr", "rho", "eps", "momentum", "centered"))
        state["step"] += 1
        v = state["square_avg"]
        v *= rho
        v += (1 - rho) * g * g
        if centered:
            m = state["grad_avg"]
        if self.convention == "pytorch":
            if centered:
                m += (1 - rho) * (g - m)
                denom = xp.sqrt(v - m * m) + eps
            else:
                denom = xp.sqrt(v) + eps
            if mu > 0:
                b = state["momentum_buffer"]
                b *= mu
                b += g / denom
                step = lr * b
            else:
                step = lr * g / denom
            w -= step
            return
        if centered:
            m *= rho
            m += (1 - rho) * g
            denom = xp.sqrt(v - m * m + eps)
        else:
            denom = xp.sqrt(v + eps)
        step = lr * g / denom
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            b += step
            w -= b
        else:
            w -= step
