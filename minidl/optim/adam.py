"""Adam: adaptive moment estimation (Kingma & Ba 2015), with the AMSGrad option (Reddi et al. 2018).

Every convention keeps two moving averages of the gradient g_t (m_0 = v_0 = 0, t = 1, 2, ...):

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t              first moment      (state "exp_avg")
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2            second moment     (state "exp_avg_sq")

amsgrad=True keeps the running maximum of v_t and uses it in place of v_t below:

    v_max_t = max(v_max_{t-1}, v_t)                         (state "max_exp_avg_sq"; the max of the
                                                             raw v_t, before any bias correction)

The conventions differ in how the bias correction is applied and where epsilon sits:

* keras (Keras 3 ``Adam``): the bias corrections are folded into the step size and eps is
  added to sqrt(v_t), the paper's "epsilon hat":

      alpha_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
      step_t  = alpha_t * m_t / (sqrt(v_t) + eps)
      w_t     = w_{t-1} - step_t

* pytorch (``torch.optim.Adam``, in the order it computes):

      step_size = lr / (1 - beta1^t)
      denom     = sqrt(v_t) / sqrt(1 - beta2^t) + eps
      step_t    = step_size * m_t / denom
      w_t       = w_{t-1} - step_t

* paper (Kingma & Ba, Algorithm 1; AMSGrad's max taken over v_t as in Reddi et al.):

      m_hat_t = m_t / (1 - beta1^t)
      v_hat_t = v_t / (1 - beta2^t)
      step_t  = lr * m_hat_t / (sqrt(v_hat_t) + eps)
      w_t     = w_{t-1} - step_t

pytorch and paper give the same number up to rounding.  keras is the paper's rule with
eps replaced by eps / sqrt(1 - beta2^t), so its epsilon weighs more in the first steps
(at t = 1 with beta2 = 0.999: 1e-7 / sqrt(0.001) = 3.2e-6).  Keras computes the moments
as m += (g - m) * (1 - beta1), PyTorch as a lerp; these equal the lines above up to rounding.

Reddi et al.'s AMSGrad (Algorithm 2) has no bias correction and a decaying alpha / sqrt(t);
like Keras and PyTorch, amsgrad here keeps Adam's bias corrections and a constant lr.

Defaults:

    convention  lr      beta1  beta2  eps    amsgrad
    keras       0.001   0.9    0.999  1e-7   False
    pytorch     0.001   0.9    0.999  1e-8   False
    paper       0.001   0.9    0.999  1e-8   False

Weight decay is not part of this rule: the base applies ``weight_decay`` before it
(decoupled for keras, coupled L2 for pytorch and paper); see ``AdamW`` for decoupled decay.
"""
from __future__ import annotations

import math

from minidl import backend as B
from minidl.optim.optimizer import Optimizer, check_bool, check_lr, check_positive, check_range, ema_update


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, buf, buf2, step,
                lr, beta1, beta2, eps, convention):
    """One Adam step in place on ``param`` and the moments; ``buf``, ``buf2`` are scratch space.

    The operations are those of ``Adam.reference_step`` in its order (bitwise equal).
    """
    xp = B.get_array_module(param)
    dt = param.dtype.type
    bias1 = 1 - beta1 ** step
    bias2 = 1 - beta2 ** step
    ema_update(exp_avg, grad, beta1, buf)                    # m = beta1 m + (1 - beta1) g
    xp.multiply(grad, grad, out=buf)
    ema_update(exp_avg_sq, buf, beta2, buf)                  # v = beta2 v + (1 - beta2) g^2
    v = exp_avg_sq
    if max_exp_avg_sq is not None:                           # v_max = max(v_max, v)
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    if convention == "keras":                                # alpha m / (sqrt(v) + eps)
        xp.sqrt(v, out=buf)
        buf += dt(eps)
        xp.multiply(exp_avg, dt(lr * math.sqrt(bias2) / bias1), out=buf2)
    elif convention == "pytorch":                            # (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps)
        xp.sqrt(v, out=buf)
        buf /= dt(math.sqrt(bias2))
        buf += dt(eps)
        xp.multiply(exp_avg, dt(lr / bias1), out=buf2)
    else:                                                    # lr (m/bc1) / (sqrt(v/bc2) + eps)
        xp.divide(v, dt(bias2), out=buf)
        xp.sqrt(buf, out=buf)
        buf += dt(eps)
        xp.divide(exp_avg, dt(bias1), out=buf2)
        buf2 *= dt(lr)
    buf2 /= buf
    param -= buf2


class Adam(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "amsgrad": False},
        "pytorch": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False},
        "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, amsgrad=None,
                 weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         amsgrad=amsgrad, weight_decay=weight_decay, **options)

    def _validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, high_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_bool(group["amsgrad"], "amsgrad")

    # ---------------------------------------------------------------- state
    def initial_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "exp_avg": xp.zeros_like(w), "exp_avg_sq": xp.zeros_like(w)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(w)
        return state

    # --------------------------------------------------------- teaching path
    def reference_step(self, w, g, state, group):
        """The rule of the docstring in plain allocating expressions (nothing is modified)."""
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps = group["lr"], group["beta1"], group["beta2"], group["eps"]
        t = state["step"] + 1
        m = beta1 * state["exp_avg"] + (1 - beta1) * g
        v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g ** 2
        new_state = {"step": t, "exp_avg": m, "exp_avg_sq": v}
        q = [("g", "gradient", g),
             ("m", "first moment: beta1 * m_{t-1} + (1 - beta1) * g_t", m),
             ("v", "second moment: beta2 * v_{t-1} + (1 - beta2) * g_t^2", v)]
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"], v)
            new_state["max_exp_avg_sq"] = v
            q.append(("v_max", "AMSGrad: max(v_max_{t-1}, v_t), used in place of v_t", v))
        bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
        q += [("1 - beta1^t", "bias correction of m", bias1),
              ("1 - beta2^t", "bias correction of v", bias2)]
        if self.convention == "keras":
            alpha = lr * math.sqrt(bias2) / bias1
            step = alpha * m / (xp.sqrt(v) + eps)
            q.append(("alpha", "step size: lr * sqrt(1 - beta2^t) / (1 - beta1^t)", alpha))
        elif self.convention == "pytorch":
            step_size = lr / bias1
            denom = xp.sqrt(v) / math.sqrt(bias2) + eps
            step = step_size * m / denom
            q += [("step_size", "lr / (1 - beta1^t)", step_size),
                  ("denom", "sqrt(v_t) / sqrt(1 - beta2^t) + eps", denom)]
        else:
            m_hat = m / bias1
            v_hat = v / bias2
            step = lr * m_hat / (xp.sqrt(v_hat) + eps)
            q += [("m_hat", "m_t / (1 - beta1^t)", m_hat),
                  ("v_hat", "v_t / (1 - beta2^t)", v_hat)]
        new_w = w - step
        q += [("step", "step_t, w_t = w_{t-1} - step_t", step), ("w", "new weights", new_w)]
        return new_w, new_state, q

    # -------------------------------------------------------------- fast path
    def _update(self, param, grad, state, group):
        state["step"] += 1
        adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                    self.scratch_like(param, 0), self.scratch_like(param, 1), state["step"],
                    group["lr"], group["beta1"], group["beta2"], group["eps"], self.convention)
