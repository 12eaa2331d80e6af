"""Checks of hyperparameters, one line each, as torch.optim writes them.

Every check raises ``ValueError("Invalid <name>: <value> (expected ...)")`` and returns
nothing, except :func:`check_pair`, which returns the pair as a tuple.
"""
from __future__ import annotations

import math

__all__ = ["check_lr", "check_range", "check_positive", "check_nonnegative", "check_bool",
           "check_pair", "check_int", "check_choice", "is_number"]


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_lr(value, name="lr"):
    if not is_number(value) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_range(value, name, low, high, low_open=False, high_open=False):
    """``low <= value <= high``, either end optionally open."""
    ok = is_number(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"Invalid {name}: {value!r} (expected a number in {interval})")


def check_positive(value, name):
    if not is_number(value) or value <= 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")


def check_nonnegative(value, name):
    if not is_number(value) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")


def check_int(value, name, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"Invalid {name}: {value!r} (expected one of {', '.join(map(repr, choices))})")


def check_pair(value, name):
    """``value`` is a pair (tuple or list) of two finite numbers; returns it as a tuple."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair of two numbers)")
    for i, v in enumerate(value):
        if not is_number(v):
            raise ValueError(f"Invalid {name}[{i}]: {v!r} in {name}={value!r} (expected a finite number)")
    return tuple(value)
