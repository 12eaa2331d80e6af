r"""Adadelta: Adagrad's rate without the ever-growing sum, and in the units of the weights.

The step is a ratio of two running root mean squares, RMS[x] = sqrt(E[x^2] + eps):
that of the past updates over that of the gradients. ``^2``, ``sqrt`` and ``/``
are elementwise; ``v`` = E[g^2] (state ``"square_avg"``) and ``u`` = E[dx^2]
(state ``"acc_delta"``) start at 0. One formula for every convention:

    v_t  = rho * v_{t-1} + (1 - rho) * g_t^2
    dx_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
    u_t  = rho * u_{t-1} + (1 - rho) * dx_t^2
    w_t  = w_{t-1} - lr * dx_t

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
from minidl.optim.optimizer import Optimizer, check_lr, check_positive, check_range, ema_update


def adadelta_update(param, grad, square_avg, acc_delta, delta, buf, lr, rho, eps):
    """One Adadelta step in place on ``param``, ``square_avg`` (E[g^2]) and ``acc_delta`` (E[dx^2]).

    ``delta`` and ``buf`` are scratch space; the operations are those of
    ``Adadelta.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    xp.multiply(grad, grad, out=buf)                         # v = rho v + (1 - rho) g^2
    ema_update(square_avg, buf, rho, buf)
    xp.add(acc_delta, dt(eps), out=delta)                    # dx = sqrt(u + eps) / sqrt(v + eps) * g
    xp.sqrt(delta, out=delta)
    xp.add(square_avg, dt(eps), out=buf)
    xp.sqrt(buf, out=buf)
    delta /= buf
    delta *= grad
    xp.multiply(delta, delta, out=buf)                       # u = rho u + (1 - rho) dx^2
    ema_update(acc_delta, buf, rho, buf)
    delta *= dt(lr)                                          # w -= lr dx
    param -= delta


class Adadelta(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "rho": 0.95, "eps": 1e-7},
        "pytorch": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
        "paper": {"lr": 1.0, "rho": 0.95, "eps": 1e-6},
    }

    def __init__(self, params, lr=None, rho=None, eps=None, weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_range(group["rho"], "rho", 0, 1)
        check_positive(group["eps"], "eps")

    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "square_avg": xp.zeros_like(w), "acc_delta": xp.zeros_like(w)}

    def reference_step(self, w, g, state, group):
        """The rule of the docstring, allocating: ``(new_w, new_state, quantities)``."""
        xp = B.get_array_module(w)
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        q = [("g", "gradient g_t", g)]
        v = rho * state["square_avg"] + (1 - rho) * (g * g)
        q.append(("v", "mean square gradient v_t = rho * v_{t-1} + (1 - rho) * g_t^2", v))
        dx = xp.sqrt(state["acc_delta"] + eps) / xp.sqrt(v + eps) * g
        q.append(("dx", "update dx_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t", dx))
        u = rho * state["acc_delta"] + (1 - rho) * (dx * dx)
        q.append(("u", "mean square update u_t = rho * u_{t-1} + (1 - rho) * dx_t^2", u))
        w_new = w - lr * dx
        q.append(("w", "new weight w_t = w_{t-1} - lr * dx_t", w_new))
        return w_new, {"step": state["step"] + 1, "square_avg": v, "acc_delta": u}, q

    def _update(self, param, grad, state, group):
        state["step"] += 1
        adadelta_update(param, grad, state["square_avg"], state["acc_delta"], self.scratch_like(param, 0),
                        self.scratch_like(param, 1), group["lr"], group["rho"], group["eps"])
