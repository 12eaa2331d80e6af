"""Nadam: Adam with Nesterov momentum (Dozat 2016, "Incorporating Nesterov Momentum into Adam").

Every convention (m_0 = v_0 = 0, mu_prod_0 = 1, t = 1, 2, ...) uses a momentum schedule

    mu_t      = beta1 * (1 - 0.5 * 0.96^(psi * t))          (psi: the momentum decay)
    mu_next   = mu_{t+1} = beta1 * (1 - 0.5 * 0.96^(psi * (t + 1)))
    mu_prod_t = mu_prod_{t-1} * mu_t                         (state "mu_product")
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t               (state "exp_avg")
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2             (state "exp_avg_sq")
    v_hat_t = v_t / (1 - beta2^t)

and the Nesterov look-ahead: the current gradient weighted with this step's momentum,
the first moment with the next step's, each divided by its own bias correction.

* keras (Keras 3 ``Nadam``): psi = 1, fixed (mu_t = beta1 * (1 - 0.5 * 0.96^t)):

      m_bar_t = (1 - mu_t) * g_t / (1 - mu_prod_t) + mu_{t+1} * m_t / (1 - mu_prod_t * mu_{t+1})
      step_t  = lr * m_bar_t / (sqrt(v_hat_t) + eps)
      w_t     = w_{t-1} - step_t

* pytorch (``torch.optim.NAdam``), psi = momentum_decay, each term divided by denom on its own:

      denom   = sqrt(v_hat_t) + eps
      step_t  = lr * (1 - mu_t) / (1 - mu_prod_t) * g_t / denom
               + lr * mu_{t+1} / (1 - mu_prod_t * mu_{t+1}) * m_t / denom
      w_t     = w_{t-1} - step_t

  (PyTorch subtracts the two terms from w one after the other; here their sum is
  subtracted: the same up to rounding.)

* paper (Dozat 2016, Algorithm 2, schedule mu_t = beta1 * (1 - 0.5 * 0.96^(t/250))): the keras
  formula with psi = momentum_decay (1/250 = 0.004).

Keras 3 and PyTorch differ only in psi (and eps, lr): Keras 3 runs 0.96^t, so mu_t is within
1% of beta1 after about a hundred steps; PyTorch (and the Keras 2 / tf.keras Nadam, whose
docstring still shows 0.96^(0.004 t)) run 0.96^(0.004 t), so mu_t climbs from 0.45 towards
beta1 over tens of thousands of steps.  Like Keras and PyTorch the first moment uses the
constant beta1; the schedule only enters the look-ahead weights.

Defaults:

    convention  lr      beta1  beta2  eps    momentum_decay (psi)
    keras       0.001   0.9    0.999  1e-7   (fixed 1)
    pytorch     0.002   0.9    0.999  1e-8   0.004
    paper       0.002   0.9    0.999  1e-8   0.004

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper; PyTorch's
``decoupled_weight_decay=True`` is not offered).
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import (Optimizer, check_lr, check_nonnegative, check_positive, check_range,
                                    ema_update)


def momentum_schedule(beta1, psi, t):
    """mu_t = beta1 * (1 - 0.5 * 0.96^(psi * t))."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (psi * t))


def nadam_update(param, grad, exp_avg, exp_avg_sq, buf, buf2, buf3, step, mu_product,
                 lr, beta1, beta2, eps, psi, convention):
    """One Nadam step in place on ``param`` and the moments; returns the new mu_product.

    ``buf``, ``buf2``, ``buf3`` are scratch space. The operations are those of
    ``Nadam.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    mu = momentum_schedule(beta1, psi, step)
    mu_next = momentum_schedule(beta1, psi, step + 1)
    mu_product = mu_product * mu
    ema_update(exp_avg, grad, beta1, buf)                    # m = beta1 m + (1 - beta1) g
    xp.multiply(grad, grad, out=buf)
    ema_update(exp_avg_sq, buf, beta2, buf)                  # v = beta2 v + (1 - beta2) g^2
    xp.divide(exp_avg_sq, dt(1 - beta2 ** step), out=buf)    # denom = sqrt(v_hat) + eps
    xp.sqrt(buf, out=buf)
    buf += dt(eps)
    if convention == "pytorch":                              # coef_g g / denom + coef_m m / denom
        xp.multiply(grad, dt(lr * (1 - mu) / (1 - mu_product)), out=buf2)
        buf2 /= buf
        xp.multiply(exp_avg, dt(lr * mu_next / (1 - mu_product * mu_next)), out=buf3)
        buf3 /= buf
        buf2 += buf3
    else:                                                    # lr m_bar / denom
        xp.multiply(grad, dt(1 - mu), out=buf2)
        buf2 /= dt(1 - mu_product)
        xp.multiply(exp_avg, dt(mu_next), out=buf3)
        buf3 /= dt(1 - mu_product * mu_next)
        buf2 += buf3
        buf2 *= dt(lr)
        buf2 /= buf
    param -= buf2
    return mu_product


class Nadam(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004},
        "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004},
    }
    #: Keras 3's schedule exponent psi (0.96^t); not a Keras argument
    KERAS_PSI = 1.0

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, momentum_decay=None,
                 weight_decay=None, convention="keras", **options):
        given = {k: v for k, v in dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                        momentum_decay=momentum_decay).items() if v is not None}
        super().__init__(params, convention, weight_decay=weight_decay, **given, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        if "momentum_decay" in group:
            check_nonnegative(group["momentum_decay"], "momentum_decay")

    def _psi(self, group):
        return self.KERAS_PSI if self.convention == "keras" else group["momentum_decay"]

    # ---------------------------------------------------------------- state
    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "mu_product": 1.0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}

    # --------------------------------------------------------- teaching path
    def reference_step(self, w, g, state, group):
        """The rule of the docstring in plain allocating expressions (nothing is modified)."""
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps = group["lr"], group["beta1"], group["beta2"], group["eps"]
        psi = self._psi(group)
        t = state["step"] + 1
        mu = momentum_schedule(beta1, psi, t)
        mu_next = momentum_schedule(beta1, psi, t + 1)
        mu_prod = state["mu_product"] * mu
        m = beta1 * state["exp_avg"] + (1 - beta1) * g
        v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g ** 2
        v_hat = v / (1 - beta2 ** t)
        q = [("g", "gradient", g),
             ("mu", f"momentum schedule: beta1 * (1 - 0.5 * 0.96^({psi:g} * t))", mu),
             ("mu_next", "next step's momentum mu_{t+1}", mu_next),
             ("mu_prod", "mu_prod_{t-1} * mu_t", mu_prod),
             ("m", "first moment: beta1 * m_{t-1} + (1 - beta1) * g_t", m),
             ("v", "second moment: beta2 * v_{t-1} + (1 - beta2) * g_t^2", v),
             ("v_hat", "v_t / (1 - beta2^t)", v_hat)]
        if self.convention == "pytorch":
            denom = xp.sqrt(v_hat) + eps
            step = (lr * (1 - mu) / (1 - mu_prod) * g / denom
                     + lr * mu_next / (1 - mu_prod * mu_next) * m / denom)
            q.append(("denom", "sqrt(v_hat_t) + eps", denom))
        else:
            m_bar = (1 - mu) * g / (1 - mu_prod) + mu_next * m / (1 - mu_prod * mu_next)
            step = lr * m_bar / (xp.sqrt(v_hat) + eps)
            q.append(("m_bar", "Nesterov look-ahead of the first moment", m_bar))
        new_w = w - step
        q += [("step", "step_t, w_t = w_{t-1} - step_t", step), ("w", "new weights", new_w)]
        return new_w, {"step": t, "mu_product": mu_prod, "exp_avg": m, "exp_avg_sq": v}, q

    # -------------------------------------------------------------- fast path
    def _update(self, param, grad, state, group):
        state["step"] += 1
        state["mu_product"] = nadam_update(
            param, grad, state["exp_avg"], state["exp_avg_sq"], self.scratch_like(param, 0),
            self.scratch_like(param, 1), self.scratch_like(param, 2), state["step"], state["mu_product"],
            group["lr"], group["beta1"], group["beta2"], group["eps"], self._psi(group), self.convention)
