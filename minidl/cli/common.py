"""What the subcommands share: argparse types, the executor options, the runs summary, file names."""
from __future__ import annotations

import argparse


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
