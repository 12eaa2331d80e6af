"""Checking a checkpoint's contents against the objects it is to restore, changing none of them.

Each function raises one ``CheckpointError`` (a ValueError) naming the path and the first
thing wrong, or returns what ``load_checkpoint`` will restore, already decoded.  The
optimizer's hyperparameters go through the optimizer's own validation (a throw-away
optimizer of the same class over throw-away Parameters of the same shapes is built with
them, and loads the saved state); the schedule's likewise.
"""
from __future__ import annotations

import copy
import math

from minidl import backend as B
from minidl.optim.schedules import LRScheduler
from minidl.tensor import Parameter
from minidl.train.checkpoint_file import fail
from minidl.train.history import History

#: what a throw-away optimizer or schedule may raise on bad hyperparameters or state
_REFUSALS = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _describe(exc) -> str:
    if isinstance(exc, KeyError):
        return f"it lacks the entry {exc.args[0]!r}" if exc.args else "an entry is missing"
    return str(exc) or type(exc).__name__


def _is_int(value, low=0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_meta(path, meta) -> History | None:
    """The metadata's types; returns the decoded History (None where it was saved without one)."""
    if not _is_int(meta.get("epoch")):
        raise fail(path, f"has metadata epoch {meta.get('epoch')!r}; expected an int >= 0")
    saved = meta.get("model")
    params = saved.get("parameters") if isinstance(saved, dict) else None
    if not isinstance(params, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], list)
            and all(_is_int(n) for n in p[1]) for p in params):
        raise fail(path, "has metadata without a well-formed model entry (a list of [name, shape])")
    if len({p[0] for p in params}) != len(params):
        raise fail(path, "names a model parameter twice in its metadata")
    for key in ("optimizer", "schedule", "loader"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise fail(path, f"has metadata {key} of type {type(meta[key]).__name__}; expected a dict or null")
    rng = meta.get("rng")
    if not isinstance(rng, dict) or not isinstance(rng.get("dropout"), dict) or not all(
            state is None or isinstance(state, dict) for state in rng["dropout"].values()):
        raise fail(path, "has metadata without well-formed generator states (rng.dropout: name -> dict or null)")
    if "history" not in meta:
        raise fail(path, "has metadata without its 'history' entry (every checkpoint has one, null when "
                         "saved without a History)")
    if meta["history"] is None:
        return None
    try:
        return History.from_dict(meta["history"])
    except (TypeError, ValueError) as exc:
        raise fail(path, f"holds a damaged History: {exc}") from None


def _check_array(path, arrays, key, shape, dtype, what):
    """``arrays[key]`` present, of ``shape`` and ``dtype``, finite."""
    if key not in arrays:
        raise fail(path, f"lacks the array {key!r} ({what})")
    value = arrays[key]
    if tuple(value.shape) != tuple(shape):
        raise fail(path, f"holds {what} of shape {tuple(value.shape)} in {key!r}, expected {tuple(shape)}")
    if dtype is not None and value.dtype != dtype:
        raise fail(path, f"holds {what} as {value.dtype} in {key!r}, the model's is {dtype}")
    if value.dtype.kind == "f" and not B.np.isfinite(value).all():
        raise fail(path, f"holds NaN or Inf in {what} ({key!r})")
    return value


def check_model(path, meta, arrays, model) -> dict:
    """Names, shapes, dtypes and finiteness of the weights; returns the state dict to load."""
    saved = {name: tuple(shape) for name, shape in meta["model"]["parameters"]}
    own = dict(model.named_parameters())
    missing = [n for n in own if n not in saved]
    unexpected = [n for n in saved if n not in own]
    shapes = [f"{n}: checkpoint {saved[n]}, model {tuple(own[n].shape)}"
              for n in own if n in saved and saved[n] != tuple(own[n].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"parameters of the model missing from the checkpoint {missing}")
        if unexpected:
            parts.append(f"parameters in the checkpoint that the model lacks {unexpected}")
        if shapes:
            parts.append("shapes differ: " + "; ".join(shapes))
        raise fail(path, f"was saved from a different model ({meta['model'].get('class')} with {len(saved)} "
                         f"parameters; this {type(model).__name__} has {len(own)}): " + "; ".join(parts))
    return {name: _check_array(path, arrays, f"model/{name}", p.shape, B.np.dtype(p.dtype), f"weight {name!r}")
            for name, p in own.items()}


def check_generators(path, meta, generators) -> dict:
    """The dropout layers' generator states: one per layer, each one the layer's generator accepts."""
    saved = meta["rng"]["dropout"]
    if sorted(saved) != sorted(generators):
        raise fail(path, f"has random generators for layers {sorted(saved)}, the model has them for "
                         f"{sorted(generators)}")
    for name, state in saved.items():
        rng = getattr(generators[name], "rng", None)
        if state is None or not hasattr(rng, "bit_generator"):
            continue
        try:
            copy.deepcopy(rng).bit_generator.state = state      # a throw-away copy checks the state
        except _REFUSALS as exc:
            raise fail(path, f"holds a generator state for layer {name!r} that it refuses ({_describe(exc)})") from None
    return saved


# -------------------------------------------------------------- optimizer
def _check_saved_optimizer(path, saved, optimizer):
    name = type(optimizer).__name__
    if saved is None:
        raise fail(path, f"holds no optimizer state, but an optimizer ({name}) was given")
    groups = saved.get("param_groups")
    if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                               for g in groups):
        raise fail(path, "holds optimizer param groups that are not a list of dicts with 'params'")
    if not isinstance(saved.get("state"), dict) or not isinstance(saved.get("param_shapes"), list):
        raise fail(path, "holds optimizer metadata without its state or parameter shapes")
    if saved.get("optimizer") != name:
        raise fail(path, f"holds the state of a {saved.get('optimizer')} optimizer, but a {name} was given")
    if saved.get("convention") != optimizer.convention:
        raise fail(path, f"holds a {name} with convention {saved.get('convention')!r}, "
                         f"the given {name} uses {optimizer.convention!r}")
    own_sizes = [len(g["params"]) for g in optimizer.param_groups]
    saved_sizes = [len(g["params"]) for g in groups]
    if own_sizes != saved_sizes:
        raise fail(path, f"holds a {name} with param groups of sizes {saved_sizes}, the given {name} has {own_sizes}")
    own_shapes = [tuple(p.shape) for g in optimizer.param_groups for p in g["params"]]
    saved_shapes = [tuple(s) if isinstance(s, list) else s for s in saved["param_shapes"]]
    bad = [f"parameter {i}: checkpoint {s}, optimizer {o}"
           for i, (s, o) in enumerate(zip(saved_shapes, own_shapes)) if s != o]
    if bad or len(saved_shapes) != len(own_shapes):
        raise fail(path, f"holds a {name} over parameters of other shapes: " + ("; ".join(bad) or
                         f"{len(saved_shapes)} shapes for {len(own_shapes)} parameters"))


def _decode_state(path, saved, arrays, count) -> dict:
    """The per-parameter state: index -> {name: array or number}, every number finite."""
    state = {}
    for index, entries in saved["state"].items():
        if not (isinstance(index, str) and index.isdigit() and int(index) < count) or not isinstance(entries, dict):
            raise fail(path, f"holds optimizer state for parameter {index!r}, which is not one of its {count}")
        decoded = {}
        for name, entry in entries.items():
            what = f"optimizer state {name!r} of parameter {index}"
            if isinstance(entry, dict) and "array" in entry:
                key = entry["array"]
                if not isinstance(key, str) or key not in arrays:
                    raise fail(path, f"lacks the array {key!r} ({what})")
                value = arrays[key]
                if value.dtype.kind == "f" and not B.np.isfinite(value).all():
                    raise fail(path, f"holds NaN or Inf in {what} ({key!r})")
            elif isinstance(entry, dict) and "value" in entry:
                value = entry["value"]
                if isinstance(value, float) and not math.isfinite(value):
                    raise fail(path, f"holds {value} as {what}")
            else:
                raise fail(path, f"holds {what} as {entry!r}; expected {{'array': key}} or {{'value': number}}")
            decoded[name] = value
        state[int(index)] = decoded
    return state


def _decode_groups(saved_groups, own_groups) -> list:
    # JSON turns tuples (e.g. betas) into lists; give them back the optimizer's type
    return [{k: tuple(v) if isinstance(v, list) and isinstance(own.get(k), tuple) else v for k, v in group.items()}
            for group, own in zip(saved_groups, own_groups)]


def _throwaway_optimizer(optimizer, groups):
    """An optimizer of ``optimizer``'s class and convention with ``groups``' hyperparameters, over
    new Parameters shaped like its own: the constructor validates every hyperparameter."""
    own = [g["params"] for g in optimizer.param_groups]
    built = []
    for group, params in zip(groups, own):
        probes = [Parameter(B.get_array_module(p.data).zeros(p.shape, dtype=p.dtype)) for p in params]
        built.append({**{k: v for k, v in group.items() if k != "params"}, "params": probes})
    return type(optimizer)(built, convention=optimizer.convention)


def check_optimizer(path, saved, arrays, optimizer) -> dict:
    """The optimizer's saved hyperparameters and state, validated by a throw-away optimizer of its
    class; returns the state dict to load."""
    _check_saved_optimizer(path, saved, optimizer)
    name = type(optimizer).__name__
    groups = _decode_groups(saved["param_groups"], optimizer.param_groups)
    count = sum(len(g["params"]) for g in optimizer.param_groups)
    decoded = {"optimizer": saved["optimizer"], "convention": saved["convention"], "param_groups": groups,
               "state": _decode_state(path, saved, arrays, count)}
    try:
        probe = _throwaway_optimizer(optimizer, groups)
    except _REFUSALS as exc:
        raise fail(path, f"holds {name} hyperparameters that {name} refuses: {_describe(exc)}") from None
    try:
        probe.load_state_dict(copy.deepcopy(decoded))
    except _REFUSALS as exc:
        raise fail(path, f"holds a {name} state that {name}.load_state_dict refuses: {_describe(exc)}") from None
    return decoded


# --------------------------------------------------------------- schedule
def check_schedule(path, saved, schedule, optimizer_groups) -> dict:
    """The schedule's class and state; an LRScheduler's state is checked by the schedule itself
    (``check_state_dict``, which changes nothing), so every schedule, chained ones and those
    built on functions included, can be resumed."""
    name = type(schedule).__name__
    if saved is None:
        raise fail(path, f"holds no schedule state, but a schedule ({name}) was given")
    if saved.get("class") != name:
        raise fail(path, f"holds the state of a {saved.get('class')} schedule, but a {name} was given")
    state = saved.get("state")
    if not isinstance(state, dict):
        raise fail(path, f"holds a {name} state of type {type(state).__name__}; expected a dict")
    if not isinstance(schedule, LRScheduler):
        return state
    try:
        checked = schedule.check_state_dict(copy.deepcopy(state))   # the live schedule, nothing changed
    except _REFUSALS as exc:
        raise fail(path, f"holds a {name} state that {name} refuses: {_describe(exc)}") from None
    lrs = checked.get("last_lr", []) if isinstance(checked, dict) else []
    if not all(isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr >= 0
               for lr in lrs):
        raise fail(path, f"holds a {name} state that sets the learning rates {lrs}")
    return state
