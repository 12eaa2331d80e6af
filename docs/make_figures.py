"""Redraw every figure in docs/ from the committed results and from named commands.

    python docs/make_figures.py                  # everything (a few minutes: trajectories run)
    python docs/make_figures.py --only results   # the comparison and tuning figures alone (seconds)
    python docs/make_figures.py --only lrfind    # the learning-rate range test (trains; needs MNIST)
    python docs/make_figures.py --style slides   # the same figures for a lecture (into the same files)
    python docs/make_figures.py --dry-run        # print the commands, run nothing

Two kinds of figures, two sources:

* **results**: every folder of docs/results/ is a run store, and ``minidl report FOLDER``
  redraws its tables and figures from its records alone; nothing trains.  A folder still in
  the format before the run store (one results.json) gets its runs imported as records first
  (:mod:`minidl.lab.legacy`), once.
* **trajectories**: the 2-D paths of docs/figures/ are cheap to compute (seconds each), so
  they are recomputed by the ``minidl trajectories`` commands listed in :data:`TRAJECTORIES`,
  the same ones docs/tour.md quotes.
* **lrfind**: the learning-rate range test of docs/benchmark.md, by the ``minidl lrfind``
  command in :data:`LRFIND` (100 training steps of the CNN per optimizer, seconds; MNIST from
  ``$MINIDL_DATA_DIR``), into a folder with its lrfind.json.

Two figures are measurements of this machine's speed, not results: the cost curves of
docs/performance.md (:data:`MEASURED`).  Redrawing them means measuring again (minutes, and
only on a quiet machine), so they are listed with their commands and run only with
``--measure``.  ``tests/test_docs.py`` checks that every figure under docs/ is one this script
makes.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join("docs", "results")
FIGURE_SUFFIXES = (".png", ".svg", ".gif", ".mp4")
ARTICLE_SIX = ["sgd", "sgd:momentum=0.9", "adagrad", "rmsprop", "adadelta", "adam"]
TOUR = ARTICLE_SIX + ["rprop", "adamw", "adamax", "nadam"]
MODERN = ["radam:lr=0.003,label=radam", "adabelief:lr=0.1,label=adabelief", "adopt:lr=0.3,label=adopt",
          "adafactor:lr=1.0,label=adafactor", "lion:lr=0.01,label=lion", "lamb:lr=0.03,label=lamb",
          "lars:lr=10,label=lars", "muon:lr=0.1,label=muon", "schedulefree_adamw:lr=0.1,label=schedulefree_adamw",
          "lookahead:lr=0.1,label=lookahead", "asgd:lr=0.005,label=asgd", "ftrl:lr=1.0,label=ftrl",
          "lbfgs:lr=1,label=lbfgs"]
THREE = ["--functions", "quadratic", "rosenbrock", "saddle"]

#: (folder written, arguments of ``minidl trajectories``): the commands docs/tour.md quotes
TRAJECTORIES = [
    ("docs/figures/trajectories", ["--dpi", "80", "--optimizers"] + TOUR),
    ("docs/figures/tour", THREE + ["--per-optimizer", "--dpi", "70", "--optimizers"] + TOUR),
    ("docs/figures/tour", THREE + ["--optimizers", "sgd:label=sgd-noise4", "--noise", "4", "--per-optimizer",
                                   "--dpi", "70"]),
    ("docs/figures/tour", THREE + ["--optimizers", "sgd:label=minibatch-noise0.5", "--noise", "0.5",
                                   "--per-optimizer", "--dpi", "70"]),
    ("docs/figures/modern", THREE + ["--per-optimizer", "--dpi", "70", "--optimizers"] + MODERN),
]
#: the animation: drawn into a temporary folder, its quadratic.gif copied to this name
ANIMATION = ("docs/figures/trajectories/quadratic_4optimizers.gif",
             ["--functions", "quadratic", "--optimizers", "sgd", "sgd:momentum=0.9", "rmsprop", "adam",
              "--animate", "--dpi", "70"])
#: the learning-rate range test docs/benchmark.md quotes: (folder written, arguments of ``minidl lrfind``);
#: it trains (100 steps of the CNN per optimizer, seconds) and reads MNIST from $MINIDL_DATA_DIR
LRFIND = [
    ("docs/figures/lrfind", ["--problem", "mnist-cnn", "--optimizers", "adadelta:label=Adadelta",
                             "adagrad:label=Adagrad", "adam:label=Adam", "rmsprop:label=RMSprop",
                             "sgd:momentum=0.9,label=SGD with momentum", "sgd:label=SGD"]),
]
#: figures that are measurements: (file, command run from the repository's root)
MEASURED = [
    ("docs/figures/perf_cost_curves_threads2.png",
     "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cost_curves.py --threads 2 "
     "--figure docs/figures/perf_cost_curves_threads2.png"),
    ("docs/figures/perf_cost_curves_threads1.png",
     "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 MINIDL_NUM_THREADS=1 "
     "python benchmarks/cost_curves.py --threads 1 --figure docs/figures/perf_cost_curves_threads1.png"),
]


def result_stores(root: str = ROOT) -> list:
    """The folders of docs/results/, relative to ``root``, sorted."""
    return sorted(os.path.relpath(d, root) for d in glob.glob(os.path.join(root, RESULTS, "*")) if os.path.isdir(d))


def written_folders() -> set:
    """Every folder this script writes figures into (relative to the repository's root)."""
    return ({os.path.normpath(d) for d in result_stores()} | {os.path.normpath(f) for f, _ in TRAJECTORIES}
            | {os.path.normpath(os.path.dirname(ANIMATION[0]))} | {os.path.normpath(f) for f, _ in LRFIND})


def _minidl(args, dry_run: bool) -> None:
    command = [sys.executable, "-m", "minidl"] + list(args)
    print("$ minidl " + " ".join(args), flush=True)
    if not dry_run:
        subprocess.run(command, cwd=ROOT, check=True, env=dict(os.environ, MPLBACKEND="Agg"),
                       stdout=subprocess.DEVNULL)


def _report_options(folder: str) -> list:
    """--side-by-side where the run that made the folder asked for it (its first record says)."""
    for path in sorted(glob.glob(os.path.join(ROOT, folder, "runs", "*.json")))[:1]:
        with open(path, encoding="utf-8") as fh:
            command = (json.load(fh)["config"].get("imported") or {}).get("command", "")
        return ["--side-by-side"] if "--side-by-side" in command else []
    return []


def redraw_results(style: str, dry_run: bool) -> None:
    from minidl.lab import legacy

    for folder in result_stores():
        results = os.path.join(ROOT, folder, "results.json")
        if not os.path.isdir(os.path.join(ROOT, folder, "runs")) and os.path.isfile(results):
            print(f"# {folder}: importing the runs of its results.json as records", flush=True)
            if not dry_run:
                legacy.import_results(os.path.join(ROOT, folder))
        _minidl(["report", folder, "--style", style] + _report_options(folder), dry_run)


def redraw_trajectories(dry_run: bool) -> None:
    for folder, args in TRAJECTORIES:
        _minidl(["trajectories", "--out", folder] + args, dry_run)
    target, args = ANIMATION
    with tempfile.TemporaryDirectory() as scratch:
        _minidl(["trajectories", "--out", scratch] + args, dry_run)
        if not dry_run:
            shutil.copyfile(os.path.join(scratch, "quadratic.gif"), os.path.join(ROOT, target))
    print(f"# copied quadratic.gif to {target}", flush=True)


def redraw_lrfind(dry_run: bool) -> None:
    for folder, args in LRFIND:
        _minidl(["lrfind", "--out", folder] + args, dry_run)


def measure(dry_run: bool) -> None:
    for path, command in MEASURED:
        print(f"$ {command}", flush=True)
        if not dry_run:
            subprocess.run(command, shell=True, cwd=ROOT, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["results", "trajectories", "lrfind"], default=None)
    parser.add_argument("--style", choices=["paper", "slides"], default="paper")
    parser.add_argument("--measure", action="store_true", help="also measure and redraw the cost curves")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    if args.only in (None, "results"):
        redraw_results(args.style, args.dry_run)
    if args.only in (None, "trajectories"):
        redraw_trajectories(args.dry_run)
    if args.only in (None, "lrfind"):
        redraw_lrfind(args.dry_run)
    if args.measure:
        measure(args.dry_run)
    else:
        for path, command in MEASURED:
            print(f"# {path} is a measurement, left as it is (--measure redraws it: {command})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
