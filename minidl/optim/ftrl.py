"""Ftrl: Follow The Regularized Leader, FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View
from the Trenches", KDD, Algorithm 1), as Keras 3's ``keras.optimizers.Ftrl`` runs it.

Each weight keeps two numbers: n, a sum of squared gradients (as Adagrad's), and z, a sum of
gradients corrected by how far each step's learning rate moved.  The weight is not stepped
from w_{t-1}: it is computed afresh from z_t and n_t in closed form, exactly 0 where |z_t| is at
most the L1 strength ``l1`` (which is how FTRL makes sparse models).  Everything is elementwise.

Rule (keras):  Keras 3's Ftrl; n_0 = initial_accumulator_value, z_0 = 0

    n_t = n_{t-1} + g_t^2                                    # state "accumulator"
    sigma_t = (n_t^(-lr_power) - n_{t-1}^(-lr_power)) / lr
    g_shrink_t = g_t + 2 * l2_shrinkage * w_{t-1}            # the gradient of l2_shrinkage * ||w||^2 added
    z_t = z_{t-1} + g_shrink_t - sigma_t * w_{t-1}           # state "linear"
    q_t = n_t^(-lr_power) / lr + 2 * (l2 + beta / (2 * lr))
    w_t = (clip(z_t, -l1, l1) - z_t) / q_t                   # 0 where |z_t| <= l1

Defaults (the only convention):

    convention  lr      lr_power  initial_accumulator_value  l1   l2   l2_shrinkage  beta
    keras       0.001   -0.5      0.1                        0    0    0             0

Keras's long names are accepted under the keras convention (``FRAMEWORK_NAMES``):
``learning_rate`` (lr), ``learning_rate_power`` (lr_power), ``l1_regularization_strength`` (l1),
``l2_regularization_strength`` (l2), ``l2_shrinkage_regularization_strength`` (l2_shrinkage).

The paper's Algorithm 1 is this rule with alpha = lr, lr_power = -0.5 (a per-coordinate
learning rate alpha / (beta + sqrt(n))), lambda_1 = l1 and its lambda_2 = 2 * l2:
w = -(z - sgn(z) * lambda_1) / ((beta + sqrt(n)) / alpha + lambda_2) where |z| > lambda_1, else 0.
The paper computes the weight of round t from z_{t-1} and n_{t-1} before it sees g_t; Keras
(and this rule) right after the update, from z_t and n_t: the same sequence of weights.  The
paper starts from n_0 = 0; Keras from initial_accumulator_value.  ``l2_shrinkage`` is Keras's
(TensorFlow's) addition: an L2 penalty on the loss, whose gradient enters z but not n.

.. note:: The starting weights w_0 enter only through sigma_1 * w_0 (and the shrinkage): with a
   zero gradient sigma_t = 0, z stays 0 and every weight becomes 0 at the first step.  So FTRL
   does not "move nothing" on a zero gradient as other optimizers do.  Weight decay and clipping
   are applied before this rule by the base (Keras's decoupled ``weight_decay`` shrinks
   w_{t-1}, which then enters sigma_t * w_{t-1}).  Keras accepts initial_accumulator_value = 0;
   with beta = 0 and l2 = 0 too, an element whose gradients have all been 0 has q_t = 0 and the
   weight 0 / 0: that combination is refused here.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_nonnegative, check_positive, is_number


class Ftrl(Optimizer):
    __doc__ = __doc__
    SUMS_OF_SQUARES = ("accumulator",)
    DEFAULTS = {
        "keras": {"lr": 0.001, "lr_power": -0.5, "initial_accumulator_value": 0.1, "l1": 0.0, "l2": 0.0,
                  "l2_shrinkage": 0.0, "beta": 0.0},
    }
    FRAMEWORK_NAMES = {"keras": {"learning_rate_power": "lr_power", "l1_regularization_strength": "l1",
                                 "l2_regularization_strength": "l2",
                                 "l2_shrinkage_regularization_strength": "l2_shrinkage"}}

    def __init__(self, params, lr=None, lr_power=None, initial_accumulator_value=None, l1=None, l2=None,
                 l2_shrinkage=None, beta=None, weight_decay=None, convention="keras", **options):
        super().__init__(params, convention, lr=lr, lr_power=lr_power,
                         initial_accumulator_value=initial_accumulator_value, l1=l1, l2=l2,
                         l2_shrinkage=l2_shrinkage, beta=beta, weight_decay=weight_decay, **options)

    def validate(self, group):
        check_positive(group["lr"], "lr")
        if not is_number(group["lr_power"]) or group["lr_power"] > 0:
            raise ValueError(f"Invalid lr_power: {group['lr_power']!r} (expected a finite number <= 0)")
        for name in ("initial_accumulator_value", "l1", "l2", "l2_shrinkage", "beta"):
            check_nonnegative(group[name], name)
        if group["initial_accumulator_value"] == 0 and group["beta"] == 0 and group["l2"] == 0:
            raise ValueError("Invalid initial_accumulator_value: 0 (expected > 0 when beta and l2 are 0: "
                             "a weight whose gradients are all 0 would be 0 / 0)")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        return {"step": 0, "accumulator": xp.full_like(w, group["initial_accumulator_value"]),
                "linear": xp.zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, power, l1, l2, shrinkage, beta = (group[k] for k in ("lr", "lr_power", "l1", "l2", "l2_shrinkage",
                                                                  "beta"))
        state["step"] += 1
        n, z = state["accumulator"], state["linear"]
        rate_before = n ** -power              # n_{t-1}^(-lr_power)
        n += g * g
        rate = n ** -power                     # n_t^(-lr_power)
        sigma = (rate - rate_before) / lr
        g_shrink = g + 2 * shrinkage * w
        z += g_shrink - sigma * w
        q = rate / lr + 2 * (l2 + beta / (2 * lr))
        w[...] = (xp.clip(z, -l1, l1) - z) / q
