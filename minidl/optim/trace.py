"""Watch an optimizer's rule run once and keep its local variables: what ``minidl explain`` shows.

The rule (``update``) names its quantities after the docstring's formula (``m``, ``v``,
``m_hat``, ``alpha``, ``step``...).  :func:`trace_update` runs it once, as ``step()`` would,
under a profile hook (``sys.setprofile``) that copies the local variables of every function
of the optimizer's module when it returns.  So the numbers ``explain`` prints are those of the
code that trains, not of a second copy of the formula.
"""
from __future__ import annotations

import copy
import sys

from minidl import backend as B


def _snapshot(value):
    if B.is_array(value):
        return value.copy()
    if isinstance(value, (int, float, bool, str, type(None), tuple)):
        return value
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    try:
        return copy.copy(value)
    except Exception:  # noqa: BLE001 - something that cannot be copied is shown as it is
        return value


def trace_update(opt, w, g, state, group) -> dict:
    """Run the rule of ``opt`` once on ``w``, ``g``, ``state`` (in place, as ``step`` does).

    Returns ``{function name: {local name: value}}`` for the rule (``"update"``) and any
    helper of the optimizer's own module it called (e.g. Muon's Newton-Schulz iteration),
    each as the function left them when it returned (arrays copied).
    """
    rule = type(opt).update
    module_globals = rule.__globals__
    captured: dict = {}

    def hook(frame, event, arg):
        if event == "return" and frame.f_globals is module_globals:
            captured[frame.f_code.co_name] = {k: _snapshot(v) for k, v in frame.f_locals.items()
                                              if k not in ("self", "__class__")}

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        rule(opt, w, g, state, group)
    finally:
        sys.setprofile(previous)
    return captured
