"""Checkpoints: everything needed to resume training bit for bit, in one ``.npz`` file.

Contents (all plain arrays; the file loads with ``allow_pickle=False``):

* ``model/<name>``                  each parameter, as ``model.state_dict()`` gives it;
* ``optimizer/<index>/<name>``      each array of the optimizer's per-parameter state;
* ``__meta__``                      a uint8 array holding UTF-8 JSON: the format tag,
  the epoch (epochs completed), the model's parameter names and shapes, the
  optimizer's class, convention, param groups and scalar state, the schedule's
  ``state_dict()``, the dropout layers' random-generator states, the data
  loader's seed and settings, the History so far and any ``extra`` JSON.

Writing is atomic: the file is written to a temporary file in the same
directory, flushed and fsync'ed, then ``os.replace``'d over ``path`` (and the
directory fsync'ed), so a process killed at any moment leaves either the old
checkpoint or the new one, never a torn file.  A failed write removes its
temporary file.

Loading checks everything before changing anything: a checkpoint from a model
with other parameter names or shapes, or from another optimizer, raises a
ValueError that names what does not fit, and the model is left untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings

from minidl import backend as B
from minidl.train.history import History

FORMAT = "minidl-checkpoint"
VERSION = 1
META_KEY = "__meta__"


class Checkpoint:
    """What ``load_checkpoint`` returns besides restoring the objects.

    ``epoch``: epochs completed (pass it to ``fit(initial_epoch=...)``);
    ``history``: the History up to then; ``loader_state``: the loader's seed and
    settings (dict or None); ``extra``: the caller's JSON; ``meta``: the raw metadata.
    """

    def __init__(self, meta):
        self.meta = meta
        self.epoch = meta["epoch"]
        self.history = History.from_dict(meta["history"]) if meta.get("history") is not None else None
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


def _atomic_savez(path, arrays):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            B.np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # make the rename itself durable (POSIX; not possible on every platform)
    with contextlib.suppress(OSError, AttributeError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
    _atomic_savez(path, arrays)
    return path


# ------------------------------------------------------------------- load
def read_checkpoint(path):
    """``(meta, arrays)`` of a checkpoint file, checked to be one; restores nothing."""
    path = os.fspath(path)
    try:
        with B.np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # not a zip/npz, or object arrays
        raise ValueError(f"load_checkpoint: {path} is not a readable .npz checkpoint ({exc})") from None
    if META_KEY not in arrays:
        raise ValueError(f"load_checkpoint: {path} holds no {META_KEY!r} entry; not a minidl checkpoint")
    try:
        meta = json.loads(bytes(arrays.pop(META_KEY)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_checkpoint: {path} has unreadable metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {path} is not a minidl checkpoint (format tag missing)")
    if meta.get("version") != VERSION:
        raise ValueError(f"load_checkpoint: {path} has format version {meta.get('version')}, "
                         f"this minidl reads version {VERSION}")
    return meta, arrays


def _check_model(path, meta, model):
    saved = {name: tuple(shape) for name, shape in meta["model"]["parameters"]}
    own = {name: tuple(p.shape) for name, p in model.named_parameters()}
    missing = [n for n in own if n not in saved]
    unexpected = [n for n in saved if n not in own]
    shapes = [f"{n}: checkpoint {saved[n]}, model {own[n]}" for n in own if n in saved and saved[n] != own[n]]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"parameters of the model missing from the checkpoint {missing}")
        if unexpected:
            parts.append(f"parameters in the checkpoint that the model lacks {unexpected}")
        if shapes:
            parts.append("shapes differ: " + "; ".join(shapes))
        raise ValueError(
            f"load_checkpoint: {path} was saved from a different model "
            f"({meta['model']['class']} with {len(saved)} parameters; this {type(model).__name__} has "
            f"{len(own)}): " + "; ".join(parts)
        )


def _check_optimizer(path, saved, optimizer):
    name = type(optimizer).__name__
    if saved is None:
        raise ValueError(f"load_checkpoint: {path} holds no optimizer state, but an optimizer ({name}) was given")
    if saved["optimizer"] != name:
        raise ValueError(f"load_checkpoint: {path} holds the state of a {saved['optimizer']} optimizer, "
                         f"but a {name} was given")
    if saved["convention"] != optimizer.convention:
        raise ValueError(f"load_checkpoint: {path} holds a {name} with convention {saved['convention']!r}, "
                         f"the given {name} uses {optimizer.convention!r}")
    own_sizes = [len(g["params"]) for g in optimizer.param_groups]
    saved_sizes = [len(g["params"]) for g in saved["param_groups"]]
    if own_sizes != saved_sizes:
        raise ValueError(f"load_checkpoint: {path} holds a {name} with param groups of sizes {saved_sizes}, "
                         f"the given {name} has {own_sizes}")
    own_shapes = [tuple(p.shape) for g in optimizer.param_groups for p in g["params"]]
    saved_shapes = [tuple(s) for s in saved["param_shapes"]]
    bad = [f"parameter {i}: checkpoint {s}, optimizer {o}"
           for i, (s, o) in enumerate(zip(saved_shapes, own_shapes)) if s != o]
    if bad:
        raise ValueError(f"load_checkpoint: {path} holds a {name} over parameters of other shapes: " + "; ".join(bad))


def _decode_optimizer(saved, arrays, optimizer):
    groups = []
    for group, own in zip(saved["param_groups"], optimizer.param_groups):
        # JSON turns tuples (e.g. betas) into lists; give them back the optimizer's type
        groups.append({k: tuple(v) if isinstance(v, list) and isinstance(own.get(k), tuple) else v
                       for k, v in group.items()})
    state = {}
    for index, entries in saved["state"].items():
        state[int(index)] = {name: arrays[e["array"]] if "array" in e else e["value"]
                             for name, e in entries.items()}
    return {"optimizer": saved["optimizer"], "convention": saved["convention"],
            "param_groups": groups, "state": state}


def load_checkpoint(path, model, optimizer=None, schedule=None) -> Checkpoint:
    """Restore ``model`` (and ``optimizer``, ``schedule`` when given) from ``path``; return a Checkpoint.

    The dropout layers' generators are restored too.  Pass only a model to load
    the weights alone.  Everything is checked before anything changes.
    """
    path = os.fspath(path)
    meta, arrays = read_checkpoint(path)
    _check_model(path, meta, model)
    if optimizer is not None:
        _check_optimizer(path, meta["optimizer"], optimizer)
    if schedule is not None:
        saved = meta["schedule"]
        if saved is None:
            raise ValueError(f"load_checkpoint: {path} holds no schedule state, but a schedule "
                             f"({type(schedule).__name__}) was given")
        if saved["class"] != type(schedule).__name__:
            raise ValueError(f"load_checkpoint: {path} holds the state of a {saved['class']} schedule, "
                             f"but a {type(schedule).__name__} was given")
    rng_saved = meta["rng"]["dropout"]
    rng_own = dict(_dropout_generators(model))
    if sorted(rng_saved) != sorted(rng_own):
        raise ValueError(f"load_checkpoint: {path} has random generators for layers {sorted(rng_saved)}, "
                         f"the model has them for {sorted(rng_own)}")

    model.load_state_dict({name: arrays[f"model/{name}"] for name, _ in meta["model"]["parameters"]})
    for name, state in rng_saved.items():
        if state is not None:
            rng_own[name].set_rng_state(state)
        else:
            warnings.warn(f"load_checkpoint: {path} holds no random-generator state for layer {name!r} "
                          f"(saved on the {meta.get('backend')} backend, whose generator state cannot be "
                          "saved); its dropout masks after resuming differ from an uninterrupted run",
                          RuntimeWarning, stacklevel=2)
    if optimizer is not None:
        optimizer.load_state_dict(_decode_optimizer(meta["optimizer"], arrays, optimizer))
    if schedule is not None:
        schedule.load_state_dict(meta["schedule"]["state"])
    return Checkpoint(meta)
