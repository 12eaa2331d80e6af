"""The ``minidl`` command (``python -m minidl``).

One pair of functions per subcommand: ``add_<name>_parser(subparsers)``
declares its options, ``run_<name>(args)`` does the work and returns the exit
status.  A subcommand is listed once, in :data:`SUBCOMMANDS`.

    minidl compare                                   # the article's table on MNIST
    minidl compare --dataset synthetic --epochs 2 --optimizers adam sgd:momentum=0.9 --out runs/x
    minidl compare --preset extended --workers 2 --out runs/x     # two runs at a time
    minidl compare --scheduler tcp://host:8786 --out runs/x       # on a Dask cluster
    minidl report runs/x --filter epochs=2                        # the views again, no training
    minidl trajectories --functions rosenbrock saddle --optimizers adam sgd:momentum=0.9 --animate
    minidl explain adam --steps 3 --param 1,-2 --grad 0.5,0.1
    minidl explain sgd:momentum=0.9 --function quadratic --format markdown
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys


def _pair(text):
    """``"x,y"`` -> (x, y) for argparse (a negative first number needs ``--start=-1,2``)."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like -1.2,1, got {text!r}") from None
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers like -1.2,1, got {text!r}")
    return values


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ------------------------------------------------------------------ compare

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
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or synthetic (embedded, offline)")
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
    _add_executor_options(p)
    return p


def _add_executor_options(p):
    """--workers, --scheduler, --threads: for every command that runs many trainings."""
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="runs at a time, each in its own worker process with its share of the cores "
                        "(default: 1, in this process); with --scheduler local, the LocalCluster's size")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed cluster: tcp://host:8786, or 'local' for a LocalCluster "
                        "of --workers processes (pip install 'minidl[cluster]')")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads per run (default: the cores divided among the workers)")


def _print_runs_summary(result, printer=print):
    if result.problems:
        printer(f"{len(result.problems)} file(s) in {result.out}/runs are not run records and were skipped "
                "(named above)")
    for label, seed, reason in result.lost:
        printer(f"not recorded: {label} (seed {seed}): {reason}")
    for record in result.failed:
        printer(f"failed: {record['label']} (seed {record['config']['seed']}): {record['error']}")


def run_compare(args):
    from minidl import backend as B
    from minidl.lab import compare
    from minidl.lab.views import format_table

    rows = compare.rows_from(args.optimizers, args.preset)  # bad specs fail here, before any training
    out = args.out if args.out is not None else compare.DEFAULT_OUT
    config = compare.CompareConfig(
        rows=rows, epochs=args.epochs, batch_size=args.batch_size, dataset=args.dataset,
        data_dir=args.data_dir, backend=args.compare_backend or B.name(), seeds=tuple(args.seeds),
        train_subset=args.train_subset, val_subset=args.val_subset, out=out,
        verbose=0 if args.quiet else 1, command=args.command_line, workers=args.workers,
        scheduler=args.scheduler, threads=args.threads, figures=not args.no_figures)
    progress = (lambda *a, **k: None) if args.quiet else print
    print(f"results go to {os.path.abspath(out)}")
    result = compare.run_comparison(config, progress=progress)
    print(format_table(result.records, side_by_side=args.side_by_side))
    _print_runs_summary(result)
    if result.interrupted:
        done = sum(r["status"] in ("ok", "diverged") for r in result.records)
        print(f"interrupted: {done} of {result.planned} runs are recorded in {os.path.abspath(out)}/runs; "
              f"run the same command again to train the other {result.planned - done} "
              f"(recorded runs are skipped): {args.command_line}", file=sys.stderr)
    print(f"results in {os.path.abspath(out)} (runs/, results.json, results.csv, table.md"
          + (", *.png)" if result.views and result.views[-1].endswith(".png") else ")"))
    return result.exit_code


# ------------------------------------------------------------------ report
def add_report_parser(subparsers):
    p = subparsers.add_parser(
        "report", help="rebuild the tables and figures of a run store from its records (no training)",
        description="Read every run record in OUT/runs/ and write results.json, results.csv, table.md and "
                    "the figures from them alone; nothing trains. Records that are not readable are named "
                    "and skipped.")
    p.add_argument("store", metavar="OUT", help="the folder given to `minidl compare --out`")
    p.add_argument("--filter", dest="filters", action="append", default=[], metavar="KEY=VALUE",
                   help="keep the records with this setting, e.g. epochs=10, dataset=mnist, optimizer=adam, "
                        "lr=0.001, status=ok (repeatable; several on one key: any of them)")
    p.add_argument("--side-by-side", action="store_true", help="print the article's numbers beside the measured ones")
    p.add_argument("--views-out", default=None, metavar="DIR", help="write the views here (default: OUT itself)")
    p.add_argument("--no-figures", action="store_true", help="only the text views")
    return p


def run_report(args) -> int:
    from minidl.lab.report import report
    from minidl.lab.views import format_table

    result = report(args.store, args.filters, command=args.command_line, figures=not args.no_figures,
                    views_out=args.views_out)
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(format_table(result.records, side_by_side=args.side_by_side))
    print(f"{len(result.records)} of {result.total} recorded runs shown")
    for path in result.views:
        print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------ trajectories
def add_trajectories_parser(subparsers):
    from minidl.lab import functions2d, trajectories

    p = subparsers.add_parser(
        "trajectories", help="draw optimizers' paths on 2-D test functions (PNG, optional GIF)",
        description="Run optimizers from the same start on 2-D test functions and draw, per function, "
                    "a contour plot with every path and the loss against the step. The learning rate of "
                    "each line is in its legend (defaults: minidl.lab.trajectories.LEARNING_RATES; "
                    "lr=... in a row spec overrides).")
    p.add_argument("--functions", nargs="+", default=list(functions2d.DEFAULT_FUNCTIONS),
                   metavar="NAME", help=f"test functions (default: %(default)s; also: "
                                        f"{', '.join(n for n in functions2d.FUNCTIONS if n not in functions2d.DEFAULT_FUNCTIONS)})")
    p.add_argument("--optimizers", nargs="+", default=None, metavar="SPEC",
                   help="row specs as in `minidl compare`: adam, sgd:momentum=0.9, "
                        f"adadelta:convention=paper,lr=1.0 (default: {' '.join(trajectories.DEFAULT_OPTIMIZERS)})")
    p.add_argument("--convention", default="keras", choices=["keras", "pytorch", "paper"],
                   help="convention of the specs that name none (default: %(default)s)")
    p.add_argument("--steps", type=_positive_int, default=trajectories.DEFAULT_STEPS, help="steps per run (default: %(default)s)")
    p.add_argument("--start", type=_pair, default=None, metavar="X,Y",
                   help="common start point for every function (default: each function's own; "
                        "write --start=-1.2,1 when x is negative)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="std of Gaussian noise added to every gradient, a stand-in for SGD's sampling noise")
    p.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    p.add_argument("--out", default="trajectories", help="output folder (default: %(default)s)")
    p.add_argument("--animate", action="store_true", help="also write an animated GIF per function")
    p.add_argument("--per-optimizer", action="store_true",
                   help="also write one figure per optimizer with its path on every function")
    p.add_argument("--fps", type=_positive_int, default=15, help="GIF frames per second (default: %(default)s)")
    p.add_argument("--dpi", type=_positive_int, default=110, help="PNG resolution (default: %(default)s)")
    return p


def _safe_name(label):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _unique_names(labels) -> list:
    """A file-name stem per label, distinct even where two labels map to the same characters."""
    names, used = [], set()
    for label in labels:
        stem = name = _safe_name(label) or "row"
        n = 2
        while name.lower() in used:
            name = f"{stem}-{n}"
            n += 1
        used.add(name.lower())
        names.append(name)
    return names


def run_trajectories(args) -> int:
    from minidl.fileio import atomic_write
    from minidl.lab import plots, trajectories
    from minidl.lab.specs import parse_specs

    from minidl.lab.store import writable_folder

    specs = (parse_specs(args.optimizers, default_convention=args.convention) if args.optimizers
             else trajectories.default_specs(args.convention))
    writable_folder(args.out)
    results = trajectories.run_all(args.functions, specs, steps=args.steps, start=args.start,
                                   noise=args.noise, seed=args.seed)
    written = []
    for name, trajs in results.items():
        written.append(plots.plot_trajectories(name, trajs, os.path.join(args.out, f"{name}.png"),
                                               dpi=args.dpi))
        if args.animate:
            written.append(plots.animate_trajectories(name, trajs, os.path.join(args.out, f"{name}.gif"),
                                                      fps=args.fps))
    if args.per_optimizer:
        for i, (spec, stem) in enumerate(zip(specs, _unique_names(s.label for s in specs))):
            by_function = {name: trajs[i] for name, trajs in results.items()}
            written.append(plots.plot_optimizer_grid(
                spec.label, by_function, os.path.join(args.out, f"optimizer_{stem}.png"), dpi=args.dpi))
    summary = trajectories.format_summary(results)
    atomic_write(os.path.join(args.out, "summary.txt"), summary + "\n")
    written.append(os.path.join(args.out, "summary.txt"))
    print(summary)
    print()
    for path in written:
        print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------ explain
def add_explain_parser(subparsers):
    from minidl.lab import functions2d

    p = subparsers.add_parser(
        "explain", help="print every intermediate quantity of an optimizer's first steps",
        description="Run the first steps of one optimizer on a 2-element parameter through its teaching "
                    "path (reference_step) and print every intermediate quantity, to check by hand. "
                    "The gradient is --grad (constant), or the gradient of --function at the current "
                    "point (default: sphere, f = (x^2 + y^2)/2, so g = w, from w = (1, -2)).")
    p.add_argument("optimizer", metavar="OPTIMIZER",
                   help="a name or row spec: adam, sgd:momentum=0.9, adagrad:convention=pytorch,lr=0.1")
    p.add_argument("--convention", default="keras", choices=["keras", "pytorch", "paper"],
                   help="convention when the spec names none (default: %(default)s)")
    p.add_argument("--steps", type=_positive_int, default=3, help="number of steps (default: %(default)s)")
    p.add_argument("--param", default=None, metavar="W0,W1",
                   help="starting weights (default: the function's start; --param=-1,2 when negative first)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--grad", default=None, metavar="G0,G1", help="a constant gradient, e.g. 0.5,0.1")
    source.add_argument("--function", default=None, choices=list(functions2d.FUNCTIONS),
                        help="take g_t from this test function at w_{t-1} (default: sphere)")
    p.add_argument("--format", default="text", choices=["text", "markdown"], help="table format")
    p.add_argument("--digits", type=_positive_int, default=6, help="significant digits (default: %(default)s)")
    return p


def run_explain(args) -> int:
    from minidl.lab import explain

    result = explain.explain(args.optimizer, steps=args.steps, param=args.param, grad=args.grad,
                             function=args.function, convention=args.convention)
    fmt = explain.format_markdown if args.format == "markdown" else explain.format_text
    print(fmt(result, digits=args.digits))
    return 0 if result.agrees_with_step else 1


# ------------------------------------------------------------------ the command
#: (name, add_<name>_parser, run_<name>) for every subcommand
SUBCOMMANDS = [
    ("compare", add_compare_parser, run_compare),
    ("report", add_report_parser, run_report),
    ("trajectories", add_trajectories_parser, run_trajectories),
    ("explain", add_explain_parser, run_explain),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: see, test and measure optimizers.")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                        help="array backend (default: $MINIDL_BACKEND or numpy)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add, run in SUBCOMMANDS:
        sub = add(subparsers)
        sub.set_defaults(run=run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "minidl " + " ".join(shlex.quote(a) for a in argv)
    if args.command is None:
        parser.print_help()
        return 2
    from minidl import backend
    from minidl.data import DatasetNotFoundError

    try:
        if args.backend:
            backend.set_backend(args.backend)
        return args.run(args)
    except (ValueError, backend.BackendUnavailable, DatasetNotFoundError) as exc:
        # bad specs, unknown functions, bad vectors, no CuPy/GPU, no data offline:
        # say what is accepted or missing, exit 2 like argparse
        print(f"minidl {args.command}: error: {exc}", file=sys.stderr)
        return 2
