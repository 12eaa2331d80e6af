"""``minidl tune``: tune each optimizer on a validation split, then compare tuned and default."""
from __future__ import annotations

import os
import sys

from minidl.cli.common import add_executor_options, positive_int


def add_tune_parser(subparsers):
    from minidl.lab import problems, tune
    from minidl.lab.tune_views import METRICS

    p = subparsers.add_parser(
        "tune", help="tune optimizers on a validation split, then run tuned and default on the test set",
        description="DeepOBS's protocol: stage grid (every grid point, one seed, --tune-epochs, on the last "
                    "--validation training examples), stage tuned (each optimizer's best point, every seed, "
                    "--epochs, on the test set) and stage default (the optimizer as given, every seed, --epochs, "
                    "on the test set). Every run is a record in OUT/runs/ (reruns skip finished runs); the views "
                    "are table.md, results.json, sensitivity.png, time_to_target.png and profile.png.")
    p.add_argument("--problem", dest="problems", nargs="+", default=[problems.DEFAULT_PROBLEM], metavar="NAME",
                   help=f"one or more of {', '.join(problems.PROBLEMS)} (default: %(default)s)")
    p.add_argument("--optimizers", nargs="+", default=None, metavar="SPEC",
                   help="row specs as in compare (default: the article's six)")
    p.add_argument("--grid", dest="grids", action="append", default=None, metavar="KEY=LO:HI:N",
                   help=f"N log-spaced values, or KEY=v1,v2,... (repeatable: their product; default {tune.DEFAULT_GRID})")
    p.add_argument("--tune-epochs", type=positive_int, default=2, help="epochs of each grid run (default: 2)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs of the final runs (default: the problem's)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the final runs; the grid uses the first")
    p.add_argument("--metric", choices=METRICS, default=None,
                   help="what a grid point is scored on (default: the problem's target metric)")
    p.add_argument("--target", type=float, default=None,
                   help="the value of the problem's target metric that time to target counts to (default: the problem's)")
    p.add_argument("--validation", type=positive_int, default=None, metavar="N",
                   help="hold out the last N training examples for the grid (default: a sixth, at most 10,000)")
    p.add_argument("--eval-every", type=positive_int, default=None, metavar="K",
                   help="also evaluate every K steps (finer time to target)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the problem's")
    p.add_argument("--dataset", default=None, help="another data set of the problem's shape (synthetic: offline)")
    p.add_argument("--data-dir", default=None, help="folder with the four IDX files")
    p.add_argument("--train-subset", type=positive_int, default=None, help="train on the first N examples only")
    p.add_argument("--val-subset", type=positive_int, default=None, help="evaluate on the first N examples only")
    p.add_argument("--out", default=None, help=f"the run store (default: ./{tune.DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true", help="no progress, only the table")
    p.add_argument("--no-figures", action="store_true", help="only the text views")
    p.add_argument("--style", choices=["paper", "slides"], default="paper",
                   help="the figures' look: paper (the default) or slides (large type, thick lines)")
    add_executor_options(p)
    return p


def run_tune(args) -> int:
    from minidl import backend as B
    from minidl.lab import tune
    from minidl.lab.tune_views import format_tune_table

    out = args.out if args.out is not None else tune.DEFAULT_OUT
    config = tune.TuneConfig(
        problems=args.problems, optimizers=args.optimizers or list(tune.ARTICLE_ROWS), grids=args.grids or [],
        tune_epochs=args.tune_epochs, epochs=args.epochs, seeds=tuple(args.seeds), metric=args.metric,
        target=args.target, validation=args.validation, eval_every=args.eval_every, batch_size=args.batch_size,
        dataset=args.dataset, data_dir=args.data_dir, train_subset=args.train_subset, val_subset=args.val_subset,
        backend=B.name(), out=out, workers=args.workers, scheduler=args.scheduler, threads=args.threads,
        verbose=0 if args.quiet else 1, command=args.command_line, figures=not args.no_figures,
        style=args.style)
    progress = (lambda *a, **k: None) if args.quiet else print
    print(f"results go to {os.path.abspath(out)}")
    result = tune.run_tuning(config, progress=progress)
    print(format_tune_table(result.analysis))
    for label, seed, reason in result.lost:
        print(f"not recorded: {label} (seed {seed}): {reason}")
    if result.interrupted:
        print(f"interrupted: the finished runs are recorded in {os.path.abspath(out)}/runs; run the same command "
              f"again to go on (recorded runs are skipped): {args.command_line}", file=sys.stderr)
    print(f"{result.trained} runs trained, {result.skipped} already recorded; views: "
          + ", ".join(os.path.basename(v) for v in result.views))
    return result.exit_code
