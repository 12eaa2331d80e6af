r"""Schedules of schedules: one after another (SequentialLR) or all at once (ChainedScheduler).

Warm-up then cosine, in two lines::

    warmup = schedules.LinearLR(opt, start_factor=0.01, total_iters=5)
    sched = schedules.SequentialLR(opt, [warmup, schedules.CosineAnnealingLR(opt, T_max=95)], milestones=[5])
"""
from __future__ import annotations

from bisect import bisect_right

from minidl.optim.schedules.base import (LRScheduler, check_last_epoch, check_optimizer, count, from_state_dict,
                                         initial_lrs)
from minidl.optim.schedules.plateau import ReduceLROnPlateau


def _children(owner: str, optimizer, schedulers, composite_ok: bool) -> list:
    """The schedules to combine: each an LRScheduler on ``optimizer`` (a state dict is rebuilt
    with :func:`from_state_dict`), none a ReduceLROnPlateau."""
    if not isinstance(schedulers, (list, tuple)) or not schedulers:
        raise ValueError(f"{owner}: schedulers must be a non-empty list of schedules, got {schedulers!r}")
    out = []
    for i, schedule in enumerate(schedulers):
        if isinstance(schedule, dict):
            schedule = from_state_dict(optimizer, schedule)
        if not isinstance(schedule, LRScheduler):
            raise TypeError(f"{owner}: schedulers[{i}] must be a schedule, got {type(schedule).__name__}")
        if isinstance(schedule, ReduceLROnPlateau):
            raise ValueError(f"{owner}: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs a metric; "
                             f"{owner} steps its schedules without one")
        if not composite_ok and isinstance(schedule, (SequentialLR, ChainedScheduler)):
            raise ValueError(f"{owner}: schedulers[{i}] is a {type(schedule).__name__}; {owner} takes simple "
                             "schedules (torch's cannot restart a combined one at its milestone)")
        if schedule.optimizer is not optimizer:
            raise ValueError(f"{owner}: schedulers[{i}] ({type(schedule).__name__}) is built on another optimizer")
        out.append(schedule)
    return out


def _undo(schedule) -> None:
    """torch's recursive_undo: take back the step each schedule took when it was built."""
    if hasattr(schedule, "_schedulers"):
        for child in schedule._schedulers:
            _undo(child)
    else:
        schedule.last_epoch -= 1


class _Combined(LRScheduler):
    """What SequentialLR and ChainedScheduler share: their state holds their schedules' states."""

    def state_dict(self) -> dict:
        state = {"scheduler": type(self).__name__, "last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                 "last_lr": list(self._last_lr), "schedulers": [s.state_dict() for s in self._schedulers]}
        if "milestones" in self.HYPERPARAMETERS:
            state["milestones"] = list(self.milestones)
        return state

    def _checked(self, state) -> dict:
        out = super()._checked(state)
        saved = state["schedulers"]
        if not isinstance(saved, list) or len(saved) != len(self._schedulers):
            found = len(saved) if isinstance(saved, list) else type(saved).__name__
            raise ValueError(f"the state holds {found} schedules' states for {len(self._schedulers)} schedules")
        children = []
        for i, (child, child_state) in enumerate(zip(self._schedulers, saved)):
            try:
                children.append(child._checked(child_state))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"schedulers[{i}] ({type(child).__name__}): {exc}") from None
        out["children"] = children
        return out

    def _apply_state(self, checked: dict) -> None:
        for child, child_state in zip(self._schedulers, checked["children"]):
            child._apply_state(child_state)
        self.last_epoch, self.base_lrs = checked["last_epoch"], list(checked["base_lrs"])
        if "milestones" in self.HYPERPARAMETERS:
            self.milestones = list(checked["hyper"]["milestones"])
        for group, lr in zip(self.optimizer.param_groups, checked["last_lr"]):
            group["lr"] = lr
        self._last_lr = list(checked["last_lr"])


class SequentialLR(_Combined):
    r"""Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` until ``milestones[1]``, ...

    At each milestone the next schedule starts afresh from its closed form at step 0 (its lr
    from ``base_lrs``: a cosine after a warm-up starts from the optimizer's lr); between
    milestones the current one steps as alone.  ``step`` ``t`` of the whole runs schedule ``k``
    = ``bisect_right(milestones, t)`` at its own step ``t - milestones[k-1]``.  As in torch,
    building the SequentialLR takes back the step each schedule took when it was built and
    restarts the first.  Milestones: increasing integers >= 1, one fewer than the schedules.
    The schedules may be given as their ``state_dict()``\ s (rebuilt by ``from_state_dict``),
    which is how ``state_dict()`` saves them.
    """

    HYPERPARAMETERS = ("schedulers", "milestones")

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        name = type(self).__name__
        check_optimizer(name, optimizer)
        check_last_epoch(name, last_epoch)
        children = _children(name, optimizer, schedulers, composite_ok=False)
        self._schedulers = children
        try:
            self.check_hyperparameters({"schedulers": children, "milestones": milestones}, optimizer)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        self.optimizer, self.milestones = optimizer, list(milestones)
        self.last_epoch, self._is_initial = 0, False
        self.base_lrs = initial_lrs(optimizer)
        for group, lr in zip(optimizer.param_groups, self.base_lrs):
            group["lr"] = lr
        _undo(self)
        first = children[bisect_right(self.milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def check_hyperparameters(self, values, optimizer):
        milestones, n = values["milestones"], len(self._schedulers)
        if not isinstance(milestones, (list, tuple)) or len(milestones) != n - 1:
            raise ValueError(f"Invalid milestones: {milestones!r} (expected a list of {n - 1} step counts, "
                             f"one fewer than the {n} schedules)")
        for m in milestones:
            count(m, "milestones", 1)
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"Invalid milestones: {list(milestones)!r} (expected increasing step counts)")

    def step(self) -> None:
        """One step of the schedule whose turn it is (at a milestone: the next one, restarted)."""
        self.last_epoch += 1
        index = bisect_right(self.milestones, self.last_epoch)
        schedule = self._schedulers[index]
        try:
            if index > 0 and self.milestones[index - 1] == self.last_epoch:
                schedule._update_lr(0)
            else:
                schedule.step()
        except BaseException:
            self.last_epoch -= 1
            raise
        self._last_lr = schedule.get_last_lr()


class ChainedScheduler(_Combined):
    r"""Step every schedule at each ``step()``, in order: their factors multiply.

    The recursive schedules (StepLR, ExponentialLR, ConstantLR, LinearLR, CosineAnnealingLR...)
    each scale the lr the group holds, so ``ChainedScheduler([ConstantLR(opt, 0.1, 3),
    ExponentialLR(opt, 0.9)])`` gives ``lr_t = b * 0.9^t * (0.1 if t < 3 else 1)``; a schedule that
    sets the lr from ``base_lrs`` (LambdaLR, LinearWarmup, CosineAnnealingWarmRestarts,
    OneCycleLR, CyclicLR) overrides those before it.  ``get_last_lr()`` is the groups' lr
    after the last schedule.  Signature as torch's: ``ChainedScheduler(schedulers, optimizer=None)``.
    ``last_epoch`` counts the steps (the schedules keep their own).

    .. note:: ``fit(..., resume=True)`` checks a checkpoint's schedule state by building a fresh
       schedule as ``type(schedule)(optimizer, **hyperparameters)`` (``minidl.train.checkpoint_checks``),
       which this signature does not take, so it refuses to resume a ChainedScheduler (nor a
       LambdaLR or MultiplicativeLR, whose functions are not saved); ``load_state_dict`` itself
       restores all three.
    """

    HYPERPARAMETERS = ("schedulers",)

    def __init__(self, schedulers, optimizer=None):
        name = type(self).__name__
        if optimizer is None and isinstance(schedulers, (list, tuple)) and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        check_optimizer(name, optimizer)
        self._schedulers = _children(name, optimizer, schedulers, composite_ok=True)
        self.optimizer, self.last_epoch, self._is_initial = optimizer, 0, False
        self.base_lrs = initial_lrs(optimizer)
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    @classmethod
    def build_from_state(cls, optimizer, state):
        return cls(state["schedulers"], optimizer)

    def check_hyperparameters(self, values, optimizer):
        """The schedules' states are checked by each schedule (see ``_checked``)."""

    def step(self) -> None:
        """``step()`` of every schedule, in order."""
        for schedule in self._schedulers:
            schedule.step()
        self.last_epoch += 1
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

__all__ = ["SequentialLR", "ChainedScheduler"]
