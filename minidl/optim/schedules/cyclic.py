r"""Cyclical schedules, stepped once per batch: the 1cycle policy and cyclical learning rates.

Both can cycle the momentum inversely to the lr (``cycle_momentum=True``, as torch): the
optimizer's ``beta1`` where it has one (Adam, Nadam, Lion...; torch's ``betas[0]``), else its
``momentum`` (SGD, RMSprop); an optimizer with neither is refused.  The momentum written is
``group["beta1"]`` or ``group["momentum"]``, read by the optimizer at its next step.
"""
from __future__ import annotations

import math

from minidl.optim.schedules.base import LRScheduler, count, set_initial_lrs
from minidl.optim.validation import check_bool, check_choice, check_positive, check_range


def momentum_key(owner: str, optimizer) -> str:
    """``"beta1"`` or ``"momentum"``: what ``cycle_momentum`` cycles in ``optimizer``."""
    for key in ("beta1", "momentum"):
        if key in optimizer.defaults:
            return key
    raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with momentum or beta1; "
                     f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)")


def _numbers(values, name, groups, low=0.0, high=math.inf) -> list:
    """One number per param group (one given for all, or a list of one per group), each in [low, high]."""
    out = list(values) if isinstance(values, (list, tuple)) else [values] * groups
    if len(out) != groups:
        raise ValueError(f"Invalid {name}: {values!r} (expected one number, or a list of {groups}, one per param group)")
    for v in out:
        check_range(v, name, low, high)
    return [float(v) for v in out]


def _check_momenta(owner, values, optimizer) -> None:
    check_bool(values["cycle_momentum"], "cycle_momentum")
    groups = len(optimizer.param_groups)
    _numbers(values["base_momentum"], "base_momentum", groups, 0.0, 1.0)
    _numbers(values["max_momentum"], "max_momentum", groups, 0.0, 1.0)
    if values["cycle_momentum"]:
        momentum_key(owner, optimizer)


def _phases(total, pct_start, three_phase) -> list:
    """torch's phases: (end_step, start lr, end lr, start momentum, end momentum), names of the group values."""
    if three_phase:
        return [(float(pct_start * total) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
    return [(float(pct_start * total) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            (total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin 2017, arXiv:1708.07120; fastai's two phases by default).

    Per param group, with ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr /
    final_div_factor``, over ``total_steps`` steps (or ``epochs * steps_per_epoch``):

    * phase 1, steps ``0 .. pct_start * total_steps - 1``: lr from ``initial_lr`` up to ``max_lr``,
      momentum from ``max_momentum`` down to ``base_momentum``;
    * phase 2, to step ``total_steps - 1``: lr down to ``min_lr``, momentum back up to ``max_momentum``.
    * ``three_phase=True`` (the paper's): back down to ``initial_lr`` by step ``2 * pct_start *
      total_steps - 2``, then to ``min_lr`` with the momentum at ``max_momentum``.

    Within a phase from step ``s`` to ``e``, ``pct = (t - s) / (e - s)`` and a value goes from
    ``a`` to ``z`` as ``z + (a - z) * (1 + cos(pi * pct)) / 2`` (``anneal_strategy="cos"``) or
    ``a + (z - a) * pct`` (``"linear"``).  Stepping past ``total_steps`` is an error, as in torch.
    At step ``total_steps`` itself (after the last step of the cycle, an lr no step uses) the
    ``"linear"`` strategy holds the end values, where torch extends the line below 0; everywhere
    else the values are torch's.
    It sets the lr from its own numbers each step: it is not meant to be chained.
    """

    HYPERPARAMETERS = ("max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start", "anneal_strategy",
                       "cycle_momentum", "base_momentum", "max_momentum", "div_factor", "final_div_factor",
                       "three_phase")

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        self._set_hyperparameters(
            optimizer, max_lr=max_lr, total_steps=total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch,
            pct_start=pct_start, anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
            base_momentum=base_momentum, max_momentum=max_momentum, div_factor=div_factor,
            final_div_factor=final_div_factor, three_phase=three_phase)
        set_initial_lrs(optimizer, [g["initial_lr"] for g in self._groups])
        if cycle_momentum:
            for group, values in zip(optimizer.param_groups, self._groups):
                group[self.momentum_key] = values["max_momentum"]
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        groups = len(optimizer.param_groups)
        _numbers(values["max_lr"], "max_lr", groups)
        if values["total_steps"] is not None:
            count(values["total_steps"], "total_steps")
        elif values["epochs"] is None or values["steps_per_epoch"] is None:
            raise ValueError("give total_steps, or epochs and steps_per_epoch")
        else:
            count(values["epochs"], "epochs")
            count(values["steps_per_epoch"], "steps_per_epoch")
        check_range(values["pct_start"], "pct_start", 0, 1)
        check_choice(values["anneal_strategy"], "anneal_strategy", ("cos", "linear"))
        _check_momenta("OneCycleLR", values, optimizer)
        check_positive(values["div_factor"], "div_factor")
        check_positive(values["final_div_factor"], "final_div_factor")
        check_bool(values["three_phase"], "three_phase")
        total = values["total_steps"] or values["epochs"] * values["steps_per_epoch"]
        start = 0.0
        for i, (end, *_) in enumerate(_phases(total, values["pct_start"], values["three_phase"])):
            if end == start:
                raise ValueError(f"Invalid pct_start: {values['pct_start']!r} with {total} steps makes phase "
                                 f"{i + 1} of the cycle 0 steps long (torch divides by 0 there)")
            start = end

    def _derive(self, optimizer):
        groups = len(optimizer.param_groups)
        self._total = self.total_steps or self.epochs * self.steps_per_epoch
        self._phases = _phases(self._total, self.pct_start, self.three_phase)
        max_lrs = _numbers(self.max_lr, "max_lr", groups)
        base_m = _numbers(self.base_momentum, "base_momentum", groups, 0.0, 1.0)
        max_m = _numbers(self.max_momentum, "max_momentum", groups, 0.0, 1.0)
        self._groups = [{"initial_lr": m / self.div_factor, "max_lr": m,
                         "min_lr": m / self.div_factor / self.final_div_factor,
                         "base_momentum": bm, "max_momentum": mm} for m, bm, mm in zip(max_lrs, base_m, max_m)]
        self.momentum_key = momentum_key("OneCycleLR", optimizer) if self.cycle_momentum else None

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _values(self, which: int) -> list:
        """Each group's lr (``which`` 1) or momentum (3) at ``last_epoch``, as torch's get_lr."""
        step = self.last_epoch
        if step > self._total:
            raise ValueError(f"OneCycleLR: stepped {step} times, past total_steps {self._total}")
        out = []
        for values in self._groups:
            start = 0.0
            for i, phase in enumerate(self._phases):
                end = phase[0]
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    if pct > 1 and self.anneal_strategy == "linear":
                        pct = 1.0       # step total_steps: torch extrapolates the line, to a negative lr
                    out.append(self._anneal(values[phase[which]], values[phase[which + 1]], pct))
                    break
                start = end
        return out

    def get_lr(self):
        return self._values(1)

    def get_momentum(self):
        return self._values(3) if self.cycle_momentum else None


class CyclicLR(LRScheduler):
    r"""Cyclical learning rates (Smith 2017, arXiv:1506.01186): the lr goes up from ``base_lr`` to
    ``max_lr`` in ``step_size_up`` steps and back in ``step_size_down`` (default: as many).

    With ``total = up + down``, ``ratio = up / total``, at step ``t``::

        cycle = floor(1 + t / total);   x = 1 + t / total - cycle
        scale = x / ratio  if x <= ratio  else  (x - 1) / (ratio - 1)
        lr_t = base_lr + (max_lr - base_lr) * scale * f(cycle or t)
        momentum_t = max_momentum - (max_momentum - base_momentum) * scale * f(cycle or t)

    ``f``: 1 (``mode="triangular"``), ``1 / 2^(cycle - 1)`` (``"triangular2"``), ``gamma^t``
    (``"exp_range"``), or ``scale_fn`` with ``scale_mode`` ``"cycle"`` or ``"iterations"``.  A
    ``scale_fn`` is not saved in ``state_dict()``: rebuild the schedule with it, then load.
    """

    HYPERPARAMETERS = ("base_lr", "max_lr", "step_size_up", "step_size_down", "mode", "gamma", "scale_mode",
                       "cycle_momentum", "base_momentum", "max_momentum")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down=None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn must be callable or None, got {type(scale_fn).__name__}")
        self.scale_fn = scale_fn
        self._set_hyperparameters(
            optimizer, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up, step_size_down=step_size_down,
            mode=mode, gamma=gamma, scale_mode=scale_mode, cycle_momentum=cycle_momentum,
            base_momentum=base_momentum, max_momentum=max_momentum)
        for group, lr in zip(optimizer.param_groups, self._base):
            group["lr"] = lr
        if cycle_momentum:
            for group, momentum in zip(optimizer.param_groups, self._max_momenta):
                group[self.momentum_key] = momentum
        super().__init__(optimizer, last_epoch)
        self.base_lrs = list(self._base)

    def check_hyperparameters(self, values, optimizer):
        groups = len(optimizer.param_groups)
        _numbers(values["base_lr"], "base_lr", groups)
        _numbers(values["max_lr"], "max_lr", groups)
        count(values["step_size_up"], "step_size_up")
        if values["step_size_down"] is not None:
            count(values["step_size_down"], "step_size_down")
        if getattr(self, "scale_fn", None) is None:
            check_choice(values["mode"], "mode", ("triangular", "triangular2", "exp_range"))
        check_positive(values["gamma"], "gamma")
        check_choice(values["scale_mode"], "scale_mode", ("cycle", "iterations"))
        _check_momenta("CyclicLR", values, optimizer)

    def _derive(self, optimizer):
        groups = len(optimizer.param_groups)
        self._base = _numbers(self.base_lr, "base_lr", groups)
        self._max = _numbers(self.max_lr, "max_lr", groups)
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        self._total, self._ratio = up + down, up / (up + down)
        self._base_momenta = _numbers(self.base_momentum, "base_momentum", groups, 0.0, 1.0)
        self._max_momenta = _numbers(self.max_momentum, "max_momentum", groups, 0.0, 1.0)
        self.momentum_key = momentum_key("CyclicLR", optimizer) if self.cycle_momentum else None

    def _scale(self, cycle):
        """``(scale, f)`` at ``last_epoch``: the triangle's height and the amplitude's factor."""
        t = self.last_epoch
        x = 1.0 + t / self._total - cycle
        scale = x / self._ratio if x <= self._ratio else (x - 1) / (self._ratio - 1)
        if self.scale_fn is not None:
            return scale, self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        if self.mode == "triangular":
            return scale, 1.0
        if self.mode == "triangular2":
            return scale, 1 / (2.0 ** (cycle - 1))
        return scale, self.gamma ** t

    def get_lr(self):
        scale, factor = self._scale(math.floor(1 + self.last_epoch / self._total))
        return [b + (m - b) * scale * factor for b, m in zip(self.base_lrs, self._max)]

    def get_momentum(self):
        if not self.cycle_momentum:
            return None
        scale, factor = self._scale(math.floor(1 + self.last_epoch / self._total))
        return [m - (m - b) * scale * factor for b, m in zip(self._base_momenta, self._max_momenta)]


__all__ = ["OneCycleLR", "CyclicLR", "momentum_key"]
