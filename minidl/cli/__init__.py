"""The ``minidl`` command (``python -m minidl``).

One module per subcommand, ``minidl/cli/<name>.py``, with two functions: ``add_<name>_parser(subparsers)``
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

from minidl.cli import compare, explain, lrfind, problems, report, trajectories, tune
from minidl.cli.common import run_reporting_errors

#: (name, add_<name>_parser, run_<name>) for every subcommand
SUBCOMMANDS = [
    ("compare", compare.add_compare_parser, compare.run_compare),
    ("report", report.add_report_parser, report.run_report),
    ("trajectories", trajectories.add_trajectories_parser, trajectories.run_trajectories),
    ("explain", explain.add_explain_parser, explain.run_explain),
    ("problems", problems.add_problems_parser, problems.run_problems),
    ("tune", tune.add_tune_parser, tune.run_tune),
    ("lrfind", lrfind.add_lrfind_parser, lrfind.run_lrfind),
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
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run its subcommand; every failure is one
    line on stderr (:func:`minidl.cli.common.run_reporting_errors`), exit 2 for bad input."""
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")     # before numpy starts OpenBLAS's threads
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "minidl " + " ".join(shlex.quote(a) for a in argv)
    if args.command is None:
        parser.print_help()
        return 2

    def run(args):
        from minidl import backend

        if args.backend:
            backend.set_backend(args.backend)
        else:
            backend.name()             # a bad $MINIDL_BACKEND is named here, not inside the first row spec
        return args.run(args)

    return run_reporting_errors(args.command, run, args)
