"""Adamax: Adam with the infinity norm in place of the second moment (Kingma & Ba 2015, Algorithm 2).

Every convention (m_0 = u_0 = 0, t = 1, 2, ...):

    m_t  = beta1 * m_{t-1} + (1 - beta1) * g_t            first moment          (state "exp_avg")
    lr_t = lr / (1 - beta1^t)                             bias correction of m, folded into lr

The exponentially weighted infinity norm u_t (state "exp_inf") and the step differ in eps:

* keras (Keras 3 ``Adamax``): eps added to u_t in the denominator

      u_t     = max(beta2 * u_{t-1}, |g_t|)
      step_t  = lr_t * m_t / (u_t + eps)
      w_t     = w_{t-1} - step_t

* pytorch (``torch.optim.Adamax``): eps added to |g_t| inside the max, so it is stored in u_t

      u_t     = max(beta2 * u_{t-1}, |g_t| + eps)
      step_t  = lr_t * m_t / u_t
      w_t     = w_{t-1} - step_t

* paper (Algorithm 2): no eps at all

      u_t     = max(beta2 * u_{t-1}, |g_t|)
      step_t  = lr_t * m_t / u_t        (0 where u_t = 0: then g_t = 0 and, for beta2 > 0,
                                         every earlier gradient was 0 too, so m_t = 0 and
                                         0/0 is taken as 0; with beta2 = 0 the paper's
                                         rule would divide m_t != 0 by 0)
      w_t     = w_{t-1} - step_t

Defaults:

    convention  lr      beta1  beta2  eps
    keras       0.001   0.9    0.999  1e-7
    pytorch     0.002   0.9    0.999  1e-8
    paper       0.002   0.9    0.999  (none)

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer, check_lr, check_positive, check_range, ema_update


def adamax_update(param, grad, exp_avg, exp_inf, buf, buf2, step, lr, beta1, beta2, eps, convention):
    """One Adamax step in place on ``param``, ``exp_avg`` and ``exp_inf``; ``buf``, ``buf2`` are scratch space.

    The operations are those of ``Adamax.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    lr_t = lr / (1 - beta1 ** step)
    ema_update(exp_avg, grad, beta1, buf)                    # m = beta1 m + (1 - beta1) g
    xp.abs(grad, out=buf)                                    # u = max(beta2 u, |g| [+ eps])
    if convention == "pytorch":
        buf += dt(eps)
    exp_inf *= dt(beta2)
    xp.maximum(exp_inf, buf, out=exp_inf)
    xp.multiply(exp_avg, dt(lr_t), out=buf2)                 # lr_t m / denominator
    if convention == "keras":                                # denominator u + eps
        xp.add(exp_inf, dt(eps), out=buf)
        buf2 /= buf
    elif convention == "pytorch":                            # denominator u
        buf2 /= exp_inf
    else:                                                    # u; no step where u = 0
        zero = exp_inf == 0
        xp.add(exp_inf, zero, out=buf)                       # (u where u > 0, else 1)
        buf2 /= buf
        xp.copyto(buf2, dt(0), where=zero)
    param -= buf2


class Adamax(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, weight_decay=None,
                 convention="keras", **options):
        given = {k: v for k, v in dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps).items() if v is not None}
        super().__init__(params, convention, weight_decay=weight_decay, **given, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        if "eps" in group:
            check_positive(group["eps"], "eps")

    # ---------------------------------------------------------------- state
    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "exp_avg": xp.zeros_like(w), "exp_inf": xp.zeros_like(w)}

    # --------------------------------------------------------- teaching path
    def reference_step(self, w, g, state, group):
        """The rule of the docstring in plain allocating expressions (nothing is modified)."""
        xp = B.get_array_module(w)
        lr, beta1, beta2 = group["lr"], group["beta1"], group["beta2"]
        t = state["step"] + 1
        m = beta1 * state["exp_avg"] + (1 - beta1) * g
        lr_t = lr / (1 - beta1 ** t)
        q = [("g", "gradient", g),
             ("m", "first moment: beta1 * m_{t-1} + (1 - beta1) * g_t", m),
             ("lr_t", "lr / (1 - beta1^t)", lr_t)]
        if self.convention == "keras":
            u = xp.maximum(beta2 * state["exp_inf"], xp.abs(g))
            step = lr_t * m / (u + group["eps"])
            q.append(("u", "infinity norm: max(beta2 * u_{t-1}, |g_t|)", u))
        elif self.convention == "pytorch":
            u = xp.maximum(beta2 * state["exp_inf"], xp.abs(g) + group["eps"])
            step = lr_t * m / u
            q.append(("u", "infinity norm: max(beta2 * u_{t-1}, |g_t| + eps)", u))
        else:
            u = xp.maximum(beta2 * state["exp_inf"], xp.abs(g))
            step = xp.where(u > 0, lr_t * m / xp.where(u > 0, u, 1.0), 0.0)
            q.append(("u", "infinity norm: max(beta2 * u_{t-1}, |g_t|)", u))
        new_w = w - step
        q += [("step", "step_t, w_t = w_{t-1} - step_t", step), ("w", "new weights", new_w)]
        return new_w, {"step": t, "exp_avg": m, "exp_inf": u}, q

    # -------------------------------------------------------------- fast path
    def _update(self, param, grad, state, group):
        state["step"] += 1
        adamax_update(param, grad, state["exp_avg"], state["exp_inf"], self.scratch_like(param, 0),
                      self.scratch_like(param, 1), state["step"], group["lr"], group["beta1"], group["beta2"],
                      group.get("eps", 0.0), self.convention)
