r"""Adagrad: a per-coordinate rate lr / sqrt(sum of squared gradients), which only shrinks.

Every convention accumulates the squared gradients (``^2``, ``sqrt`` and ``/``
elementwise; ``a`` is the accumulator, state ``"sum"``; ``t`` counts steps from 1):

    a_t = a_{t-1} + g_t^2                                 (a_0 = initial_accumulator_value)

and then, by convention:

* ``keras`` (Keras 3 ``Adagrad``): epsilon inside the square root

      step_t = lr * g_t / sqrt(a_t + eps)
      w_t    = w_{t-1} - step_t

  defaults: lr 0.001, initial_accumulator_value 0.1, eps 1e-7.

* ``pytorch`` (``torch.optim.Adagrad``): epsilon outside the square root, and a
  learning-rate decay

      lr_t   = lr / (1 + (t - 1) * lr_decay)
      step_t = lr_t * g_t / (sqrt(a_t) + eps)
      w_t    = w_{t-1} - step_t

  defaults: lr 0.01, lr_decay 0, initial_accumulator_value 0, eps 1e-10.

* ``paper`` (Duchi, Hazan & Singer 2011, diagonal Adagrad: the denominator is
  delta + ||g_{1:t}||_2, so epsilon sits outside the square root):

      step_t = lr * g_t / (sqrt(a_t) + eps)
      w_t    = w_{t-1} - step_t

  defaults: lr 0.01, initial_accumulator_value 0, eps 1e-10. The paper fixes no
  numbers (eta and delta are free); we take PyTorch's, whose formula is the paper's.

The effective rate lr / sqrt(a_t + eps) (or lr / (sqrt(a_t) + eps)) never increases.
Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer, check_lr, check_nonnegative, check_positive


def adagrad_update(param, grad, accumulator, denom, buf, lr, eps, eps_inside_sqrt):
    """One Adagrad step in place on ``param`` and ``accumulator`` (``lr`` already decayed).

    ``denom`` and ``buf`` are scratch space; the operations are those of
    ``Adagrad.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    xp.multiply(grad, grad, out=buf)                         # a += g^2
    accumulator += buf
    if eps_inside_sqrt:                                      # sqrt(a + eps)
        xp.add(accumulator, dt(eps), out=denom)
        xp.sqrt(denom, out=denom)
    else:                                                    # sqrt(a) + eps
        xp.sqrt(accumulator, out=denom)
        denom += dt(eps)
    xp.multiply(grad, dt(lr), out=buf)                       # w -= lr g / denom
    buf /= denom
    param -= buf


class Adagrad(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
        "pytorch": {"lr": 0.01, "lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10},
        "paper": {"lr": 0.01, "initial_accumulator_value": 0.0, "eps": 1e-10},
    }

    def __init__(self, params, lr=None, initial_accumulator_value=None, eps=None, weight_decay=None,
                 convention="keras", **options):
        super().__init__(params, convention, lr=lr, initial_accumulator_value=initial_accumulator_value,
                         eps=eps, weight_decay=weight_decay, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["initial_accumulator_value"], "initial_accumulator_value")
        check_positive(group["eps"], "eps")
        if "lr_decay" in group:
            check_nonnegative(group["lr_decay"], "lr_decay")

    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "sum": xp.full_like(w, group["initial_accumulator_value"])}

    def _lr_t(self, group, step):
        return group["lr"] / (1 + (step - 1) * group.get("lr_decay", 0.0))

    def reference_step(self, w, g, state, group):
        """The rule of the docstring, allocating: ``(new_w, new_state, quantities)``."""
        xp = B.get_array_module(w)
        eps = group["eps"]
        step_count = state["step"] + 1
        q = [("g", "gradient g_t", g)]
        a = state["sum"] + g * g
        q.append(("a", "accumulator a_t = a_{t-1} + g_t^2", a))
        if self.convention == "keras":
            step = group["lr"] * g / xp.sqrt(a + eps)
            q.append(("step", "step_t = lr * g_t / sqrt(a_t + eps)", step))
        elif self.convention == "pytorch":
            lr_t = self._lr_t(group, step_count)
            q.append(("lr_t", "decayed rate lr_t = lr / (1 + (t - 1) * lr_decay)", lr_t))
            step = lr_t * g / (xp.sqrt(a) + eps)
            q.append(("step", "step_t = lr_t * g_t / (sqrt(a_t) + eps)", step))
        else:
            step = group["lr"] * g / (xp.sqrt(a) + eps)
            q.append(("step", "step_t = lr * g_t / (sqrt(a_t) + eps)", step))
        w_new = w - step
        q.append(("w", "new weight w_t = w_{t-1} - step_t", w_new))
        return w_new, {"step": step_count, "sum": a}, q

    def _update(self, param, grad, state, group):
        state["step"] += 1
        adagrad_update(param, grad, state["sum"], self.scratch_like(param, 0), self.scratch_like(param, 1),
                       self._lr_t(group, state["step"]), group["eps"],
                       eps_inside_sqrt=self.convention == "keras")
