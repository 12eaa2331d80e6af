r"""SGD: (full-batch) gradient descent, stochastic and mini-batch SGD, heavy-ball and Nesterov momentum.

Gradient descent, SGD and mini-batch GD are one rule; they differ only in the
batch the gradient ``g_t`` is computed on (all examples, one, or B of them).

Without momentum (every convention):

    w_t = w_{t-1} - lr * g_t

With momentum ``mu > 0``, by convention:

* ``keras`` (Keras 3 ``SGD``) and ``paper`` (Sutskever et al. 2013, the same form):

      v_t = mu * v_{t-1} - lr * g_t                       (v_0 = 0)
      w_t = w_{t-1} + v_t                                 (heavy ball)
      w_t = w_{t-1} + mu * v_t - lr * g_t                 (nesterov=True)

* ``pytorch`` (``torch.optim.SGD``), with dampening ``d``:

      b_1 = g_1;   b_t = mu * b_{t-1} + (1 - d) * g_t      (t > 1)
      w_t = w_{t-1} - lr * b_t                            (heavy ball)
      w_t = w_{t-1} - lr * (g_t + mu * b_t)               (nesterov=True)

  With a constant lr and d = 0 both forms give the same weights (v_t = -lr * b_t);
  they differ when lr changes between steps.

Defaults: lr 0.01 (Keras, paper), 0.001 (PyTorch 2.x); momentum 0; nesterov False;
dampening 0 (PyTorch only).
Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer, check_bool, check_lr, check_nonnegative, check_range


def sgd_update(param, grad, velocity, buf, buf2, lr, momentum, nesterov, dampening, convention, first_step):
    """One SGD step in place on ``param`` (and ``velocity``, the momentum buffer).

    ``buf``, ``buf2`` are scratch space; the operations are those of ``SGD.reference_step``
    in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    if momentum == 0:
        xp.multiply(grad, dt(lr), out=buf)                   # w -= lr g
        param -= buf
        return
    if convention == "pytorch":
        if first_step:
            velocity[...] = grad                             # b_1 = g_1
        else:
            velocity *= dt(momentum)                         # b = mu b + (1 - d) g
            xp.multiply(grad, dt(1 - dampening), out=buf)
            velocity += buf
        if nesterov:                                         # w -= lr (g + mu b)
            xp.multiply(velocity, dt(momentum), out=buf)
            buf += grad
            buf *= dt(lr)
        else:                                                # w -= lr b
            xp.multiply(velocity, dt(lr), out=buf)
        param -= buf
    else:
        velocity *= dt(momentum)                             # v = mu v - lr g
        xp.multiply(grad, dt(lr), out=buf)
        velocity -= buf
        if nesterov:                                         # w += mu v - lr g
            xp.multiply(velocity, dt(momentum), out=buf2)
            buf2 -= buf
            param += buf2
        else:                                                # w += v
            param += velocity


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

    def _validate(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_bool(group["nesterov"], "nesterov")
        if group["nesterov"] and group["momentum"] <= 0:
            raise ValueError(f"Invalid nesterov: True needs momentum > 0 (got momentum={group['momentum']!r})")
        if "dampening" in group:
            check_range(group["dampening"], "dampening", 0, 1)
            if group["nesterov"] and group["dampening"] != 0:
                raise ValueError(f"Invalid dampening: {group['dampening']!r} (Nesterov momentum needs dampening 0)")

    def initial_state(self, w, group):
        state = {"step": 0}
        if group["momentum"] > 0:
            state["momentum_buffer"] = B.get_array_module(w).zeros_like(w)
        return state

    def reference_step(self, w, g, state, group):
        """The rule of the docstring, allocating: ``(new_w, new_state, quantities)``."""
        lr, mu, nesterov = group["lr"], group["momentum"], group["nesterov"]
        step = state["step"] + 1
        q = [("g", "gradient g_t", g)]
        if mu == 0:
            w_new = w - lr * g
            q.append(("w", "new weight w_t = w_{t-1} - lr * g_t", w_new))
            return w_new, {"step": step}, q
        if self.convention == "pytorch":
            d = group.get("dampening", 0.0)
            if step == 1:
                b = g.copy()
                q.append(("b", "momentum buffer b_1 = g_1", b))
            else:
                b = mu * state["momentum_buffer"] + (1 - d) * g
                q.append(("b", "momentum buffer b_t = mu * b_{t-1} + (1 - d) * g_t", b))
            if nesterov:
                w_new = w - lr * (g + mu * b)
                q.append(("w", "new weight w_t = w_{t-1} - lr * (g_t + mu * b_t)", w_new))
            else:
                w_new = w - lr * b
                q.append(("w", "new weight w_t = w_{t-1} - lr * b_t", w_new))
            return w_new, {"step": step, "momentum_buffer": b}, q
        v = mu * state["momentum_buffer"] - lr * g
        q.append(("v", "velocity v_t = mu * v_{t-1} - lr * g_t", v))
        if nesterov:
            w_new = w + (mu * v - lr * g)
            q.append(("w", "new weight w_t = w_{t-1} + mu * v_t - lr * g_t", w_new))
        else:
            w_new = w + v
            q.append(("w", "new weight w_t = w_{t-1} + v_t", w_new))
        return w_new, {"step": step, "momentum_buffer": v}, q

    def _update(self, param, grad, state, group):
        state["step"] += 1
        sgd_update(param, grad, state.get("momentum_buffer"), self.scratch_like(param, 0),
                   self.scratch_like(param, 1), group["lr"], group["momentum"], group["nesterov"],
                   group.get("dampening", 0.0), self.convention, state["step"] == 1)
