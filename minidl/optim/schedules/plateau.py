r"""ReduceLROnPlateau: lower the lr when a watched metric stops improving (torch 2.13's rule)."""
from __future__ import annotations

import math

from minidl.optim.schedules.base import LRScheduler, check_optimizer, count, decode_float, encode_float
from minidl.optim.validation import check_choice, check_nonnegative, check_range


class ReduceLROnPlateau(LRScheduler):
    r"""``step(metric)`` once per epoch; the lr is multiplied by ``factor`` after more than
    ``patience`` epochs without improvement.

    Each ``step(metric)``, as torch::

        better = metric < best * (1 - threshold)     mode "min", threshold_mode "rel"
                 metric < best - threshold           mode "min", "abs"
                 metric > best * (1 + threshold)     mode "max", "rel"
                 metric > best + threshold           mode "max", "abs"
        if better:  best = metric;  num_bad_epochs = 0   else:  num_bad_epochs += 1
        if cooldown_counter > 0:  cooldown_counter -= 1;  num_bad_epochs = 0
        if num_bad_epochs > patience:
            lr_i = max(lr_i * factor, min_lr_i), kept only where it falls by more than eps
            cooldown_counter = cooldown;  num_bad_epochs = 0

    ``best`` starts at +inf ("min") or -inf ("max"), so the first metric is always an improvement;
    a NaN metric never is.  ``min_lr``: one number, or one per param group.  The schedule does
    not change the lr when it is built.

    ``monitor`` (minidl's, not torch's): the key of ``fit``'s epoch logs that ``fit`` passes to
    ``step`` when this is its ``schedule`` (``"val_loss"`` by default; ``"loss"``,
    ``"val_accuracy"`` with ``mode="max"``...).  Called by hand, ``step`` takes any number.
    """

    HYPERPARAMETERS = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps",
                       "monitor")
    COUNTERS = ("best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8, monitor: str = "val_loss"):
        check_optimizer(type(self).__name__, optimizer)
        self._set_hyperparameters(optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold,
                                  threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps,
                                  monitor=monitor)
        self.optimizer = optimizer
        self.last_epoch = 0
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self._last_lr = list(self.base_lrs)
        self._is_initial = False
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def check_hyperparameters(self, values, optimizer):
        check_choice(values["mode"], "mode", ("min", "max"))
        check_range(values["factor"], "factor", 0, 1, high_open=True)
        count(values["patience"], "patience", 0)
        check_nonnegative(values["threshold"], "threshold")
        check_choice(values["threshold_mode"], "threshold_mode", ("rel", "abs"))
        count(values["cooldown"], "cooldown", 0)
        min_lr, groups = values["min_lr"], len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)) and len(min_lr) != groups:
            raise ValueError(f"Invalid min_lr: {min_lr!r} (expected one number, or a list of {groups}, "
                             "one per param group)")
        for value in (min_lr if isinstance(min_lr, (list, tuple)) else [min_lr]):
            check_nonnegative(value, "min_lr")
        check_nonnegative(values["eps"], "eps")
        if not isinstance(values["monitor"], str) or not values["monitor"]:
            raise ValueError(f"Invalid monitor: {values['monitor']!r} (expected the name of a logged value, "
                             "such as 'val_loss')")

    def _derive(self, optimizer):
        groups = len(optimizer.param_groups)
        self.min_lrs = [float(v) for v in self.min_lr] if isinstance(self.min_lr, (list, tuple)) \
            else [float(self.min_lr)] * groups

    def check_counters(self, state):
        best = decode_float(state["best"], "best")
        count(state["num_bad_epochs"], "num_bad_epochs", 0)
        count(state["cooldown_counter"], "cooldown_counter", 0)
        return {"best": best, "num_bad_epochs": state["num_bad_epochs"],
                "cooldown_counter": state["cooldown_counter"]}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "best": encode_float(self.best)}

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold (see the class docstring)."""
        if self.mode == "min":
            return metric < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return metric > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics) -> None:  # noqa: D401 - torch's name for the argument
        """One epoch's ``metrics`` (a number: the validation loss, say); lowers the lr after a plateau."""
        name = type(self).__name__
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"{name}.step: metrics must be a number (the monitored value), "
                            f"got {type(metrics).__name__}") from None
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise ValueError(f"{name}: the optimizer has {len(groups)} param groups, but the schedule "
                             f"was built for {len(self.min_lrs)}")
        best, bad, cooldown = self.best, self.num_bad_epochs, self.cooldown_counter
        if self.is_better(current, best):
            best, bad = current, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown, bad = cooldown - 1, 0
        lrs = [float(g["lr"]) for g in groups]
        if bad > self.patience:
            for i, old in enumerate(lrs):
                new = max(old * self.factor, self.min_lrs[i])
                if old - new > self.eps:
                    lrs[i] = new
            cooldown, bad = self.cooldown, 0
        self.last_epoch += 1
        self.best, self.num_bad_epochs, self.cooldown_counter = best, bad, cooldown
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs


__all__ = ["ReduceLROnPlateau"]
