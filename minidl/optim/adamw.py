"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization").

Every convention first shrinks the weights, then runs Adam on the plain gradient g_t
(the decay never enters m_t or v_t):

Rule (every convention):

    w_decayed = w_{t-1} * (1 - lr * weight_decay)            # decoupled weight decay, by the base class
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # state "exp_avg"
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq"
    v_max_t = max(v_max_{t-1}, v_t)                          # amsgrad only, in place of v_t below
    bias1_t = 1 - beta1^t
    bias2_t = 1 - beta2^t

then Adam's step of the same convention, from the decayed weights:

Rule (keras):

    alpha_t = lr * sqrt(bias2_t) / bias1_t
    step_t = alpha_t * m_t / (sqrt(v_t) + eps)
    w_t = w_decayed - step_t

Rule (pytorch):

    step_size_t = lr / bias1_t
    denom_t = sqrt(v_t) / sqrt(bias2_t) + eps
    step_t = step_size_t * m_t / denom_t
    w_t = w_decayed - step_t

Rule (paper):

    m_hat_t = m_t / bias1_t
    v_hat_t = v_t / bias2_t
    step_t = lr * m_hat_t / (sqrt(v_hat_t) + eps)
    w_t = w_decayed - step_t

The rule's code is Adam's ``update``; the decay runs before it in the base, as for every
optimizer whose weight decay is decoupled.

Sources: PyTorch's ``AdamW`` runs w *= 1 - lr * weight_decay before the Adam step; Keras 3's
``AdamW`` (Adam with the base optimizer's weight decay) runs w -= w * weight_decay * lr before
it: the same number up to rounding.  The paper (Algorithm 2) writes
w_t = w_{t-1} - eta_t * (alpha * m_hat_t / (sqrt(v_hat_t) + eps) + lambda * w_{t-1}) with eta_t a
schedule multiplier, so its lambda is not multiplied by alpha: with a constant schedule
(eta_t = 1) the paper's lambda equals lr * weight_decay here.

Defaults:

    convention  lr      beta1  beta2  eps    amsgrad  weight_decay
    keras       0.001   0.9    0.999  1e-7   False    0.004
    pytorch     0.001   0.9    0.999  1e-8   False    0.01
    paper       0.001   0.9    0.999  1e-8   False    0.01   (the paper fixes no default for
                                                              lambda; PyTorch's value is used)

With weight_decay = 0 AdamW is Adam.  The decay itself runs in the base (``weight_decay.py``,
``DECOUPLED_WEIGHT_DECAY = True``), as for every optimizer; the rule is Adam's ``update``.
"""
from __future__ import annotations

from minidl.optim.adam import Adam


class AdamW(Adam):
    __doc__ = __doc__
    DECOUPLED_WEIGHT_DECAY = True
    DEFAULTS = {
        "keras": {**Adam.DEFAULTS["keras"], "weight_decay": 0.004},
        "pytorch": {**Adam.DEFAULTS["pytorch"], "weight_decay": 0.01},
        "paper": {**Adam.DEFAULTS["paper"], "weight_decay": 0.01},
    }
