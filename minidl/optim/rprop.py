r"""Rprop: resilient backpropagation, a full-batch method that uses only the gradient's sign.

Each weight has its own step size ``delta`` (state ``"step_size"``, starting at
``lr``): it grows by ``eta+`` while the gradient keeps its sign and shrinks by
``eta-`` when the sign flips, always within ``[delta_min, delta_max]``
(``etas = (eta-, eta+)``, ``step_sizes = (delta_min, delta_max)``). The weight
moves by ``delta`` against the sign of the gradient. Everything is elementwise;
``g_prev`` (state ``"prev_grad"``) starts at 0. Rprop is meant for full-batch
gradients: mini-batch noise flips signs at random.

Keras has no Rprop, so only two conventions exist (the default is ``pytorch``):

Rule (pytorch):  ``torch.optim.Rprop``, the variant Igel & Huesken 2000 call iRprop-: no weight
backtracking, the gradient is set to 0 after a sign change, so the weight waits one step there

    s_t = sign(g_t * g_prev)
    eta_t = where(s_t > 0, eta+, where(s_t < 0, eta-, 1))
    delta_t = clip(eta_t * delta_{t-1}, delta_min, delta_max)          # delta_0 = lr, state "step_size"
    g_prev = where(s_t < 0, 0, g_t)                                      # kept for the next step, state "prev_grad"
    w_t = w_{t-1} - sign(g_prev) * delta_t

Rule (paper):  Riedmiller & Braun 1993, "A direct adaptive method for faster backpropagation
learning: the RPROP algorithm": the original algorithm with weight backtracking, called Rprop+
by Igel & Huesken; after a sign change the previous weight change is undone

    s_t = sign(g_t * g_prev)
    eta_t = where(s_t > 0, eta+, where(s_t < 0, eta-, 1))
    delta_t = clip(eta_t * delta_{t-1}, delta_min, delta_max)          # delta_0 = lr, state "step_size"
    dw_t = where(s_t < 0, -dw_{t-1}, -sign(g_t) * delta_t)               # dw_0 = 0, state "prev_delta"
    g_prev = where(s_t < 0, 0, g_t)                                      # kept for the next step, state "prev_grad"
    w_t = w_{t-1} + dw_t

Defaults: pytorch lr 0.01, etas (0.5, 1.2), step_sizes (1e-6, 50); paper lr (delta_0) 0.1, the
same etas and step sizes, the values the paper recommends.

Both clip delta at every step, also where s_t = 0 (the paper leaves delta unchanged
there, which differs only when delta_0 lies outside the limits). ``lr`` only sets
the initial step size: changing it after the first step has no effect.
Weight decay (coupled, added to g_t) and clipping are applied before this rule by the
base class; clipping keeps every gradient's sign, so it does not change Rprop's steps.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_lr, check_pair


class Rprop(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "pytorch": {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)},
        "paper": {"lr": 0.1, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)},
    }

    def __init__(self, params, lr=None, etas=None, step_sizes=None, weight_decay=None,
                 convention="pytorch", **options):
        super().__init__(params, convention, lr=lr, etas=etas, step_sizes=step_sizes,
                         weight_decay=weight_decay, **options)

    def validate(self, group):
        check_lr(group["lr"])
        eta_minus, eta_plus = group["etas"] = check_pair(group["etas"], "etas")
        if not 0 < eta_minus < 1 < eta_plus:
            raise ValueError(f"Invalid etas: {group['etas']!r} (expected (eta-, eta+) with 0 < eta- < 1 < eta+)")
        step_min, step_max = group["step_sizes"] = check_pair(group["step_sizes"], "step_sizes")
        if not 0 <= step_min <= step_max or step_max <= 0:
            raise ValueError(f"Invalid step_sizes: {group['step_sizes']!r} "
                             "(expected (min, max) with 0 <= min <= max and max > 0)")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "prev_grad": xp.zeros_like(w), "step_size": xp.full_like(w, group["lr"])}
        if self.convention == "paper":
            state["prev_delta"] = xp.zeros_like(w)
        return state

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        one = w.dtype.type(1)
        eta_minus, eta_plus = (w.dtype.type(e) for e in group["etas"])
        delta_min, delta_max = group["step_sizes"]
        state["step"] += 1
        g_prev, delta = state["prev_grad"], state["step_size"]
        s = xp.sign(g * g_prev)
        eta = xp.where(s > 0, eta_plus, xp.where(s < 0, eta_minus, one))
        delta *= eta
        xp.clip(delta, delta_min, delta_max, out=delta)
        if self.convention == "paper":
            dw = state["prev_delta"]
            dw[...] = xp.where(s < 0, -dw, -xp.sign(g) * delta)
        g_prev[...] = xp.where(s < 0, 0, g)
        if self.convention == "pytorch":
            w -= xp.sign(g_prev) * delta
        else:
            w += dw
