r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

Plain, centered (divide by an estimate of the gradient's standard deviation
instead of its RMS) and with optional momentum ``mu``. ``^2``, ``sqrt`` and ``/``
are elementwise; ``v`` (state ``"square_avg"``), ``m`` (``"grad_avg"``, centered
only) and ``b`` (``"momentum_buffer"``, momentum only) start at 0.

* ``keras`` (Keras 3 ``RMSprop``) and ``paper`` (Hinton, Coursera lecture 6e,
  2012; centered: Graves 2013, "Generating sequences with recurrent neural
  networks", eqs. 38-41): epsilon inside the square root

      v_t     = rho * v_{t-1} + (1 - rho) * g_t^2
      m_t     = rho * m_{t-1} + (1 - rho) * g_t           (centered only)
      denom_t = sqrt(v_t - m_t^2 + eps)                    (centered)
      denom_t = sqrt(v_t + eps)                            (not centered)
      step_t  = lr * g_t / denom_t
      b_t     = mu * b_{t-1} + step_t                      (mu > 0 only)
      w_t     = w_{t-1} - b_t                              (mu > 0)
      w_t     = w_{t-1} - step_t                           (mu = 0)

  keras defaults: lr 0.001, rho 0.9, momentum 0, eps 1e-7, centered False.
  paper defaults: lr 0.001, rho 0.9, momentum 0, eps 1e-8, centered False.
  Hinton's slide gives rho = 0.9 and no epsilon and no lr; we take Keras's lr and a
  tiny eps that only guards the division. (Graves used rho 0.95, mu 0.9, lr 1e-4,
  eps 1e-4 with centered=True; pass them explicitly to reproduce his setting.)
  Graves writes the momentum as Delta_t = mu * Delta_{t-1} - lr * g_t / denom_t,
  w_t = w_{t-1} + Delta_t, which is the rule above with Delta_t = -b_t.

* ``pytorch`` (``torch.optim.RMSprop``; PyTorch calls rho ``alpha``): epsilon
  outside the square root, lr applied after the momentum buffer

      v_t     = rho * v_{t-1} + (1 - rho) * g_t^2
      m_t     = m_{t-1} + (1 - rho) * (g_t - m_{t-1})      (centered only; = rho*m + (1-rho)*g)
      denom_t = sqrt(v_t - m_t^2) + eps                    (centered)
      denom_t = sqrt(v_t) + eps                            (not centered)
      b_t     = mu * b_{t-1} + g_t / denom_t               (mu > 0 only)
      step_t  = lr * b_t                                   (mu > 0)
      step_t  = lr * g_t / denom_t                         (mu = 0)
      w_t     = w_{t-1} - step_t

  defaults: lr 0.01, rho 0.99, momentum 0, eps 1e-8, centered False.

With a constant lr the two momentum forms give the same weights (b_keras = lr * b_pytorch);
they differ when lr changes between steps.
Weight decay and clipping are applied before this rule by the base class.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import (Optimizer, check_bool, check_lr, check_nonnegative, check_positive,
                                    check_range, ema_update)


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, denom, buf, lr, rho, eps, momentum,
                   eps_inside_sqrt):
    """One RMSprop step in place on ``param`` and the state arrays.

    ``grad_avg`` is None unless centered, ``momentum_buffer`` None unless ``momentum > 0``;
    ``eps_inside_sqrt`` selects the Keras/paper form (True) or PyTorch's (False).
    ``denom`` and ``buf`` are scratch space; the operations are those of
    ``RMSprop.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    xp.multiply(grad, grad, out=buf)                         # v = rho v + (1 - rho) g^2
    ema_update(square_avg, buf, rho, buf)
    if grad_avg is not None:
        if eps_inside_sqrt:                                  # m = rho m + (1 - rho) g
            ema_update(grad_avg, grad, rho, buf)
        else:                                                # m += (1 - rho) (g - m)
            xp.subtract(grad, grad_avg, out=buf)
            buf *= dt(1 - rho)
            grad_avg += buf
        xp.multiply(grad_avg, grad_avg, out=denom)           # v - m^2
        xp.subtract(square_avg, denom, out=denom)
        src = denom
    else:
        src = square_avg
    if eps_inside_sqrt:                                      # sqrt(. + eps)
        xp.add(src, dt(eps), out=denom)
        xp.sqrt(denom, out=denom)
    else:                                                    # sqrt(.) + eps
        xp.sqrt(src, out=denom)
        denom += dt(eps)
    if momentum_buffer is None:                              # w -= lr g / denom
        xp.multiply(grad, dt(lr), out=buf)
        buf /= denom
        param -= buf
    elif eps_inside_sqrt:                                    # b = mu b + lr g / denom; w -= b
        xp.multiply(grad, dt(lr), out=buf)
        buf /= denom
        momentum_buffer *= dt(momentum)
        momentum_buffer += buf
        param -= momentum_buffer
    else:                                                    # b = mu b + g / denom; w -= lr b
        momentum_buffer *= dt(momentum)
        xp.divide(grad, denom, out=buf)
        momentum_buffer += buf
        xp.multiply(momentum_buffer, dt(lr), out=buf)
        param -= buf


class RMSprop(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-7, "centered": False},
        "pytorch": {"lr": 0.01, "rho": 0.99, "momentum": 0.0, "eps": 1e-8, "centered": False},
        "paper": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-8, "centered": False},
    }

    def __init__(self, params, lr=None, rho=None, momentum=None, eps=None, centered=None,
                 weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, rho=rho, momentum=momentum, eps=eps,
                         centered=centered, weight_decay=weight_decay, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_range(group["rho"], "rho", 0, 1)
        check_nonnegative(group["momentum"], "momentum")
        check_positive(group["eps"], "eps")
        check_bool(group["centered"], "centered")

    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "square_avg": xp.zeros_like(w)}
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(w)
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(w)
        return state

    def reference_step(self, w, g, state, group):
        """The rule of the docstring, allocating: ``(new_w, new_state, quantities)``."""
        xp = B.get_array_module(w)
        lr, rho, eps, mu = group["lr"], group["rho"], group["eps"], group["momentum"]
        centered = group["centered"]
        new = {"step": state["step"] + 1}
        q = [("g", "gradient g_t", g)]
        v = rho * state["square_avg"] + (1 - rho) * (g * g)
        new["square_avg"] = v
        q.append(("v", "mean square v_t = rho * v_{t-1} + (1 - rho) * g_t^2", v))
        if self.convention == "pytorch":
            if centered:
                m = state["grad_avg"] + (1 - rho) * (g - state["grad_avg"])
                new["grad_avg"] = m
                q.append(("m", "mean gradient m_t = m_{t-1} + (1 - rho) * (g_t - m_{t-1})", m))
                denom = xp.sqrt(v - m * m) + eps
                q.append(("denom", "denom_t = sqrt(v_t - m_t^2) + eps", denom))
            else:
                denom = xp.sqrt(v) + eps
                q.append(("denom", "denom_t = sqrt(v_t) + eps", denom))
            if mu > 0:
                b = mu * state["momentum_buffer"] + g / denom
                new["momentum_buffer"] = b
                q.append(("b", "momentum buffer b_t = mu * b_{t-1} + g_t / denom_t", b))
                step = lr * b
                q.append(("step", "step_t = lr * b_t", step))
            else:
                step = lr * g / denom
                q.append(("step", "step_t = lr * g_t / denom_t", step))
            w_new = w - step
            q.append(("w", "new weight w_t = w_{t-1} - step_t", w_new))
            return w_new, new, q
        if centered:
            m = rho * state["grad_avg"] + (1 - rho) * g
            new["grad_avg"] = m
            q.append(("m", "mean gradient m_t = rho * m_{t-1} + (1 - rho) * g_t", m))
            denom = xp.sqrt(v - m * m + eps)
            q.append(("denom", "denom_t = sqrt(v_t - m_t^2 + eps)", denom))
        else:
            denom = xp.sqrt(v + eps)
            q.append(("denom", "denom_t = sqrt(v_t + eps)", denom))
        step = lr * g / denom
        q.append(("step", "step_t = lr * g_t / denom_t", step))
        if mu > 0:
            b = mu * state["momentum_buffer"] + step
            new["momentum_buffer"] = b
            q.append(("b", "momentum buffer b_t = mu * b_{t-1} + step_t", b))
            w_new = w - b
            q.append(("w", "new weight w_t = w_{t-1} - b_t", w_new))
        else:
            w_new = w - step
            q.append(("w", "new weight w_t = w_{t-1} - step_t", w_new))
        return w_new, new, q

    def _update(self, param, grad, state, group):
        state["step"] += 1
        rmsprop_update(param, grad, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                       self.scratch_like(param, 0), self.scratch_like(param, 1), group["lr"], group["rho"], group["eps"], group["momentum"],
                       eps_inside_sqrt=self.convention != "pytorch")
