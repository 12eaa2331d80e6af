r"""The base of every schedule: torch.optim.lr_scheduler.LRScheduler's mechanics, in minidl's terms.

A schedule is built on an optimizer and writes ``group["lr"]`` of each of its param groups:
once when it is built (the step count ``last_epoch`` is 0 then), and again at every ``step()``::

    last_epoch += 1
    lr_i = get_lr()[i]      # the rule of the schedule, read at last_epoch, per param group i
    group_i["lr"] = lr_i

As in torch, most rules are *recursive*: they read the lr the group holds now and multiply it
(``ExponentialLR``: ``lr <- lr * gamma``), so that schedules built on one optimizer compose
(``ChainedScheduler``: each multiplies in its own factor) and a change of ``group["lr"]`` by
hand lasts.  Each has the closed form beside it in its docstring; ``SequentialLR`` uses the
closed form (from ``base_lrs``) when it hands over to the next schedule at a milestone.

``base_lrs``: each group's lr when the *first* schedule was built on this optimizer (torch keeps
it as ``group["initial_lr"]``; minidl keeps it beside the optimizer, whose param groups take only
hyperparameters, see :func:`initial_lrs`), so a cosine built after a warm-up has shrunk the lr
still decays from the lr the optimizer was given.

``state_dict()`` is plain JSON-able data: the class name, ``last_epoch``, ``base_lrs``, the lrs
last set (``last_lr``), the hyperparameters and the schedule's own counters.
``load_state_dict(state)`` checks all of it first (:meth:`LRScheduler.check_state_dict`), then
restores it and writes ``last_lr`` into the optimizer; a bad state raises one ValueError naming
the schedule and the entry, and changes nothing.  :func:`from_state_dict` rebuilds a schedule
from its state alone (not one that holds Python functions: LambdaLR, MultiplicativeLR).
"""
from __future__ import annotations

import math
import weakref

from minidl.optim.optimizer import Optimizer
from minidl.optim.validation import is_number

#: optimizer -> each group's lr when the first schedule was built on it (torch's group["initial_lr"])
_INITIAL_LRS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

#: class name -> schedule class, for from_state_dict (filled as the classes are defined)
SCHEDULES: dict = {}


def initial_lrs(optimizer) -> list:
    """Each param group's lr when the first schedule was built on ``optimizer`` (groups added
    since then: their lr now), as torch's ``group.setdefault("initial_lr", group["lr"])``."""
    known = _INITIAL_LRS.get(optimizer, [])[:len(optimizer.param_groups)]
    lrs = known + [float(g["lr"]) for g in optimizer.param_groups[len(known):]]
    _INITIAL_LRS[optimizer] = lrs
    return list(lrs)


def set_initial_lrs(optimizer, lrs) -> None:
    """Overwrite the initial lrs (torch's OneCycleLR sets ``group["initial_lr"] = max_lr / div_factor``)."""
    _INITIAL_LRS[optimizer] = [float(lr) for lr in lrs]


def check_optimizer(owner: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: needs an Optimizer, got {type(optimizer).__name__}")
    for i, group in enumerate(optimizer.param_groups):
        if "lr" not in group:
            raise ValueError(f"{owner}: param group {i} has no 'lr' to schedule")


def check_last_epoch(owner: str, last_epoch) -> None:
    if last_epoch != -1 or isinstance(last_epoch, bool):
        raise ValueError(f"{owner}: last_epoch must be -1 (start afresh), got {last_epoch!r}; "
                         "to go on from a saved point, build the schedule and call load_state_dict(state)")


def per_group(owner: str, name: str, value, groups: int) -> list:
    """``value`` for every param group: one number for all, or a list or tuple of one per group."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{owner}: {name} has {len(values)} values for {groups} param groups")
    return values


def count(value, name, minimum=1) -> None:
    """An int >= minimum (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")


def lr_list(value, name, groups) -> list:
    """A list of ``groups`` finite numbers >= 0, as floats."""
    if not isinstance(value, (list, tuple)) or len(value) != groups or not all(
            is_number(v) and v >= 0 for v in value):
        raise ValueError(f"{name} is {value!r}; expected a list of {groups} finite numbers >= 0")
    return [float(v) for v in value]


def encode_float(value):
    """A float as strict JSON: finite numbers as they are, infinities and NaN as strings."""
    return value if math.isfinite(value) else str(value)


def decode_float(value, name):
    if value in ("inf", "-inf", "nan"):
        return float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{name} is {value!r}; expected a number (or 'inf', '-inf', 'nan')")
    return float(value)


def _jsonable(value):
    return [_jsonable(v) for v in value] if isinstance(value, (list, tuple)) else value


class LRScheduler:
    """Base: ``step()``, ``get_last_lr()``, ``state_dict()``, ``load_state_dict()`` (see the module docstring).

    A subclass sets its hyperparameters with ``self._set_hyperparameters(...)`` (checked by its
    ``check_hyperparameters``) before calling ``super().__init__(optimizer)``, and writes its
    rule in ``get_lr()`` (and ``closed_form_lr()`` where the rule is recursive).
    """

    #: the constructor arguments saved in ``state_dict`` (besides ``last_epoch`` and ``base_lrs``)
    HYPERPARAMETERS: tuple = ()
    #: the schedule's own counters saved in ``state_dict`` (CosineAnnealingWarmRestarts' T_i, T_cur)
    COUNTERS: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            SCHEDULES[cls.__name__] = cls

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        check_optimizer(name, optimizer)
        check_last_epoch(name, last_epoch)
        self.optimizer = optimizer
        self.base_lrs = initial_lrs(optimizer)
        self.last_epoch = -1
        self._is_initial = False
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]
        self._initial_step()

    # ----------------------------------------------------------- hyperparameters
    def check_hyperparameters(self, values: dict, optimizer) -> None:
        """Raise ValueError naming the first bad hyperparameter (the subclass's checks)."""

    def _set_hyperparameters(self, optimizer, **values) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        try:
            self.check_hyperparameters(values, optimizer)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        for key, value in values.items():
            setattr(self, key, value)
        self._derive(optimizer)

    def _derive(self, optimizer) -> None:
        """Recompute what follows from the hyperparameters (after construction and after a load)."""

    # ----------------------------------------------------------- stepping
    def _initial_step(self) -> None:
        """The step of construction: ``last_epoch`` becomes 0 and the rule writes its first lr."""
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:  # pragma: no cover - overridden
        """The rule: each group's lr at ``last_epoch`` (read ``get_last_lr()`` for the lr set)."""
        raise NotImplementedError

    def closed_form_lr(self):
        """Each group's lr at ``last_epoch`` from ``base_lrs`` alone; None where the rule has no
        closed form (it is then ``get_lr()`` itself)."""
        return None

    def get_momentum(self):
        """Each group's momentum (or beta1) at ``last_epoch``, for the schedules that cycle it; else None."""
        return None

    def step(self) -> None:
        """Advance one unit (an epoch, or a batch) and set the new lr in every param group."""
        self._update_lr()

    def _update_lr(self, epoch=None) -> None:
        """``last_epoch + 1`` (or ``epoch``, with the closed form) and the rule's lrs written; on an
        error nothing changes."""
        previous = self.last_epoch
        self.last_epoch = previous + 1 if epoch is None else epoch
        try:
            values = self.closed_form_lr() if epoch is not None else None
            values = self.get_lr() if values is None else values
            self._write(values, self.get_momentum())
        except BaseException:
            self.last_epoch = previous
            raise

    def _write(self, lrs, momentums=None) -> None:
        """Check, then write the lrs (and momenta) into the param groups."""
        groups = self.optimizer.param_groups
        name = type(self).__name__
        if not len(lrs) == len(groups) == len(self.base_lrs):
            raise ValueError(f"{name}: the optimizer has {len(groups)} param groups, but the schedule "
                             f"was built for {len(self.base_lrs)}")
        lrs = [float(lr) if is_number(lr) else lr for lr in lrs]
        for i, lr in enumerate(lrs):
            if not is_number(lr) or lr < 0:
                raise ValueError(f"{name}: the schedule gives param group {i} the lr {lr!r} at step "
                                 f"{self.last_epoch} (expected a finite number >= 0)")
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        if momentums is not None:
            key = self.momentum_key
            for group, momentum in zip(groups, momentums):
                group[key] = float(momentum)
            self._last_momentum = [float(m) for m in momentums]
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list:
        """The lr of each param group set by the last step (or by construction)."""
        return list(self._last_lr)

    # ----------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Plain JSON-able values: class, ``last_epoch``, ``base_lrs``, ``last_lr``, hyperparameters, counters."""
        state = {"scheduler": type(self).__name__, "last_epoch": self.last_epoch,
                 "base_lrs": list(self.base_lrs), "last_lr": list(self._last_lr)}
        state.update({k: _jsonable(getattr(self, k)) for k in self.HYPERPARAMETERS})
        state.update({k: _jsonable(getattr(self, k)) for k in self.COUNTERS})
        if getattr(self, "_last_momentum", None) is not None:
            state["last_momentum"] = list(self._last_momentum)
        return state

    def check_counters(self, state: dict) -> dict:
        """The subclass's counters from ``state``, checked; ``{}`` for most schedules."""
        return {}

    def check_state_dict(self, state) -> dict:
        """``state`` checked against this schedule and its optimizer, changing nothing; returns
        what :meth:`load_state_dict` restores.  ValueError naming the schedule and the entry."""
        name = type(self).__name__
        try:
            return self._checked(state)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}.load_state_dict: {exc}") from None

    def _checked(self, state) -> dict:
        name = type(self).__name__
        groups = len(self.optimizer.param_groups)
        if not isinstance(state, dict):
            raise TypeError(f"the state is a {type(state).__name__}, not a dict")
        if state.get("scheduler", name) != name:
            raise ValueError(f"the state is of a {state['scheduler']}")
        expected = {"scheduler", "last_epoch", "base_lrs", "last_lr", "last_momentum",
                    *self.HYPERPARAMETERS, *self.COUNTERS}
        missing = sorted({"last_epoch", "base_lrs", *self.HYPERPARAMETERS, *self.COUNTERS} - set(state))
        if missing:
            raise ValueError(f"the state lacks {', '.join(missing)}")
        unknown = sorted(set(state) - expected)
        if unknown:
            raise ValueError(f"the state has unknown entries {', '.join(unknown)}")
        epoch = state["last_epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < -1:
            raise ValueError(f"last_epoch is {epoch!r}; expected an integer >= 0 (or -1, a SequentialLR's "
                             "schedule before its turn)")
        if isinstance(state["base_lrs"], (list, tuple)) and len(state["base_lrs"]) != groups:
            raise ValueError(f"{len(state['base_lrs'])} base lrs for {groups} param groups")
        out = {"last_epoch": epoch, "base_lrs": lr_list(state["base_lrs"], "base_lrs", groups)}
        hyper = {k: state[k] for k in self.HYPERPARAMETERS}
        self.check_hyperparameters(hyper, self.optimizer)
        out["hyper"] = hyper
        out["counters"] = self.check_counters(state)
        out["last_lr"] = (lr_list(state["last_lr"], "last_lr", groups) if "last_lr" in state
                          else self._lr_from(out))
        momentum = state.get("last_momentum")
        out["last_momentum"] = None if momentum is None else lr_list(momentum, "last_momentum", groups)
        return out

    def _lr_from(self, checked) -> list:
        """The lr of a state saved without ``last_lr`` (minidl's schedules before it was saved):
        the closed form at its ``last_epoch``, computed on a copy."""
        probe = object.__new__(type(self))
        probe.__dict__.update(self.__dict__)
        probe.__dict__.update(checked["hyper"], **checked["counters"])
        probe.last_epoch, probe.base_lrs = checked["last_epoch"], checked["base_lrs"]
        probe._derive(self.optimizer)
        values = probe.closed_form_lr()
        if values is None:
            raise ValueError("the state lacks last_lr")
        return [float(v) for v in values]

    def _apply_state(self, checked: dict) -> None:
        for key, value in checked["hyper"].items():
            setattr(self, key, value)
        for key, value in checked["counters"].items():
            setattr(self, key, value)
        self.last_epoch, self.base_lrs = checked["last_epoch"], list(checked["base_lrs"])
        self._derive(self.optimizer)
        for group, lr in zip(self.optimizer.param_groups, checked["last_lr"]):
            group["lr"] = lr
        self._last_lr = list(checked["last_lr"])
        if checked["last_momentum"] is not None and getattr(self, "momentum_key", None):
            for group, momentum in zip(self.optimizer.param_groups, checked["last_momentum"]):
                group[self.momentum_key] = momentum
            self._last_momentum = list(checked["last_momentum"])

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved (all of it, or nothing) and write its lrs into the optimizer."""
        self._apply_state(self.check_state_dict(state))

    @classmethod
    def build_from_state(cls, optimizer, state: dict) -> "LRScheduler":
        """A schedule of this class on ``optimizer`` with the hyperparameters of ``state`` (not yet loaded)."""
        return cls(optimizer, **{k: state[k] for k in cls.HYPERPARAMETERS})

    def __repr__(self):
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.HYPERPARAMETERS)
        return f"{type(self).__name__}({hyper}, last_epoch={self.last_epoch})"


def from_state_dict(optimizer, state) -> LRScheduler:
    """A schedule rebuilt on ``optimizer`` from its ``state_dict()`` alone: its class by name, built
    with the saved hyperparameters, then loaded.  Refused for schedules that hold Python functions."""
    if not isinstance(state, dict) or state.get("scheduler") not in SCHEDULES:
        found = state.get("scheduler") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"from_state_dict: {found!r} is not a schedule's state "
                         f"(expected a dict whose 'scheduler' is one of {', '.join(sorted(SCHEDULES))})")
    cls = SCHEDULES[state["scheduler"]]
    if getattr(cls, "HOLDS_FUNCTIONS", False):
        raise ValueError(f"from_state_dict: a {cls.__name__} cannot be rebuilt from its state alone "
                         "(its functions are not saved); build it, then call load_state_dict(state)")
    missing = [k for k in cls.HYPERPARAMETERS if k not in state]
    if missing:
        raise ValueError(f"from_state_dict: the {cls.__name__} state lacks {', '.join(missing)}")
    schedule = cls.build_from_state(optimizer, state)
    schedule.load_state_dict(state)
    return schedule


__all__ = ["LRScheduler", "from_state_dict", "initial_lrs", "SCHEDULES"]
