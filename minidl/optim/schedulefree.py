"""ScheduleFreeAdamW: Schedule-Free AdamW (Defazio et al. 2024, "The Road Less Scheduled",
arXiv:2405.15682), as Keras 3's ``keras.optimizers.ScheduleFreeAdamW`` runs it and as the authors'
reference code does (facebookresearch/schedule_free, ``AdamWScheduleFree``).

No learning-rate schedule: three sequences replace it.  z takes plain AdamW-normalised gradient
steps; x is the running average of the z's (the point to evaluate and to keep); y = (1 - beta1)
* z + beta1 * x, between them, is where the gradient is taken.  **During training the
parameters hold y** (fit and a bare loop of ``step()`` alike); z lives in the state, x is
computed from y and z.  ``eval()`` moves every parameter to x = (y - (1 - beta1) * z) / beta1 and
``train()`` moves it back to y exactly (the y's are kept aside while in eval mode); both are
idempotent.  ``fit`` and ``evaluate`` call ``eval()`` before each evaluation and ``train()``
after it, so validation numbers are x's; after ``fit`` the parameters hold y, and
``opt.eval()`` puts the averaged weights x in the model to test or save them.  ``step()``
refuses to run in eval mode.  The mode is each param group's ``train_mode`` (True or False),
which ``state_dict()`` and checkpoints record, with the kept y's (state "y") in eval mode.

v_0 = 0, z_0 = x_0 = y_0 = w_0, t = 1, 2, ...

Rule (keras):  Keras 3's ScheduleFreeAdamW: a linear warm-up of lr, the average of the z's with
equal weights (c_t = 1 / t); x_{t-1} recovered from y and z

    lr_t = lr * min(1, t / warmup_steps)                     # warmup_steps > 0; lr otherwise
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq", Keras's "velocity"
    denom_t = sqrt(v_t / (1 - beta2^t)) + eps
    x_prev = z_{t-1} + (w_{t-1} - z_{t-1}) / beta1           # x_{t-1}, from y_{t-1} = w_{t-1}
    z_t = z_{t-1} - lr_t * g_t / denom_t                     # state "z", Keras's "momentum"
    c_t = 1 / t
    x_t = x_prev + c_t * (z_t - x_prev)
    w_t = z_t + beta1 * (x_t - z_t)                          # y_t, what the parameters hold

Rule (paper):  ``AdamWScheduleFree`` of the authors' code: the average weighted by lr_max^2 (so
the warm-up steps count less), the decay taken at y inside the rule, y updated in place

    lr_t = lr * min(1, t / warmup_steps)                     # warmup_steps > 0; lr otherwise
    lr_max_t = max(lr_max_{t-1}, lr_t)                       # state "lr_max"
    weight_t = t^r * lr_max_t^weight_lr_power
    weight_sum_t = weight_sum_{t-1} + weight_t               # state "weight_sum"
    c_t = weight_t / weight_sum_t                            # 0 where weight_sum_t = 0
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2              # state "exp_avg_sq"
    denom_t = sqrt(v_t / (1 - beta2^t)) + eps
    d_t = g_t / denom_t + weight_decay_rate * w_{t-1}        # the decay at y_{t-1} = w_{t-1}
    w_t = w_{t-1} + c_t * (z_{t-1} - w_{t-1}) + lr_t * (beta1 * (1 - c_t) - 1) * d_t    # y_t
    z_t = z_{t-1} - lr_t * d_t                               # state "z"

Both are the paper's Algorithm 1 (Schedule-Free AdamW): z_t = z_{t-1} - lr_t * d_t,
x_t = (1 - c_t) * x_{t-1} + c_t * z_t, y_t = (1 - beta1) * z_t + beta1 * x_t; keras recovers
x_{t-1} from y and z and writes the lerps as Keras does up to rounding; paper's w_t line is that
algebra done in place (x never stored).  The two conventions differ in three places: (1) the
averaging weights c_t: 1 / t in Keras; in the reference t^r * lr_max_t^2 normalised, which is
1 / t too without warm-up and with r = 0, but gives the warm-up steps less weight; (2) weight
decay: Keras's base decay shrinks y before the rule (``w_decayed = w_{t-1} * (1 - lr *
weight_decay)`` with the lr before warm-up; z does not shrink), the reference adds
weight_decay_rate * y to the normalised gradient, for z and y alike (under paper,
``weight_decay=`` is read as ``weight_decay_rate``, ``minidl.optim.rule_decay``, and the base
decays nothing); (3) r and weight_lr_power exist only in the reference.

Defaults:

    convention  lr      beta1  beta2  eps    warmup_steps  r    weight_lr_power  weight decay
    keras       0.0025  0.9    0.999  1e-8   0             -    -                weight_decay 0 (the base's)
    paper       0.0025  0.9    0.999  1e-8   0             0    2                weight_decay_rate 0

.. note:: The reference computes x only in ``eval()``, by lerping the parameter toward z, and back
   in ``train()``; that round trip is exact only up to rounding.  Here ``eval()`` keeps y aside
   and ``train()`` puts it back, bit for bit.  The reference starts in eval mode and needs a
   ``train()`` before the first step; here the optimizer starts in train mode (y = x = z = w_0
   then, so nothing moves), as Keras, which has no modes, behaves.  The reference's newer
   options ``inner_momentum`` and ``decay_at_z`` are not offered.  beta1 must lie in (0, 1]:
   x = (y - (1 - beta1) * z) / beta1.

.. note:: Keras 3.15 on the torch backend (where the parity tests run it): ``momentum_old =
   momentum.value`` is the variable's own tensor, which the ``assign_sub`` after it changes in
   place, so Keras's stateful ``apply_gradients`` computes x_prev from z_t, not z_{t-1} as its
   source means (x then takes a step up the gradient each time).  Through ``stateless_apply``
   (and on JAX) the value is a snapshot.  The keras convention runs the rule the source means; it
   equals ``stateless_apply`` to rounding, and ``apply_gradients`` where the two agree (beta1 = 1).
   Keras also rounds the warm-up factor min(t / warmup_steps, 1) to float32 in a float64 run (its
   type promotion, as JAX's, makes that minimum float32): a warmup_steps whose ratios are exact in
   float32 (a power of two) agrees to rounding, another to about 1e-8.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim import rule_decay
from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_bool, check_int, check_lr, check_nonnegative, check_positive, check_range

#: the conventions whose weight decay is the rule's own (at y, inside the rule)
DECAY_IN_RULE = ("paper",)


class ScheduleFreeAdamW(Optimizer):
    __doc__ = __doc__
    DEFAULTS = {
        "keras": {"lr": 0.0025, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "warmup_steps": 0},
        "paper": {"lr": 0.0025, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "warmup_steps": 0, "r": 0.0,
                  "weight_lr_power": 2.0, "weight_decay_rate": 0.0},
    }

    def __init__(self, params, lr=None, beta1=None, beta2=None, eps=None, warmup_steps=None,
                 weight_decay=None, convention="keras", **options):
        hyper = rule_decay.routed(convention, DECAY_IN_RULE, {"weight_decay": weight_decay, **options})
        super().__init__(params, convention, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         warmup_steps=warmup_steps, **hyper)

    def add_param_group(self, group):
        """As the base's; the group's ``train_mode`` is the optimizer's mode, or the group's own
        ``"train_mode"`` where given (as ``state_dict`` writes it)."""
        mode = self.training
        if isinstance(group, dict) and "train_mode" in group:
            group = dict(group)
            mode = group.pop("train_mode")
            check_bool(mode, "train_mode")
        super().add_param_group(rule_decay.routed(self.convention, DECAY_IN_RULE, group))
        self.param_groups[-1]["train_mode"] = mode

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, low_open=True)
        check_range(group["beta2"], "beta2", 0, 1, high_open=True)
        check_positive(group["eps"], "eps")
        check_int(group["warmup_steps"], "warmup_steps")
        check_bool(group.get("train_mode", True), "train_mode")
        if self.convention in DECAY_IN_RULE:
            for name in ("r", "weight_lr_power", "weight_decay_rate"):
                check_nonnegative(group[name], name)
        rule_decay.check_base_decay_off(group, self.convention, DECAY_IN_RULE, "ScheduleFreeAdamW")

    def init_state(self, w, group):
        xp = B.get_array_module(w)
        state = {"step": 0, "z": w.copy(), "exp_avg_sq": xp.zeros_like(w)}
        if self.convention == "paper":
            state.update(weight_sum=0.0, lr_max=-1.0)
        if not group.get("train_mode", True):
            state["y"] = w.copy()             # the training point, kept aside by eval()
        return state

    # ------------------------------------------------------------- modes
    @property
    def training(self) -> bool:
        """True when the parameters hold y (train mode), False when some hold x (after ``eval()``)."""
        return all(group["train_mode"] for group in getattr(self, "param_groups", ()))

    def eval(self) -> None:
        """Move every parameter to the average x = (y - (1 - beta1) * z) / beta1, keeping y aside
        (state "y"); a no-op in eval mode."""
        for group in self.param_groups:
            if group["train_mode"]:
                for p in group["params"]:
                    state = self.state.get(p)
                    if state is not None:             # a parameter never stepped: x = y = w_0
                        state["y"] = p.data.copy()
                        p.data[...] = averaged_point(p.data, state["z"], group["beta1"])
                group["train_mode"] = False

    def train(self) -> None:
        """Put every parameter back at y, bit for bit, as it was before ``eval()``; a no-op in train mode."""
        for group in self.param_groups:
            if not group["train_mode"]:
                for p in group["params"]:
                    state = self.state.get(p)
                    if state is not None and "y" in state:
                        p.data[...] = state.pop("y")
                group["train_mode"] = True

    def step(self, closure=None):
        if not self.training:
            raise RuntimeError("ScheduleFreeAdamW.step: the parameters hold the averaged point x "
                               "(eval mode); call optimizer.train() before training steps")
        return super().step(closure)

    # -------------------------------------------------------------- rule
    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        lr, beta1, beta2, eps, warmup = (group[k] for k in ("lr", "beta1", "beta2", "eps", "warmup_steps"))
        state["step"] += 1
        t = state["step"]
        lr_t = lr * min(1.0, t / warmup) if warmup > 0 else lr
        v, z = state["exp_avg_sq"], state["z"]
        if self.convention == "paper":
            lr_max = state["lr_max"] = max(state["lr_max"], lr_t)
            weight = t ** group["r"] * lr_max ** group["weight_lr_power"]
            weight_sum = state["weight_sum"] = state["weight_sum"] + weight
            c = weight / weight_sum if weight_sum > 0 else 0.0
        v *= beta2
        v += (1 - beta2) * g * g
        denom = xp.sqrt(v / (1 - beta2 ** t)) + eps
        if self.convention == "paper":
            d = g / denom + group["weight_decay_rate"] * w
            w += c * (z - w) + lr_t * (beta1 * (1 - c) - 1) * d
            z -= lr_t * d
            return
        x_prev = z + (w - z) / beta1
        z -= lr_t * g / denom
        c = 1 / t
        x = x_prev + c * (z - x_prev)
        w[...] = z + beta1 * (x - z)


def averaged_point(y, z, beta1):
    """x = (y - (1 - beta1) * z) / beta1, the average that y = (1 - beta1) * z + beta1 * x interpolates,
    written z + (y - z) / beta1 (keras's x_prev; exactly z where y = z)."""
    return z + (y - z) / beta1
