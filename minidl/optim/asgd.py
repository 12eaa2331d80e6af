"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky 1992, "Acceleration of stochastic
approximation by averaging", SIAM J. Control Optim. 30(4); the step sizes of Bottou 2012,
"Stochastic Gradient Descent Tricks", and Xu 2011, arXiv:1107.2490), as ``torch.optim.ASGD``.

SGD with a decaying step size eta_t and a decay of the weights by lambd, plus a running
average ax_t of the weights, which is the point to evaluate (Polyak-Ruppert averaging):
until step t0 + 2 the average simply follows the weights, then it averages every weight since.
eta_0 = lr, mu_0 = 1, ax_0 = 0, t = 1, 2, ...

Rule (pytorch):  ``torch.optim.ASGD`` (its single-tensor path), in the order it computes

    shrink_t = 1 - lambd * eta_{t-1}                         # eta_{t-1}: this step uses the previous step size
    w_t = w_{t-1} * shrink_t - eta_{t-1} * g_t
    ax_t = ax_{t-1} + mu_{t-1} * (w_t - ax_{t-1})            # state "ax"; a copy of w_t while mu_{t-1} = 1
    eta_t = lr / (1 + lambd * lr * t)^alpha                  # the next step's size, state "eta"
    mu_t = 1 / max(1, t - t0)                                # the next step's averaging weight, state "mu"

So (for an integer t0) ax_t = w_t up to step t0 + 2, and from there on ax_t is the mean
of w_{t0+2}, ..., w_t: mu_{t-1} = 1 / (t - 1 - t0) is the weight of the newest of t - 1 - t0
points in a running mean.  With torch's default t0 = 1e6 no averaging happens in a usual
run: pass a smaller t0 (a few epochs of steps) to get it.

The averaged point.  ``opt.averaged(p)`` is the average of Parameter ``p`` (a copy of state
"ax"; ``p``'s own values before its first step).  To evaluate there and then go on training::

    saved = [p.data.copy() for p in model.parameters()]
    for p in model.parameters():
        p.data[...] = opt.averaged(p)
    ...evaluate...
    for p, w in zip(model.parameters(), saved):
        p.data[...] = w

``fit`` and ``evaluate`` do not switch on their own: ASGD trains and is evaluated at w_t,
as torch's is (the average is there for those who ask for it).

Defaults:

    convention  lr     lambd   alpha  t0
    pytorch     0.01   1e-4    0.75   1e6

.. note:: lambd is a decay of the weights inside the rule: w_{t-1} shrinks by
   lambd * eta_{t-1} at every step even where the gradient is 0 (so unlike SGD, a zero
   gradient moves the weights).  ``weight_decay`` is separate: the base class adds
   weight_decay * w_{t-1} to the gradient (L2) before this rule, as torch does.  The step
   size eta_t = lr / (1 + lambd * lr * t)^alpha is the schedule Xu (2011) proposes for
   averaged SGD, alpha = 3/4, where lambd is the strength of the objective's L2 term (torch,
   like Lua torch's optim.asgd before it, leaves the two to be set apart).  Torch keeps eta,
   mu and step as tensors; here they are Python numbers with the same float64 values.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_nonnegative


class ASGD(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {"pytorch": {"lr": 0.01, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6}}

    def __init__(self, params, lr=None, lambd=None, alpha=None, t0=None, weight_decay=None,
                 convention="pytorch", **options):
        super().__init__(params, convention, lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["lambd"], "lambd")
        check_nonnegative(group["alpha"], "alpha")
        check_nonnegative(group["t0"], "t0")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        # eta_0 = lr, as a float even for lr=1 (load_state_dict compares the types)
        return {"step": 0, "eta": 1.0 * group["lr"], "mu": 1.0, "ax": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        lr, lambd, alpha, t0 = (group[k] for k in ("lr", "lambd", "alpha", "t0"))
        state["step"] += 1
        t = state["step"]
        eta_prev, mu_prev, ax = state["eta"], state["mu"], state["ax"]
        shrink = 1 - lambd * eta_prev
        w *= shrink
        w -= eta_prev * g
        if mu_prev != 1:
            ax += (w - ax) * mu_prev
        else:
            ax[...] = w
        eta = lr / ((1 + lambd * lr * t) ** alpha)
        mu = 1 / max(1, t - t0)
        state["eta"], state["mu"] = eta, mu

    def averaged(self, p):
        """The averaged point of Parameter ``p``: a copy of its state "ax" (``p``'s own values
        before its first step)."""
        state = self.state.get(p)
        if state is None:
            if not any(p is q for group in self.param_groups for q in group["params"]):
                raise ValueError(f"ASGD.averaged: {p.name or 'this parameter'} is not a parameter of this optimizer")
            return p.data.copy()
        return state["ax"].copy()
