"""What ``Optimizer.load_state_dict`` checks before it changes anything.

:func:`checked_state` reads a saved ``state_dict`` against a live optimizer and returns the
param groups and state it would install, or raises one ``ValueError`` that names the first
thing wrong.  Nothing of the optimizer is modified here.
"""
from __future__ import annotations

from minidl import backend as B

#: state entries that are sums or averages of squares or magnitudes (or Rprop's step sizes),
#: by the names every optimizer here gives them: a negative value is not a state any step
#: makes, and would turn the weights NaN at the next step (a square root of it)
NONNEGATIVE = frozenset({"exp_avg_sq", "max_exp_avg_sq", "exp_avg_var", "max_exp_avg_var", "square_avg",
                         "acc_delta", "sum", "accumulator", "exp_inf", "row_var", "col_var", "step_size"})


def checked_state(opt, saved) -> tuple:
    """``(param_groups, state)`` built from ``saved`` for ``opt``, everything validated."""
    name = f"{type(opt).__name__}.load_state_dict"
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("state"), dict):
        raise ValueError(f"{name}: expected a dict with 'param_groups' (a list) and 'state' (a dict), "
                         f"got {type(saved).__name__}")
    if saved.get("optimizer", type(opt).__name__) != type(opt).__name__:
        raise ValueError(f"{name}: the state is of a {saved['optimizer']}, not a {type(opt).__name__}")
    if saved.get("convention", opt.convention) != opt.convention:
        raise ValueError(f"{name}: the state uses convention {saved['convention']!r}, "
                         f"this optimizer {opt.convention!r}")
    groups = _checked_groups(opt, saved["param_groups"], name)
    params = [p for g in groups for p in g["params"]]
    group_of = {id(p): g for g in groups for p in g["params"]}
    state = {}
    for key, entries in saved["state"].items():
        index = _index(key, len(params), name)
        p = params[index]
        state[p] = _checked_entries(opt, p, group_of[id(p)], entries, f"{name}: state of parameter {index}")
    return groups, state


def _checked_groups(opt, saved_groups, name) -> list:
    own_groups = opt.param_groups
    if len(saved_groups) != len(own_groups):
        raise ValueError(f"{name}: the state has {len(saved_groups)} param groups, this optimizer {len(own_groups)}")
    groups = []
    for gi, (saved, own) in enumerate(zip(saved_groups, own_groups)):
        where = f"{name}: param group {gi}"
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
            raise ValueError(f"{where} is not a dict with a 'params' list")
        if len(saved["params"]) != len(own["params"]):
            raise ValueError(f"{where} holds {len(saved['params'])} parameters, this optimizer's {len(own['params'])}")
        keys = set(own) - {"params"}
        hyper = {k: v for k, v in saved.items() if k != "params"}
        if set(hyper) != keys:
            raise ValueError(f"{where}: hyperparameters {sorted(hyper)} do not match this optimizer's "
                             f"{sorted(keys)} (missing {sorted(keys - set(hyper))}, "
                             f"unexpected {sorted(set(hyper) - keys)})")
        candidate = {**hyper, "params": own["params"]}
        for k, v in hyper.items():          # JSON turns tuples into lists: give them back their type
            if isinstance(own[k], tuple) and isinstance(v, list):
                candidate[k] = tuple(v)
        try:
            opt._validate_group(candidate)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        groups.append(candidate)
    return groups


def _index(key, count, name) -> int:
    try:
        index = int(key)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: state key {key!r} is not a parameter index") from None
    if not 0 <= index < count:
        raise ValueError(f"{name}: state key {key!r} is out of range (there are {count} parameters)")
    return index


def _checked_entries(opt, p, group, entries, where) -> dict:
    """One parameter's state, compared with a fresh ``init_state`` entry by entry."""
    if not isinstance(entries, dict):
        raise ValueError(f"{where} is a {type(entries).__name__}, expected a dict")
    fresh = opt.init_state(p.data, group)
    if set(entries) != set(fresh):
        raise ValueError(f"{where} holds {sorted(entries)}, expected {sorted(fresh)}")
    xp = B.get_array_module(p.data)
    restored = {}
    for k, model in fresh.items():
        value = entries[k]
        if B.is_array(model):
            if not B.is_array(value) and not isinstance(value, (list, tuple)):
                raise ValueError(f"{where}: {k!r} is a {type(value).__name__}, expected an array")
            host = B.to_numpy(value) if B.is_array(value) else B.np.asarray(value)
            if tuple(host.shape) != tuple(model.shape):
                raise ValueError(f"{where}: {k!r} has shape {tuple(host.shape)}, expected {tuple(model.shape)}")
            if host.dtype.kind not in "fiub":
                raise ValueError(f"{where}: {k!r} has dtype {host.dtype}, expected numbers")
            if not B.np.isfinite(host).all():
                raise ValueError(f"{where}: {k!r} holds NaN or Inf")
            if k in NONNEGATIVE and (host < 0).any():
                raise ValueError(f"{where}: {k!r} holds negative values (its smallest is {host.min():g}); it "
                                 "sums or averages squares or magnitudes, so no step makes it negative")
            restored[k] = xp.array(host, dtype=model.dtype)
        else:
            if B.is_array(value) and value.ndim == 0:
                value = value.item()
            if not _same_kind(value, model):
                raise ValueError(f"{where}: {k!r} is {value!r}, expected "
                                 f"{'an integer >= 0' if isinstance(model, int) else 'a ' + type(model).__name__}")
            restored[k] = type(model)(value) if model is not None else value   # numpy numbers -> Python
    return restored


def _same_kind(value, model) -> bool:
    """``value`` can stand for ``model``'s number: the same kind (a count is a non-negative
    integer, a numpy integer included; a float is finite or infinite, not NaN)."""
    if model is None or isinstance(model, bool):
        return type(value) is type(model)
    if isinstance(model, int):
        return isinstance(value, (int, B.np.integer)) and not isinstance(value, bool) and value >= 0
    if isinstance(model, float):
        return (isinstance(value, (int, float, B.np.floating, B.np.integer)) and not isinstance(value, bool)
                and value == value)                                           # inf allowed, NaN not
    return isinstance(value, type(model))
