"""Many runs into one store: what every command that trains many configurations shares.

``run_batch(configs, store, ...)`` skips the configurations that already have a final record
(``ok`` or ``diverged``), sends the others to an executor (``--workers``, ``--scheduler``,
``--threads``), writes each record as it comes back (this process alone writes the store),
and stops cleanly on Ctrl-C.  ``minidl compare`` uses it; so can a tuning grid or any other
sweep: they only make the configurations and draw their own views.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from minidl.lab.store import FINAL, config_id


@dataclass
class Batch:
    """What ``run_batch`` did."""

    planned: int = 0
    trained: int = 0
    skipped: int = 0
    best: dict = field(default_factory=dict)       # id -> the store's best record of it (all ids)
    lost: list = field(default_factory=list)       # (config, reason): no record was written
    problems: list = field(default_factory=list)   # files of runs/ that are not records
    interrupted: bool = False
    executor: str = ""

    def records(self, configs) -> list:
        """The records of ``configs`` in their order (none for a run without one), each under the
        label its configuration gives it now."""
        out = []
        for c in configs:
            record = self.best.get(config_id(c))
            if record is not None:
                out.append(dict(record, label=c.get("label")))
        return out


def _metric_text(record) -> str:
    """", val acc 0.9812" or ", test loss 87.6": the last value of the metric the run is judged
    on (its target's metric, else accuracy), on the split it was evaluated on."""
    config = record["config"]
    metric = (config.get("target") or {}).get("metric") or "val_accuracy"
    if config.get("split") == "test":
        metric = "test_" + metric[len("val_"):]
    values = record["history"].get(metric) or [None]
    if values[-1] is None:
        return ""
    name = metric.replace("_accuracy", " acc").replace("_loss", " loss").replace("_", " ")
    return f", {name} {values[-1]:.4g}" if metric.endswith("loss") else f", {name} {values[-1]:.4f}"


def describe(record) -> str:
    """One line: the run (with its grid point when it has one), its outcome, its metric and time."""
    config = record["config"]
    point = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                      for k, v in ((config.get("tune") or {}).get("grid") or {}).items())
    head = f"{record.get('label')} ({point + ', ' if point else ''}seed {config['seed']})"
    if record["status"] == "ok":
        return f"{head}: ok{_metric_text(record)}, {record['times']['wall_seconds']:.1f} s"
    if record["status"] == "diverged":
        d = record["divergence"]
        what = f"the training loss is {d.get('loss', 'not finite')}" if d["what"] == "loss" else d["what"]
        return f"{head}: diverged at step {d['step']}: {what}"
    return f"{head}: {record['status']}" + (f": {record['error']}" if record.get("error") else "")


def _keep(store, batch, record, progress):
    """Write one returned record; returns it as the store now holds it."""
    record.setdefault("environment", {})["executor"] = batch.executor
    path = store.write(record)
    if path is None:                     # another process recorded this run first: keep its record
        kept, _ = store.read_record(os.path.join(store.runs_dir, f"{record['id']}.json"))
        record = kept or record
        progress(f"[kept] {describe(record)}: already recorded by another process")
    else:
        progress(f"[done] {describe(record)}")
    batch.best[record["id"]] = record
    return record


def run_batch(configs, store, *, workers: int = 1, scheduler=None, threads=None, progress=print,
              every=30.0, on_progress=None) -> Batch:
    """Train the ``configs`` that ``store`` (prepared) lacks a final record of; returns a Batch.

    ``on_progress(batch)`` is called at most every ``every`` seconds while runs come back
    (to rewrite views, say).  Ctrl-C ends the batch with ``interrupted=True``: every record
    written so far stays, the runs in progress are dropped (their workers stopped)."""
    from minidl.lab.executors import InProcess, RunLost, make_executor
    from minidl.lab.run import execute

    configs = list(configs)
    records, problems = store.load()
    for problem in problems:
        progress(f"warning: {problem}")
    batch = Batch(planned=len(configs), best=store.by_id(records), problems=problems)
    todo = [c for c in configs if batch.best.get(config_id(c), {}).get("status") not in FINAL]
    batch.skipped = len(configs) - len(todo)
    if batch.skipped:
        progress(f"{batch.skipped} of {len(configs)} runs already recorded in {store.runs_dir}: skipped")
    if not todo:
        return batch
    last = time.monotonic()
    try:
        with make_executor(workers, scheduler, threads) as executor:
            batch.executor = executor.describe()
            progress(f"training {len(todo)} runs on {batch.executor}")
            if not isinstance(executor, InProcess):
                todo = [dict(c, verbose=0) for c in todo]   # progress bars of parallel runs would interleave
            for index, value in executor.run(execute, todo):
                if isinstance(value, RunLost):
                    batch.lost.append((todo[index], str(value)))
                    progress(f"[lost] {todo[index].get('label')} (seed {todo[index]['seed']}): {value}")
                    continue
                record = _keep(store, batch, value, progress)
                batch.trained += 1
                if record["status"] == "interrupted":
                    raise KeyboardInterrupt
                if on_progress is not None and time.monotonic() - last > every:
                    on_progress(batch)
                    last = time.monotonic()
    except KeyboardInterrupt:
        batch.interrupted = True
    return batch
