r"""Learning-rate schedules, PyTorch-style: built on an optimizer, advanced by ``.step()``.

    opt = optim.SGD(params, lr=0.1)
    sched = schedules.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(10):
        train_one_epoch(opt)       # opt.step() per batch
        sched.step()               # once per epoch (or per batch, if you like)

A schedule remembers each param group's lr at construction (``base_lrs``) and,
at construction and after every ``.step()``, writes into each group

    lr = f(t) for that group's base lr b,   t = number of .step() calls so far (0 at first)

with closed forms (``//`` integer division):

* ``StepLR(opt, step_size, gamma=0.1)``:          lr = b * gamma^(t // step_size)
* ``ExponentialLR(opt, gamma)``:                  lr = b * gamma^t
* ``CosineAnnealingLR(opt, T_max, eta_min=0)``:   lr = eta_min + (b - eta_min) * (1 + cos(pi * t / T_max)) / 2
  (past T_max the cosine goes on, rising again, as PyTorch's does);
* ``LinearWarmup(opt, warmup_steps, start_factor=0.1)``:
  lr = b * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps),
  PyTorch's ``LinearLR(start_factor, end_factor=1, total_iters=warmup_steps)``; a start
  factor above 0 keeps the first updates from being wasted with lr 0.

The lr is recomputed from ``t`` and the base lr, so a schedule overrides manual
changes of ``lr`` at its next step. ``state_dict()`` holds plain JSON-able values;
``load_state_dict`` restores them and writes the matching lr into the optimizer.
"""
from __future__ import annotations

import math

from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import check_positive, check_range


def _check_count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")


class LRScheduler:
    """Base: ``step()``, ``get_last_lr()``, ``state_dict()``, ``load_state_dict()``."""

    #: the constructor arguments saved in ``state_dict`` (besides ``last_epoch`` and ``base_lrs``)
    HYPERPARAMETERS: tuple = ()

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: needs an Optimizer, got {type(optimizer).__name__}")
        for i, group in enumerate(optimizer.param_groups):
            if "lr" not in group:
                raise ValueError(f"{type(self).__name__}: param group {i} has no 'lr' to schedule")
        self.optimizer = optimizer
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr: float, t: int) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def _apply(self):
        self._last_lr = [self.lr_at(b, self.last_epoch) for b in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def step(self) -> None:
        """Advance one unit (an epoch, or a batch) and set the new lr in every param group."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list:
        """The lr of each param group set by the last step (or by construction)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {"scheduler": type(self).__name__, "last_epoch": self.last_epoch,
                "base_lrs": list(self.base_lrs),
                **{k: getattr(self, k) for k in self.HYPERPARAMETERS}}

    def load_state_dict(self, state: dict) -> None:
        name = type(self).__name__
        if state.get("scheduler", name) != name:
            raise ValueError(f"{name}.load_state_dict: the state is of a {state['scheduler']}")
        if len(state["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(f"{name}.load_state_dict: {len(state['base_lrs'])} base lrs for "
                             f"{len(self.optimizer.param_groups)} param groups")
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = [float(b) for b in state["base_lrs"]]
        for k in self.HYPERPARAMETERS:
            setattr(self, k, state[k])
        self._apply()

    def __repr__(self):
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.HYPERPARAMETERS)
        return f"{type(self).__name__}({hyper}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """lr = base_lr * gamma^(t // step_size): multiply by gamma every ``step_size`` steps."""

    HYPERPARAMETERS = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        _check_count(step_size, "step_size")
        check_positive(gamma, "gamma")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma^t."""

    HYPERPARAMETERS = ("gamma",)

    def __init__(self, optimizer, gamma: float):
        check_positive(gamma, "gamma")
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2."""

    HYPERPARAMETERS = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        _check_count(T_max, "T_max")
        check_range(eta_min, "eta_min", 0, math.inf)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
    """lr = base_lr * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps)."""

    HYPERPARAMETERS = ("warmup_steps", "start_factor")

    def __init__(self, optimizer, warmup_steps: int, start_factor: float = 0.1):
        _check_count(warmup_steps, "warmup_steps")
        check_range(start_factor, "start_factor", 0, 1)
        self.warmup_steps, self.start_factor = warmup_steps, start_factor
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * (self.start_factor
                          + (1 - self.start_factor) * min(t, self.warmup_steps) / self.warmup_steps)


__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup"]
