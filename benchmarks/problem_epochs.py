"""Epoch time of every problem of the suite (``minidl problems``), as ``minidl tune`` trains it.

    python benchmarks/problem_epochs.py [--problems NAME ...] [--threads 1 2] [--steps 200]
                                        [--optimizer adam] [--data-dir DIR] [--json PATH]
                                        [--block-sizes 65536 0] [--repeats 1]

For each problem and thread count, one run of ``minidl.lab.run.execute`` (the function every
executor of ``compare`` and ``tune`` calls) trains ``--steps`` steps at the problem's batch size
with the speed layer on (one epoch on a training subset of steps x batch images), and the
training seconds of the record (evaluation and the untimed warm-up step excluded) give the
time per step.  The epoch time is that times the steps of one epoch on the problem's full
training set (60,000 images for the MNIST-shaped sets, 1,000 points for the quadratic).

Data: the problem's own data set where it is on this machine (MNIST from --data-dir,
$MINIDL_DATA_DIR or the cache; the quadratic is generated); otherwise the embedded offline
digits (``synthetic``, 10,000 images of the same shape), said in the output.  The time of a
step does not depend on the pixel values.

``--block-sizes`` times the speed layer's optimizer rule with each block size in turn
(``minidl.perf.updates.BLOCK_SIZE``; 0: no blocks, each thread's part whole, as the rule ran
before blocks), alternating within every repeat, problem and thread count, so that A and B
see the same machine.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (puts the checkout first on sys.path)

from minidl.lab import compare  # noqa: E402
from minidl.lab import problems as P  # noqa: E402
from minidl.lab.run import execute  # noqa: E402
from minidl.lab.threads import limit_threads  # noqa: E402
from minidl.perf import updates  # noqa: E402

FULL_SIZE = {"quadratic": P.QUADRATIC_SIZE}


def _dataset(problem, data_dir):
    """The problem's data set if it loads here, else the embedded digits of the same shape."""
    try:
        P.load_split(problem.dataset, "train", data_dir=data_dir)
        return problem.dataset
    except (OSError, ValueError):
        return "synthetic"


def measure(name: str, threads: int, steps: int, optimizer: str, data_dir) -> dict:
    problem = P.get_problem(name)
    dataset = _dataset(problem, data_dir)
    available = len(P.load_split(dataset, "train", data_dir=data_dir))
    subset = min(available, steps * problem.batch_size)
    config = compare.CompareConfig(rows=compare.rows_from([optimizer]), problem=name, dataset=dataset,
                                   data_dir=data_dir, epochs=1, train_subset=subset, val_subset=min(256, available),
                                   verbose=0, out="unused")
    (run,) = compare.plan(config)
    limit_threads(threads)
    record = execute(run)
    if record["status"] != "ok":
        raise SystemExit(f"{name}: the run {record['status']}: {record.get('error') or record.get('divergence')}")
    done = record["history"]["steps_per_epoch"][0]
    per_step = record["history"]["train_seconds"][0] / done
    full = FULL_SIZE.get(dataset, 60_000)
    epoch_steps = math.ceil(full / problem.batch_size)
    return {"problem": name, "dataset": dataset, "threads": threads, "batch_size": problem.batch_size,
            "parameters": P.describe(problem)["parameters"], "timed_steps": done,
            "ms_per_step": 1000 * per_step, "epoch_steps": epoch_steps, "epoch_seconds": per_step * epoch_steps}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="+", default=list(P.PROBLEMS), choices=list(P.PROBLEMS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per run (default 200)")
    parser.add_argument("--optimizer", default="adam", help="a row spec (default: adam, Keras defaults)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[updates.BLOCK_SIZE],
                        help="the rule's block sizes to alternate (0: no blocks; default: the current one)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    results = []
    for _ in range(args.repeats):
        for name in args.problems:
            for t in args.threads:
                for block in args.block_sizes:
                    updates.BLOCK_SIZE = block or (1 << 62)
                    results.append({**measure(name, t, args.steps, args.optimizer, args.data_dir),
                                    "block_size": block})
    _common.print_table(["problem", "data", "parameters", "batch", "threads", "block", "ms/step", "steps/epoch",
                         "epoch s"],
                        [[r["problem"], r["dataset"], f"{r['parameters']:,}", r["batch_size"], r["threads"],
                          r["block_size"] or "none", f"{r['ms_per_step']:.3f}", r["epoch_steps"],
                          f"{r['epoch_seconds']:.3g}"] for r in results])
    if args.json:
        _common.write_json(args.json, {"benchmark": "problem_epochs", "machine": _common.machine_info(),
                                       "optimizer": args.optimizer,
                                       "results": results})


if __name__ == "__main__":
    main()
