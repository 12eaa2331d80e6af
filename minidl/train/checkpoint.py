"""Checkpoints: everything needed to resume training bit for bit, in one ``.npz`` file.

Contents (all plain arrays; the file loads with ``allow_pickle=False``):

* ``model/<name>``                  each parameter, as ``model.state_dict()`` gives it;
* ``optimizer/<index>/<name>``      each array of the optimizer's per-parameter state;
* ``__meta__``                      a uint8 array holding UTF-8 JSON: the format tag,
  the epoch (epochs completed), the model's parameter names and shapes, the
  optimizer's class, convention, param groups and scalar state, the schedule's
  ``state_dict()``, the dropout layers' random-generator states, the data
  loader's seed and settings, the History so far (null when saved without one)
  and any ``extra`` JSON.

Writing is atomic (``minidl.fileio.atomic_writer``): a process killed at any moment
leaves either the old checkpoint or the new one, never a torn file.

Loading is all or nothing: ``load_checkpoint`` reads the whole file and checks
everything first -- every array's presence, shape, dtype and finiteness, every
hyperparameter through the optimizer's own validation (a throw-away optimizer of the
same class is built with them and loads the saved state), the schedule's likewise, the
generator states, the metadata's types and the History -- and only then changes the
optimizer, the schedule, the model and the generators.  Anything wrong is one
ValueError naming the path and the first thing wrong, and nothing is changed; see
``checkpoint_file`` for the file-level cases (empty, truncated, not a zip, a ``.npy``...).
"""
from __future__ import annotations

import json
import os
import warnings

from minidl import backend as B
from minidl.fileio import atomic_writer
from minidl.train import checkpoint_checks as checks
from minidl.train.checkpoint_file import FORMAT, META_KEY, VERSION, CheckpointError, read_checkpoint
from minidl.train.history import History

__all__ = ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint", "read_checkpoint",
           "prepare_load"]


class Checkpoint:
    """What ``load_checkpoint`` returns besides restoring the objects.

    ``epoch``: epochs completed (pass it to ``fit(initial_epoch=...)``);
    ``history``: the History up to then; ``loader_state``: the loader's seed and
    settings (dict or None); ``extra``: the caller's JSON; ``meta``: the raw metadata.
    """

    def __init__(self, meta, history: History | None = None):
        self.meta = meta
        self.epoch = meta["epoch"]
        self.history = history
        self.loader_state = meta.get("loader")
        self.extra = meta.get("extra")

    def __repr__(self):
        return f"Checkpoint(epoch={self.epoch}, optimizer={(self.meta.get('optimizer') or {}).get('optimizer')})"


# ---------------------------------------------------------------- helpers
def _dropout_generators(model):
    """(name, module) for every sub-module with a random generator (Dropout layers)."""
    return [(name, m) for name, m in model.named_modules() if hasattr(m, "get_rng_state")]


def _rng_state(module):
    """The generator's JSON-able state, or None where the backend cannot give one (CuPy)."""
    try:
        state = module.get_rng_state()
        json.dumps(state)
    except (AttributeError, TypeError, NotImplementedError, ValueError):
        return None
    return state


def _jsonable(value, what):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"save_checkpoint: {what} must be JSON-serialisable, got {value!r}") from None
    return value


def _encode_optimizer(optimizer, arrays):
    sd = optimizer.state_dict()
    groups = []
    for gi, group in enumerate(sd["param_groups"]):
        groups.append({k: _jsonable(v, f"optimizer param_groups[{gi}][{k!r}]") for k, v in group.items()})
    shapes = [list(p.shape) for g in optimizer.param_groups for p in g["params"]]
    state = {}
    for index, entries in sd["state"].items():
        encoded = {}
        for name, value in entries.items():
            if B.is_array(value) or isinstance(value, B.np.generic):
                key = f"optimizer/{index}/{name}"
                arrays[key] = B.np.asarray(B.to_numpy(value))
                encoded[name] = {"array": key}
            else:
                encoded[name] = {"value": _jsonable(value, f"optimizer state {name!r} of parameter {index}")}
        state[str(index)] = encoded
    return {"optimizer": sd["optimizer"], "convention": sd["convention"],
            "param_groups": groups, "param_shapes": shapes, "state": state}


# ------------------------------------------------------------------- save
def save_checkpoint(path, model, optimizer=None, schedule=None, *, epoch=0, history=None,
                    loader_state=None, extra=None):
    """Write model, optimizer, schedule, random generators, epoch and History to ``path`` atomically.

    ``epoch`` is the number of epochs completed; ``loader_state`` a JSON-able
    dict (``fit`` stores the loader's seed, shuffle, batch size, drop_last and
    dataset size); ``extra`` any JSON-able value of the caller's.  The file is
    written exactly at ``path`` (no suffix is added).  Returns ``path``.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"save_checkpoint: epoch must be an int >= 0, got {epoch!r}")
    arrays = {}
    params = []
    for name, value in model.state_dict().items():
        arrays[f"model/{name}"] = value
        params.append([name, list(value.shape)])
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": epoch,
        "backend": B.name(),
        "model": {"class": type(model).__name__, "parameters": params},
        "optimizer": None if optimizer is None else _encode_optimizer(optimizer, arrays),
        "schedule": None if schedule is None else {
            "class": type(schedule).__name__,
            "state": _jsonable(schedule.state_dict(), "the schedule's state_dict()"),
        },
        "rng": {"dropout": {name: _rng_state(m) for name, m in _dropout_generators(model)}},
        "loader": _jsonable(loader_state, "loader_state"),
        "history": None if history is None else history.to_dict(),
        "extra": _jsonable(extra, "extra"),
    }
    text = json.dumps(meta)
    arrays[META_KEY] = B.np.frombuffer(text.encode("utf-8"), dtype=B.np.uint8)
    with atomic_writer(path, "wb") as fh:
        B.np.savez(fh, **arrays)
    return path


# ------------------------------------------------------------------- load
class LoadPlan:
    """A checkpoint read and checked against the objects to restore; ``apply()`` restores them.

    Made by :func:`prepare_load`, which changes nothing (``fit`` compares the
    checkpoint's loader settings with the run's before applying)."""

    def __init__(self, path, checkpoint, model, weights, generators, optimizer=None, optimizer_state=None,
                 schedule=None, schedule_state=None):
        self.path, self.checkpoint = path, checkpoint
        self.model, self.weights, self.generators = model, weights, generators
        self.optimizer, self.optimizer_state = optimizer, optimizer_state
        self.schedule, self.schedule_state = schedule, schedule_state

    def apply(self) -> Checkpoint:
        """Restore the optimizer, the schedule, the weights and the dropout generators."""
        if self.optimizer is not None:
            self.optimizer.load_state_dict(self.optimizer_state)
        if self.schedule is not None:
            self.schedule.load_state_dict(self.schedule_state)
        self.model.load_state_dict(self.weights)
        own = dict(_dropout_generators(self.model))
        for name, state in self.generators.items():
            if state is not None:
                own[name].set_rng_state(state)
            else:
                warnings.warn(f"load_checkpoint: {self.path} holds no random-generator state for layer {name!r} "
                              f"(saved on the {self.checkpoint.meta.get('backend')} backend, whose generator "
                              "state cannot be saved); its dropout masks after resuming differ from an "
                              "uninterrupted run", RuntimeWarning, stacklevel=3)
        return self.checkpoint


def prepare_load(path, model, optimizer=None, schedule=None) -> LoadPlan:
    """Read the checkpoint at ``path`` and check all of it against the given objects; change nothing."""
    path = os.fspath(path)
    meta, arrays = read_checkpoint(path)
    history = checks.check_meta(path, meta)
    weights = checks.check_model(path, meta, arrays, model)
    generators = checks.check_generators(path, meta, dict(_dropout_generators(model)))
    optimizer_state = schedule_state = None
    if optimizer is not None:
        optimizer_state = checks.check_optimizer(path, meta.get("optimizer"), arrays, optimizer)
    if schedule is not None:
        groups = None if optimizer_state is None else optimizer_state["param_groups"]
        schedule_state = checks.check_schedule(path, meta.get("schedule"), schedule, groups)
    return LoadPlan(path, Checkpoint(meta, history), model, weights, generators,
                    optimizer, optimizer_state, schedule, schedule_state)


def load_checkpoint(path, model, optimizer=None, schedule=None) -> Checkpoint:
    """Restore ``model`` (and ``optimizer``, ``schedule`` when given) from ``path``; return a Checkpoint.

    The dropout layers' generators are restored too.  Pass only a model to load the
    weights alone.  Everything is read and checked before anything changes: a file that
    is not a checkpoint, is damaged, or does not fit the given objects raises one
    ValueError (``CheckpointError``) naming the path and the first thing wrong, and the
    objects are left as they were.  FileNotFoundError when nothing exists at ``path``.
    """
    return prepare_load(path, model, optimizer, schedule).apply()
