r"""Cosine schedules: annealing (SGDR without restarts, as torch's CosineAnnealingLR) and warm restarts.

Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", arXiv:1608.03983.
"""
from __future__ import annotations

import math

from minidl.optim.schedules.base import LRScheduler, count
from minidl.optim.validation import check_nonnegative, is_number


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the lr from ``b`` to ``eta_min`` along half a cosine in ``T_max`` steps.

    Closed form::

        lr_t = eta_min + (b - eta_min) * (1 + cos(pi * t / T_max)) / 2

    Past ``T_max`` the cosine goes on, rising again, as torch's does.  Runs torch's recursive
    form, equal to the closed form to rounding when the schedule runs alone::

        lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi * t / T_max)) / (1 + cos(pi * (t - 1) / T_max))
        lr_t = lr_{t-1} + (b - eta_min) * (1 - cos(pi / T_max)) / 2      when (t - 1 - T_max) % (2 T_max) == 0

    (the second where the first would divide by 0, at the bottom of each cosine).
    """

    HYPERPARAMETERS = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, T_max=T_max, eta_min=eta_min)
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        count(values["T_max"], "T_max")
        check_nonnegative(values["eta_min"], "eta_min")

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._is_initial:
            return lrs
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (b - eta_min) * (1 - math.cos(math.pi / T)) / 2 for b, lr in zip(self.base_lrs, lrs)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - eta_min) + eta_min
                for lr in lrs]

    def closed_form_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (b - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing from ``b`` to ``eta_min``, restarted at ``b`` every ``T_i`` steps (SGDR).

    ::

        lr_t = eta_min + (b - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    ``T_cur``: steps since the last restart; ``T_i``: the length of the current cycle, ``T_0``
    at first and ``T_mult`` times longer after each restart.  ``step(epoch)`` with a number
    (an epoch and a fraction, ``epoch + i / steps_per_epoch``) sets the point directly, as torch's.
    """

    HYPERPARAMETERS = ("T_0", "T_mult", "eta_min")
    COUNTERS = ("T_i", "T_cur")

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        self._set_hyperparameters(optimizer, T_0=T_0, T_mult=T_mult, eta_min=eta_min)
        self.T_i, self.T_cur = T_0, -1
        super().__init__(optimizer, last_epoch)

    def check_hyperparameters(self, values, optimizer):
        count(values["T_0"], "T_0")
        count(values["T_mult"], "T_mult")
        check_nonnegative(values["eta_min"], "eta_min")

    def check_counters(self, state):
        T_i, T_cur = state["T_i"], state["T_cur"]
        count(T_i, "T_i")
        if not is_number(T_cur) or not 0 <= T_cur < T_i:
            raise ValueError(f"Invalid T_cur: {T_cur!r} (expected a number in [0, T_i = {T_i}))")
        return {"T_i": T_i, "T_cur": T_cur}

    def get_lr(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for b in self.base_lrs]

    def _position(self, epoch) -> tuple:
        """``(T_cur, T_i)`` at ``epoch`` (torch's step(epoch))."""
        if epoch < self.T_0:
            return epoch, self.T_0
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_0
        n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
        return epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1), self.T_0 * self.T_mult ** n

    def step(self, epoch=None) -> None:
        """One step (``epoch`` None), or to the point ``epoch`` (a number >= 0)."""
        before = (self.last_epoch, self.T_cur, self.T_i)
        if epoch is None and self.last_epoch < 0:
            epoch = 0                       # the first step, and the first after SequentialLR's undo
        if epoch is None:
            new_epoch, T_cur, T_i = self.last_epoch + 1, self.T_cur + 1, self.T_i
            if T_cur >= T_i:
                T_cur, T_i = T_cur % T_i, T_i * self.T_mult
        else:
            if not is_number(epoch) or epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts.step: epoch must be a number >= 0, got {epoch!r}")
            new_epoch = epoch
            T_cur, T_i = self._position(epoch)
        self.last_epoch, self.T_cur, self.T_i = math.floor(new_epoch), T_cur, T_i
        try:
            self._write(self.get_lr())
        except BaseException:
            self.last_epoch, self.T_cur, self.T_i = before
            raise


__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts"]
