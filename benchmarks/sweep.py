"""Runs per hour of a small comparison grid under each executor of ``minidl compare``.

    python benchmarks/sweep.py [--dataset synthetic] [--train-subset 8000] [--epochs 1]
                               [--optimizers adam sgd rmsprop adagrad] [--seeds 0 1]
                               [--modes workers1,workers2,dask] [--repeats 1] [--json PATH]

The grid (by default 4 optimizers x 2 seeds = 8 one-epoch runs of the article's CNN) is run
from scratch, into a fresh run store each time, by:

* ``workers1``: ``--workers 1``, the runs one after another in this process, each with
  every core's thread (two on a 2-core machine);
* ``workers2``: ``--workers 2``, two local worker processes, one thread each;
* ``dask``: ``--scheduler local --workers 2``, a Dask ``LocalCluster`` of two single-threaded
  worker processes, one thread per run (needs ``pip install 'minidl[cluster]'``).

The time is the wall-clock time of the whole comparison (``minidl.lab.compare.run_comparison``
with figures off), starting and stopping the workers included; runs per hour is the grid's
size over the median time of ``--repeats`` runs (the modes take turns).  Each mode's records are compared with the first mode's: the per-epoch
history, every step's loss and the status must be identical (times and environment aside),
and so must the table that ``minidl compare`` prints (its times aside).  The load average before and after is
printed: the numbers only mean something on an otherwise quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl.lab import compare  # noqa: E402
from minidl.lab.threads import available_cores  # noqa: E402
from minidl.lab.views import format_table  # noqa: E402

MODES = {
    "workers1": {"workers": 1, "scheduler": None, "threads": None, "what": "--workers 1 (this process)"},
    "workers2": {"workers": 2, "scheduler": None, "threads": None, "what": "--workers 2 (local processes)"},
    "dask": {"workers": 2, "scheduler": "local", "threads": None, "what": "--scheduler local --workers 2 (Dask)"},
}


def essence(record):
    history = {k: v for k, v in record["history"].items() if not k.endswith("_seconds")}
    return (record["id"], record["status"], history, record["step_loss"], record["divergence"])


def untimed_table(records) -> str:
    """The table ``minidl compare`` prints, with every run's time set to 0 (times differ by run)."""
    return format_table([dict(r, times=dict(r["times"], train_seconds=0.0, eval_seconds=0.0)) for r in records])


def run_mode(mode, args):
    settings = MODES[mode]
    rows = compare.rows_from(args.optimizers, None)
    with tempfile.TemporaryDirectory(prefix=f"minidl-sweep-{mode}-") as out:
        config = compare.CompareConfig(
            rows=rows, epochs=args.epochs, batch_size=args.batch_size, dataset=args.dataset,
            data_dir=args.data_dir, seeds=tuple(args.seeds), train_subset=args.train_subset,
            val_subset=args.val_subset, out=out, verbose=0, command="benchmarks/sweep.py",
            workers=settings["workers"], scheduler=settings["scheduler"], threads=settings["threads"],
            figures=False)
        start = time.perf_counter()
        result = compare.run_comparison(config, progress=lambda *a, **k: None)
        seconds = time.perf_counter() - start
    if result.exit_code != 0 or result.trained != result.planned:
        raise SystemExit(f"{mode}: the comparison did not finish cleanly: {result.lost or result.failed}")
    threads = sorted({r["environment"]["threads"]["minidl"] for r in result.records})
    return {"seconds": seconds, "runs": result.planned, "threads_per_run": threads,
            "executor": result.executor, "records": result.records}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-subset", type=int, default=8000)
    p.add_argument("--val-subset", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizers", nargs="+", default=["adam", "sgd", "rmsprop", "adagrad"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--modes", default="workers1,workers2,dask", help="comma-separated, from: " + ", ".join(MODES))
    p.add_argument("--repeats", type=int, default=1,
                   help="times each mode runs the grid, the modes taking turns (the median is kept)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        p.error(f"unknown mode(s) {unknown}; accepted: {', '.join(MODES)}")

    machine = C.machine_info()
    print(f"{len(args.optimizers) * len(args.seeds)} runs: {', '.join(args.optimizers)} x seeds {args.seeds}, "
          f"{args.dataset}, {args.train_subset} training / {args.val_subset} validation images, "
          f"{args.epochs} epoch(s), batch {args.batch_size}; {available_cores()} cores; "
          f"load average {machine['loadavg_at_start']}")
    times = {mode: [] for mode in modes}
    last = {}
    for _ in range(args.repeats):          # the modes take turns, so machine noise hits them alike
        for mode in modes:
            last[mode] = run_mode(mode, args)
            times[mode].append(last[mode]["seconds"])
    reference = sorted(map(essence, last[modes[0]]["records"]))
    reference_table = untimed_table(last[modes[0]]["records"])
    results = {}
    for mode in modes:
        outcome, records = last[mode], last[mode]["records"]
        results[mode] = {
            "what": MODES[mode]["what"], "executor": outcome["executor"], "runs": outcome["runs"],
            "threads_per_run": outcome["threads_per_run"], "seconds": C.summary(times[mode]),
            "runs_per_hour": outcome["runs"] * 3600 / statistics.median(times[mode]),
            "records_identical": sorted(map(essence, records)) == reference,
            "table_identical": untimed_table(records) == reference_table,
        }
    base = results[modes[0]]["runs_per_hour"]
    rows = []
    for mode, r in results.items():
        rows.append([r["what"], ",".join(map(str, r["threads_per_run"])), f"{r['seconds']['median_s']:.1f}",
                     f"{r['seconds']['min_s']:.1f}-{r['seconds']['max_s']:.1f}",
                     f"{r['runs_per_hour']:.0f}", f"{r['runs_per_hour'] / base:.2f}x",
                     "yes" if r["records_identical"] else "NO", "yes" if r["table_identical"] else "NO"])
    print()
    C.print_table(["executor", "threads/run", "median s", "min-max s", "runs/hour", f"vs {modes[0]}",
                   "same records", "same table"], rows)
    print()
    print(format_table(last[modes[0]]["records"]))
    load_after = C._loadavg()
    print(f"\nload average after: {load_after}")
    C.write_json(args.json, {"benchmark": "sweep", "machine": machine, "load_average_after": load_after,
                             "settings": {k: v for k, v in vars(args).items() if k != "json"},
                             "modes": results})
    # the goal is the printed table, equal to its last digit; bitwise-equal records also need the BLAS
    # to round a GEMM alike on one thread and on two (OpenBLAS's native kernel here does; with
    # OPENBLAS_CORETYPE=Haswell it does not), so "same records" is reported, not required
    return 0 if all(r["table_identical"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
