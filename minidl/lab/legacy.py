"""Run records from a ``results.json`` written before the run store, so old comparisons live on.

Before every run was a record of its own (:mod:`minidl.lab.store`), ``minidl compare --out``
wrote one ``results.json``: the command, its settings (``config_key``), the environment, and a
list of runs, each with its row spec, seed, batch size, optimizer and history (``train_acc``,
``val_acc``, ..., ``step_loss``).  :func:`import_results` turns each of those runs into a record
of ``OUT/runs/``, so ``minidl report OUT`` draws the same tables and figures as for any store.

What an imported record says, and how it differs from a trained one:

* ``config["imported"]`` names the file, its format and the command that trained it;
* the hyperparameters are the optimizer's ``repr`` as the old file recorded it (the values
  that ran), with those the repr lacks at today's defaults;
* the data are named, not fingerprinted (the old file kept no sha256; MNIST is checked
  against its published sha256 on every load, so the files were the published ones);
* ``times["started"]`` is estimated: the comparison's start plus the times of the runs listed
  before it (they ran one after another), and ``times["start_estimated"]`` says so.
"""
from __future__ import annotations

import ast
import datetime
import json
import os

from minidl.lab.run import resolved_optimizer
from minidl.lab.specs import RowSpec
from minidl.lab.store import MAX_RECORD_BYTES, RECORD_FORMAT, RunStore, config_id

LEGACY_FORMAT = "minidl compare results.json, one file per comparison (before the run store)"
#: the old history's names -> a record's
HISTORY_NAMES = {"train_acc": "train_accuracy", "val_acc": "val_accuracy"}


def is_legacy(data) -> bool:
    """Whether ``data`` (a parsed results.json) is the format before the run store."""
    return isinstance(data, dict) and "config_key" in data and isinstance(data.get("runs"), list) \
        and "format" not in data


def repr_hyper(text: str) -> dict:
    """``"Adam(convention='keras', lr=0.001, ...)"`` -> ``{"lr": 0.001, ...}`` (literals only; the
    convention left out; ValueError for anything that is not such a call)."""
    try:
        node = ast.parse(str(text), mode="eval").body
        if not isinstance(node, ast.Call) or node.args:
            raise ValueError("not a call with keyword arguments")
        values = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"optimizer {str(text)[:80]!r}: not an optimizer's repr ({exc})") from None
    values.pop("convention", None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _start(meta: dict) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(meta.get("started"))).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def _utc(moment) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z" if moment else None


def _config(run: dict, meta: dict, source: str) -> dict:
    key = meta["config_key"]
    spec = RowSpec(**run["spec"])
    optimizer = resolved_optimizer(spec)
    optimizer["hyper"].update({k: v for k, v in repr_hyper(run["optimizer"]).items() if k in optimizer["hyper"]})
    subset = run.get("train_size") if run.get("train_size") != meta.get("train_size") else key.get("train_subset")
    return {"problem": "mnist-cnn", "dataset": key["dataset"], "data": {"name": key["dataset"]},
            "train_subset": subset, "val_subset": key.get("val_subset"), "optimizer": optimizer,
            "batch_size": int(run["batch_size"]), "epochs": int(key["epochs"]), "seed": int(run["seed"]),
            "backend": key.get("backend", "numpy"), "dtype": "float32",
            "minidl": (meta.get("environment") or {}).get("minidl"), "label": run["label"],
            "note": run.get("note", ""), "data_dir": None, "verbose": 0,
            "imported": {"from": source, "format": LEGACY_FORMAT, "command": meta.get("command", "")}}


def record_from_legacy(run: dict, meta: dict, started=None, source: str = "results.json") -> dict:
    """One run of an old results.json as a run record (see the module's docstring)."""
    config = _config(run, meta, source)
    old = dict(run["history"])
    step_loss = old.pop("step_loss", [])
    history = {HISTORY_NAMES.get(k, k): v for k, v in old.items()}
    train, evaluate = sum(history.get("train_seconds") or []), sum(history.get("eval_seconds") or [])
    wall = float(run.get("total_seconds") or train + evaluate)
    finished = started + datetime.timedelta(seconds=wall) if started else None
    return {"format": RECORD_FORMAT, "id": config_id(config), "config": config, "label": run["label"],
            "status": "ok", "divergence": None, "error": None, "problem": "mnist-cnn", "split": "test",
            "stage": None, "train_size": run.get("train_size"), "val_size": meta.get("val_size"),
            "optimizer": run["optimizer"], "environment": dict(meta.get("environment") or {}),
            "history": history, "step_loss": step_loss,
            "times": {"started": _utc(started), "finished": _utc(finished), "start_estimated": True,
                      "wall_seconds": wall, "train_seconds": train, "eval_seconds": evaluate}}


def read_legacy(path) -> dict:
    """The parsed old results.json at ``path`` (ValueError naming it when it is not one)."""
    size = os.path.getsize(path)
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"{path}: {size:,} bytes, larger than any results.json minidl wrote")
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except ValueError as exc:
            raise ValueError(f"{path}: not JSON ({exc})") from None
    if not is_legacy(data):
        raise ValueError(f"{path}: not a results.json of the format before the run store")
    return data


def import_results(folder) -> tuple:
    """Write a record into ``folder/runs/`` for each run of ``folder/results.json`` (old format);
    returns ``(written, already there)`` counts.  Records already present are left alone."""
    path = os.path.join(folder, "results.json")
    meta = read_legacy(path)
    store = RunStore(folder)
    store.prepare()
    moment, written, present = _start(meta), 0, 0
    for run in meta["runs"]:
        try:
            record = record_from_legacy(run, meta, moment, source=path)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: run {run.get('label')!r} (seed {run.get('seed')}) lacks {exc}") from None
        if store.write(record) is None:
            present += 1
        else:
            written += 1
        if moment is not None:
            moment += datetime.timedelta(seconds=record["times"]["wall_seconds"])
    return written, present
