r"""Rprop: resilient backpropagation, a full-batch method that uses only the gradient's sign.

Each weight has its own step size ``delta`` (state ``"step_size"``, starting at
``lr``): it grows by ``eta+`` while the gradient keeps its sign and shrinks by
``eta-`` when the sign flips, always within ``[delta_min, delta_max]``
(``etas = (eta-, eta+)``, ``step_sizes = (delta_min, delta_max)``). The weight
moves by ``delta`` against the sign of the gradient. Everything is elementwise;
``g_prev`` (state ``"prev_grad"``) starts at 0. Rprop is meant for full-batch
gradients: mini-batch noise flips signs at random.

Keras has no Rprop, so only two conventions exist (the default is ``pytorch``):

* ``pytorch`` (``torch.optim.Rprop``; the variant Igel & Huesken 2000 call iRprop-:
  no weight backtracking, the gradient is set to 0 after a sign change, so the
  weight waits one step there):

      s_t       = sign(g_t * g_prev)
      eta_t     = eta+ where s_t > 0,  eta- where s_t < 0,  1 where s_t = 0
      delta_t   = clip(eta_t * delta_{t-1}, delta_min, delta_max)      (delta_0 = lr)
      g_prev    = where(s_t < 0, 0, g_t)                               (kept for the next step)
      w_t       = w_{t-1} - sign(g_prev) * delta_t

  defaults: lr 0.01, etas (0.5, 1.2), step_sizes (1e-6, 50).

* ``paper`` (Riedmiller & Braun 1993, "A direct adaptive method for faster
  backpropagation learning: the RPROP algorithm": the original algorithm with
  weight backtracking, called Rprop+ by Igel & Huesken): after a sign change the
  previous weight change is undone (``dw`` is state ``"prev_delta"``, starting at 0):

      s_t       = sign(g_t * g_prev)
      eta_t     = eta+ where s_t > 0,  eta- where s_t < 0,  1 where s_t = 0
      delta_t   = clip(eta_t * delta_{t-1}, delta_min, delta_max)      (delta_0 = lr)
      dw_t      = where(s_t < 0, -dw_{t-1}, -sign(g_t) * delta_t)
      g_prev    = where(s_t < 0, 0, g_t)                               (kept for the next step)
      w_t       = w_{t-1} + dw_t

  defaults: lr (delta_0) 0.1, etas (0.5, 1.2), step_sizes (1e-6, 50), the values
  the paper recommends.

Both clip delta at every step, also where s_t = 0 (the paper leaves delta unchanged
there, which differs only when delta_0 lies outside the limits). ``lr`` only sets
the initial step size: changing it after the first step has no effect.
Weight decay (coupled, added to g_t) and clipping are applied before this rule by the
base class; clipping keeps every gradient's sign, so it does not change Rprop's steps.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer, check_lr, check_pair


def rprop_update(param, grad, prev_grad, step_size, prev_delta, buf, factor,
                 eta_minus, eta_plus, step_min, step_max):
    """One Rprop step in place on ``param`` and the state arrays.

    ``prev_delta`` is None for PyTorch's variant (no backtracking), the previous weight
    change for the paper's Rprop+ (undone where the gradient's sign flipped).
    ``buf`` and ``factor`` are scratch space; the operations are those of
    ``Rprop.reference_step`` (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    xp.multiply(grad, prev_grad, out=buf)                    # s = sign(g g_prev)
    xp.sign(buf, out=buf)
    flipped = buf < 0
    factor.fill(dt(1))                                       # eta: eta+ (s > 0), eta- (s < 0), 1
    xp.copyto(factor, dt(eta_plus), where=buf > 0)
    xp.copyto(factor, dt(eta_minus), where=flipped)
    step_size *= factor                                      # delta = clip(eta delta, min, max)
    xp.clip(step_size, dt(step_min), dt(step_max), out=step_size)
    xp.copyto(prev_grad, grad)                               # g_prev = where(s < 0, 0, g)
    xp.copyto(prev_grad, dt(0), where=flipped)
    if prev_delta is None:                                   # w -= sign(g_prev) delta
        xp.sign(prev_grad, out=buf)
        buf *= step_size
        param -= buf
    else:                                                    # dw = where(s < 0, -dw, -sign(g) delta)
        xp.sign(grad, out=buf)
        xp.negative(buf, out=buf)
        buf *= step_size
        xp.negative(prev_delta, out=prev_delta)
        xp.copyto(prev_delta, buf, where=~flipped)
        param += prev_delta                                  # w += dw


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

    def _validate(self, group):
        check_lr(group["lr"])
        eta_minus, eta_plus = group["etas"] = check_pair(group["etas"], "etas")
        if not 0 < eta_minus < 1 < eta_plus:
            raise ValueError(f"Invalid etas: {group['etas']!r} (expected (eta-, eta+) with 0 < eta- < 1 < eta+)")
        step_min, step_max = group["step_sizes"] = check_pair(group["step_sizes"], "step_sizes")
        if not 0 <= step_min <= step_max or step_max <= 0:
            raise ValueError(f"Invalid step_sizes: {group['step_sizes']!r} "
                             "(expected (min, max) with 0 <= min <= max and max > 0)")

    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "prev_grad": xp.zeros_like(w), "step_size": xp.full_like(w, group["lr"])}
        if self.convention == "paper":
            state["prev_delta"] = xp.zeros_like(w)
        return state

    def reference_step(self, w, g, state, group):
        """The rule of the docstring, allocating: ``(new_w, new_state, quantities)``."""
        xp = B.get_array_module(w)
        dt = w.dtype.type
        eta_minus, eta_plus = group["etas"]
        step_min, step_max = group["step_sizes"]
        q = [("g", "gradient g_t", g)]
        s = xp.sign(g * state["prev_grad"])
        q.append(("s", "sign change s_t = sign(g_t * g_prev)", s))
        eta = xp.where(s > 0, dt(eta_plus), xp.where(s < 0, dt(eta_minus), dt(1)))
        q.append(("eta", "factor eta_t = eta+ (s_t > 0), eta- (s_t < 0), 1 (s_t = 0)", eta))
        delta = xp.clip(eta * state["step_size"], step_min, step_max)
        q.append(("delta", "step size delta_t = clip(eta_t * delta_{t-1}, delta_min, delta_max)", delta))
        new = {"step": state["step"] + 1, "step_size": delta}
        if self.convention == "pytorch":
            g_prev = xp.where(s < 0, dt(0), g)
            q.append(("g_prev", "kept gradient g_prev = where(s_t < 0, 0, g_t)", g_prev))
            w_new = w - xp.sign(g_prev) * delta
            q.append(("w", "new weight w_t = w_{t-1} - sign(g_prev) * delta_t", w_new))
        else:
            dw = xp.where(s < 0, -state["prev_delta"], -xp.sign(g) * delta)
            q.append(("dw", "weight change dw_t = where(s_t < 0, -dw_{t-1}, -sign(g_t) * delta_t)", dw))
            g_prev = xp.where(s < 0, dt(0), g)
            q.append(("g_prev", "kept gradient g_prev = where(s_t < 0, 0, g_t)", g_prev))
            w_new = w + dw
            q.append(("w", "new weight w_t = w_{t-1} + dw_t", w_new))
            new["prev_delta"] = dw
        new["prev_grad"] = g_prev
        return w_new, new, q

    def _update(self, param, grad, state, group):
        state["step"] += 1
        eta_minus, eta_plus = group["etas"]
        step_min, step_max = group["step_sizes"]
        rprop_update(param, grad, state["prev_grad"], state["step_size"], state.get("prev_delta"),
                     self.scratch_like(param, 0), self.scratch_like(param, 1),
                     eta_minus, eta_plus, step_min, step_max)
