"""``minidl report OUT``: the views of a run store rebuilt from its records alone (no training).

``--filter KEY=VALUE`` keeps the records whose flattened configuration
(:func:`minidl.lab.views.flat_config`) has that value: ``epochs=10``, ``dataset=mnist``,
``optimizer=adam``, ``lr=0.001``, ``status=diverged``, ``seed=0``.  Filters on different keys
must all hold; several on one key keep a record that matches any of them
(``--filter optimizer=adam --filter optimizer=sgd``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from minidl.lab.store import MAX_RECORD_BYTES, RunStore, writable_folder
from minidl.lab.views import check_figure_options, flat_config, write_views


def parse_filters(texts) -> dict:
    """``["epochs=10", ...]`` -> ``{"epochs": ["10"], ...}``; ValueError on a malformed one."""
    filters: dict = {}
    for text in texts or ():
        key, eq, value = str(text).partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"--filter {text!r}: expected KEY=VALUE, e.g. epochs=10 or dataset=mnist")
        filters.setdefault(key, []).append(value.strip())
    return filters


def value_matches(actual, wanted: str) -> bool:
    """Whether a configuration value equals the text of a filter (numbers compared as numbers,
    ``none``/``true``/``false`` as such, lists as values joined by ``/``)."""
    low = wanted.lower()
    if actual is None:
        return low in ("none", "null")
    if isinstance(actual, bool):
        return low == str(actual).lower()
    if isinstance(actual, (int, float)):
        try:
            return float(wanted) == float(actual)
        except ValueError:
            return False
    if isinstance(actual, (list, tuple)):
        parts = wanted.split("/")
        return len(parts) == len(actual) and all(value_matches(a, p) for a, p in zip(actual, parts))
    if isinstance(actual, dict):
        return json.dumps(actual, sort_keys=True) == wanted
    return str(actual) == wanted


def select(records, filters: dict) -> list:
    """The records that every filter's key accepts; ValueError for a key no record has."""
    flats = [flat_config(r) for r in records]
    known = sorted({k for f in flats for k in f})
    for key in filters:
        if key not in known:
            raise ValueError(f"--filter {key}=...: no record has the key {key!r}; keys: {', '.join(known)}")
    return [r for r, f in zip(records, flats)
            if all(key in f and any(value_matches(f[key], v) for v in values) for key, values in filters.items())]


def previous_view(folder) -> tuple:
    """What the results.json in ``folder`` (if any) says that the records do not: the command that
    trained the runs, and the order of its rows (record id -> position; :func:`report` keeps it
    when that view showed every record it draws, and otherwise orders by start time).  ``(None, {})`` when
    there is none or it cannot be read; a report's own view passes its ``trained_by`` on."""
    path = os.path.join(folder, "results.json")
    try:
        if os.path.getsize(path) > MAX_RECORD_BYTES:
            return None, {}
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None, {}
    if not isinstance(data, dict) or data.get("format") != "minidl-results/1":
        return None, {}
    command = data.get("trained_by") or data.get("command")
    command = command if isinstance(command, str) and not command.startswith("minidl report") else None
    order = {}
    for row in data.get("rows") or []:
        for rid in (row.get("ids") or []) if isinstance(row, dict) else []:
            order.setdefault(rid, len(order))
    return command, order


@dataclass
class Report:
    records: list
    problems: list = field(default_factory=list)
    views: list = field(default_factory=list)
    total: int = 0


def report(out, filters=(), command: str = "", figures: bool = True, views_out=None, style: str = "paper",
           loss_x: str = "epochs") -> Report:
    """Rebuild results.json, results.csv, table.md and the figures of the store ``out``
    (into ``views_out``, by default ``out`` itself) from the records that match ``filters``;
    ``style`` and ``loss_x`` as :func:`minidl.lab.views.write_figures` takes them."""
    check_figure_options(style, loss_x)
    store = RunStore(out)
    if not os.path.isdir(store.runs_dir):
        raise ValueError(f"{out}: not a minidl run store (it has no runs/ folder)")
    parsed = parse_filters(filters)
    records, problems = store.load()
    best = sorted(store.by_id(records).values(), key=lambda r: (r.get("times", {}).get("started") or "", r["id"]))
    chosen = select(best, parsed)
    if best and not chosen:
        present = {k: sorted({json.dumps(flat_config(r).get(k)) for r in best}) for k in parsed}
        raise ValueError("no record matches " + " and ".join(f"{k}={'|'.join(v)}" for k, v in parsed.items())
                         + "; present: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in present.items()))
    target = writable_folder(views_out or out, "--views-out" if views_out else "OUT")
    trained_by, order = previous_view(target)
    if not order and os.path.abspath(target) != os.path.abspath(out):
        trained_by, order = previous_view(out)     # a new --views-out folder: the store's own last view
    if all(r["id"] in order for r in chosen):     # the last view showed them all: keep its row order
        chosen.sort(key=lambda r: order[r["id"]])
    if any(r["config"].get("stage") for r in chosen):     # a store of minidl tune: its own views
        from minidl.lab.tune_views import read_protocol, write_tune_views

        views = write_tune_views(chosen, target, command, read_protocol(out), figures=figures, style=style)
        if figures and loss_x != "epochs":
            problems.append(f"loss_x={loss_x}: a tune store has no train_loss_steps.png; ignored")
    else:
        views = write_views(chosen, target, command, figures=figures, style=style, loss_x=loss_x,
                            trained_by=trained_by) if chosen else []
    return Report(records=chosen, problems=problems, views=views, total=len(best))
