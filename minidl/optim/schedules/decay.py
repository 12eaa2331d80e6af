r"""Schedules that scale the lr by factors: steps, milestones, linear and polynomial ramps, functions.

Each runs torch 2.13's rule (``torch/optim/lr_scheduler.py``), recursive where torch's is:
``lr_t`` below is what ``group["lr"]`` holds after ``t`` calls of ``step()``, ``b`` the group's
base lr, ``lr_{t-1}`` what the group held before the step (``//`` integer division).
"""
from __future__ import annotations

from bisect import bisect_right

from minidl.optim.schedules.base import LRScheduler, check_optimizer, count, per_group
from minidl.optim.validation import check_positive, check_range


class StepLR(LRScheduler):
    r"""Multiply the lr by ``gamma`` every ``step_size`` steps.

    Closed form: ``lr_t = b * gamma^(t // step_size)``.  Runs, as torch:
    ``lr_t = lr_{t-1} * gamma`` when ``t > 0`` and ``t % step_size == 0``, else ``lr_{t-1}``.
    """

    HYPERPARAMETERS = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, step_size=step_size, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        count(values["step_size"], "step_size")
        check_positive(values["gamma"], "gamma")

    def get_lr(self):
        t, lrs = self.last_epoch, [g["lr"] for g in self.optimizer.param_groups]
        if t == 0 or t % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]

    def closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiply the lr by ``gamma`` at each milestone (a milestone listed twice: by ``gamma^2``).

    Closed form: ``lr_t = b * gamma^(number of milestones <= t)``.  Runs, as torch:
    ``lr_t = lr_{t-1} * gamma^(times t is listed)``.
    """

    HYPERPARAMETERS = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        try:
            milestones = sorted(milestones)     # torch takes any iterable (a Counter of them)
        except TypeError:
            pass                                # not an iterable of ints: check_hyperparameters says so
        self._set_hyperparameters(optimizer, milestones=milestones, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        milestones = values["milestones"]
        if not isinstance(milestones, list) or not milestones:
            raise ValueError(f"Invalid milestones: {milestones!r} (expected a non-empty list of integers >= 0)")
        for m in milestones:
            count(m, "milestones", 0)
        check_positive(values["gamma"], "gamma")

    def get_lr(self):
        times = self.milestones.count(self.last_epoch)
        return [g["lr"] * self.gamma ** times if times else g["lr"] for g in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [b * self.gamma ** bisect_right(sorted(self.milestones), self.last_epoch) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    r"""Multiply the lr by ``factor`` for the first ``total_iters`` steps, then give it back.

    Closed form: ``lr_t = b * factor`` for ``t < total_iters``, ``b`` from then on.  Runs, as torch:
    ``lr_0 = lr * factor``; ``lr_t = lr_{t-1} / factor`` at ``t = total_iters``; else ``lr_{t-1}``.
    ``factor`` 0 is refused (torch divides by it at ``total_iters``).
    """

    HYPERPARAMETERS = ("factor", "total_iters")

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, factor=factor, total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        check_range(values["factor"], "factor", 0, 1, low_open=True)
        count(values["total_iters"], "total_iters")

    def get_lr(self):
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return [lr * self.factor for lr in lrs]
        if self.last_epoch != self.total_iters:
            return lrs
        return [lr * (1.0 / self.factor) for lr in lrs]

    def closed_form_lr(self):
        return [b * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Scale the lr by a factor going linearly from ``start_factor`` to ``end_factor`` in ``total_iters`` steps.

    Closed form: ``lr_t = b * (s + (e - s) * min(t, T) / T)`` with ``s, e, T`` = ``start_factor,
    end_factor, total_iters``.  Runs, as torch: ``lr_0 = lr * s``, then for ``0 < t <= T``
    ``lr_t = lr_{t-1} * (1 + (e - s) / (T * s + (t - 1) * (e - s)))``, then ``lr_{t-1}``.
    """

    HYPERPARAMETERS = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        self._set_hyperparameters(optimizer, start_factor=start_factor, end_factor=end_factor,
                                  total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        check_range(values["start_factor"], "start_factor", 0, 1, low_open=True)
        check_range(values["end_factor"], "end_factor", 0, 1)
        count(values["total_iters"], "total_iters")

    def get_lr(self):
        s, e, t = self.start_factor, self.end_factor, self.last_epoch
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if t == 0:
            return [lr * s for lr in lrs]
        if self._is_initial or t > self.total_iters:
            return lrs
        return [lr * (1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))) for lr in lrs]

    def closed_form_lr(self):
        s, e = self.start_factor, self.end_factor
        return [b * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for b in self.base_lrs]


class LinearWarmup(LRScheduler):
    r"""A linear warm-up from ``start_factor * b`` to ``b`` in ``warmup_steps`` steps, set from ``b``:

    ``lr_t = b * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps)``.

    Alone, it equals torch's ``LinearLR(start_factor, end_factor=1, total_iters=warmup_steps)``
    (to rounding: LinearLR multiplies recursively).  It computes the lr from ``b`` each step, as
    LambdaLR does, so in a ``ChainedScheduler`` it sets the lr rather than scaling another
    schedule's; ``start_factor`` 0 is allowed (LinearLR's recursion cannot start from 0).
    """

    HYPERPARAMETERS = ("warmup_steps", "start_factor")

    def __init__(self, optimizer, warmup_steps: int, start_factor: float = 0.1, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, warmup_steps=warmup_steps, start_factor=start_factor)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        count(values["warmup_steps"], "warmup_steps")
        check_range(values["start_factor"], "start_factor", 0, 1)

    def get_lr(self):
        s, w = self.start_factor, self.warmup_steps
        return [b * (s + (1 - s) * min(self.last_epoch, w) / w) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Multiply the lr by ``gamma`` every step.

    Closed form: ``lr_t = b * gamma^t``.  Runs, as torch: ``lr_t = lr_{t-1} * gamma`` (for ``t > 0``).
    """

    HYPERPARAMETERS = ("gamma",)

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        check_positive(values["gamma"], "gamma")

    def get_lr(self):
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        return lrs if self._is_initial else [lr * self.gamma for lr in lrs]

    def closed_form_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""Decay the lr to 0 in ``total_iters`` steps along a polynomial of degree ``power``.

    Closed form: ``lr_t = b * (1 - min(t, T) / T)^power``.  Runs, as torch: for ``0 < t <= T``
    ``lr_t = lr_{t-1} * ((1 - t / T) / (1 - (t - 1) / T))^power``, then ``lr_{t-1}`` (0).
    """

    HYPERPARAMETERS = ("total_iters", "power")

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, total_iters=total_iters, power=power)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        count(values["total_iters"], "total_iters")
        check_positive(values["power"], "power")

    def get_lr(self):
        t, total = self.last_epoch, self.total_iters
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._is_initial or t > total:
            return lrs
        factor = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return [lr * factor for lr in lrs]

    def closed_form_lr(self):
        return [b * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for b in self.base_lrs]


def _lambdas(owner, lr_lambda, groups) -> list:
    if lr_lambda is None:
        raise TypeError(f"{owner}: lr_lambda is needed (a function of the step count, or a list of one "
                        f"per param group); a {owner} cannot be rebuilt from its state alone")
    functions = per_group(owner, "lr_lambda", lr_lambda, groups)
    for i, fn in enumerate(functions):
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda[{i}] must be callable, got {type(fn).__name__}")
    return functions


class LambdaLR(LRScheduler):
    r"""The lr is ``b`` times a function of the step count: ``lr_t = b * lr_lambda(t)``.

    ``lr_lambda``: a function, or a list of one per param group.  The functions are not in
    ``state_dict()`` (torch saves only callable objects' ``__dict__``): build the schedule with
    the same functions, then load the state (``fit(..., resume=True)`` cannot: see ChainedScheduler's note).
    """

    HOLDS_FUNCTIONS = True

    def __init__(self, optimizer, lr_lambda=None, last_epoch: int = -1):
        check_optimizer(type(self).__name__, optimizer)
        self.lr_lambdas = _lambdas(type(self).__name__, lr_lambda, len(optimizer.param_groups))
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * fn(self.last_epoch) for fn, b in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(LRScheduler):
    r"""Multiply the lr by a function of the step count: ``lr_t = lr_{t-1} * lr_lambda(t)`` (``t > 0``).

    Closed form: ``lr_t = b * prod_{k=1..t} lr_lambda(k)``.  ``lr_lambda``: a function, or a list
    of one per param group; not saved in ``state_dict()`` (see LambdaLR).
    """

    HOLDS_FUNCTIONS = True

    def __init__(self, optimizer, lr_lambda=None, last_epoch: int = -1):
        check_optimizer(type(self).__name__, optimizer)
        self.lr_lambdas = _lambdas(type(self).__name__, lr_lambda, len(optimizer.param_groups))
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._is_initial:
            return lrs
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, lrs)]


__all__ = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "LinearWarmup", "ExponentialLR", "PolynomialLR",
           "LambdaLR", "MultiplicativeLR"]
