"""``minidl compare``: train a problem's model (the article's CNN by default) once per optimizer row and compare."""
from __future__ import annotations

import os
import sys

from minidl.cli.common import add_executor_options, print_runs_summary
from minidl.cli.figure_options import add_figure_options, figure_options


def _target(text: str):
    """``0.98`` (the problem's metric) or ``val_loss=0.05``; checked by minidl.lab.compare."""
    import argparse

    metric, eq, value = text.partition("=")
    try:
        number = float(value if eq else metric)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VALUE or METRIC=VALUE, got {text!r}") from None
    return {"metric": metric.strip(), "value": number} if eq else number


def add_compare_parser(subparsers):
    from minidl.lab.compare import PRESETS

    p = subparsers.add_parser(
        "compare", help="train the article's CNN once per optimizer and compare (the article's table)",
        description="Train the article's CNN once per optimizer row and print the article's table "
                    "(val accuracy / val loss at epochs 1, 5 and the last, and total time). With no "
                    "options on MNIST: the article's six rows, Keras defaults, batch 64, 10 epochs.")
    p.add_argument("--optimizers", nargs="+", metavar="SPEC",
                   help="row specs, e.g. adam sgd:momentum=0.9 adadelta:convention=paper gd sgd:batch=1")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named grid (default: article)")
    p.add_argument("--problem", default="mnist-cnn", metavar="NAME",
                   help="the model and its defaults (minidl problems lists them; default: mnist-cnn, the article's)")
    p.add_argument("--epochs", type=int, default=None, help="default: the problem's (mnist-cnn: 10)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the problem's (mnist-cnn: 64)")
    p.add_argument("--dataset", default=None,
                   help="default: the problem's (mnist-cnn: mnist); mnist, fashion-mnist, idx (any folder of the "
                        "four IDX files, given with --data-dir: KMNIST, EMNIST digits, ...) or synthetic "
                        "(embedded, offline)")
    p.add_argument("--target", type=_target, default=None, metavar="[METRIC=]VALUE",
                   help="report steps and seconds to this value of the problem's target metric, or of "
                        "val_accuracy=X / val_loss=X (e.g. --target=0.98)")
    p.add_argument("--eval-every", type=int, default=None, metavar="K",
                   help="also evaluate every K steps (time to target at step resolution; not timed)")
    p.add_argument("--data-dir", default=None, help="folder with the four IDX files (else $MINIDL_DATA_DIR, cache, download)")
    p.add_argument("--backend", dest="compare_backend", default=None, choices=["numpy", "cupy"],
                   help="array backend (default: $MINIDL_BACKEND or numpy)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="several seeds give mean and std per cell")
    p.add_argument("--train-subset", type=int, default=None, help="use only the first N training images")
    p.add_argument("--val-subset", type=int, default=None, help="use only the first N validation images")
    p.add_argument("--out", default=None,
                   help="the run store: one record per run in OUT/runs/, and the views results.json, "
                        "results.csv, table.md and figures (default: ./minidl-runs/compare)")
    p.add_argument("--side-by-side", action="store_true", help="print the article's numbers beside the measured ones")
    p.add_argument("--quiet", action="store_true", help="no progress bars, only the table")
    p.add_argument("--no-figures", action="store_true", help="only the text views (no PNG figures)")
    add_figure_options(p)
    p.add_argument("--no-perf", action="store_true",
                   help="train on the plain path, without the speed layer (minidl.perf: no fused conv blocks, "
                        "no threaded updates, no flushed subnormals); recorded in each run's config")
    add_executor_options(p)
    return p


def run_compare(args):
    from minidl import backend as B
    from minidl.lab import compare
    from minidl.lab.views import format_table

    rows = compare.rows_from(args.optimizers, args.preset)  # bad specs fail here, before any training
    out = args.out if args.out is not None else compare.DEFAULT_OUT
    config = compare.CompareConfig(
        rows=rows, epochs=args.epochs, batch_size=args.batch_size, dataset=args.dataset,
        data_dir=args.data_dir, backend=args.compare_backend or B.name(), seeds=tuple(args.seeds),
        train_subset=args.train_subset, val_subset=args.val_subset, out=out, problem=args.problem,
        target=args.target, eval_every=args.eval_every,
        verbose=0 if args.quiet else 1, command=args.command_line, workers=args.workers,
        scheduler=args.scheduler, threads=args.threads, figures=not args.no_figures,
        perf=not args.no_perf, **figure_options(args))
    progress = (lambda *a, **k: None) if args.quiet else print
    print(f"results go to {os.path.abspath(out)}")
    result = compare.run_comparison(config, progress=progress)
    print(format_table(result.records, side_by_side=args.side_by_side))
    print_runs_summary(result)
    if result.interrupted:
        done = sum(r["status"] in ("ok", "diverged") for r in result.records)
        print(f"interrupted: {done} of {result.planned} runs are recorded in {os.path.abspath(out)}/runs; "
              f"run the same command again to train the other {result.planned - done} "
              f"(recorded runs are skipped): {args.command_line}", file=sys.stderr)
    print(f"results in {os.path.abspath(out)} (runs/, results.json, results.csv, table.md"
          + (", *.png)" if result.views and result.views[-1].endswith(".png") else ")"))
    return result.exit_code
