"""``minidl trajectories``: optimizers' paths on 2-D test functions."""
from __future__ import annotations

import os

from minidl.cli.common import pair, positive_int, unique_names


def _window(text: str):
    """``XMIN,XMAX,YMIN,YMAX`` as four numbers (checked further by minidl.lab.expression)."""
    import argparse

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected XMIN,XMAX,YMIN,YMAX, got {text!r}")
    return values


def add_trajectories_parser(subparsers):
    from minidl.lab import functions2d, trajectories

    p = subparsers.add_parser(
        "trajectories", help="draw optimizers' paths on 2-D test functions (PNG, optional GIF)",
        description="Run optimizers from the same start on 2-D test functions and draw, per function, "
                    "a contour plot with every path and the loss against the step. The learning rate of "
                    "each line is in its legend (defaults: minidl.lab.trajectories.LEARNING_RATES; "
                    "lr=... in a row spec overrides).")
    p.add_argument("--functions", nargs="+", default=None,
                   metavar="NAME", help=f"test functions (default: {' '.join(functions2d.DEFAULT_FUNCTIONS)}; also: "
                                        f"{', '.join(n for n in functions2d.FUNCTIONS if n not in functions2d.DEFAULT_FUNCTIONS)})")
    p.add_argument("--function", dest="expression", default=None, metavar="FORMULA",
                   help='a function of your own in x and y, e.g. "x**2 + 10*y**2" (+ - * / **, sin cos tanh exp '
                        'log sqrt abs, pi, e); drawn as "custom", alone unless --functions is given too')
    p.add_argument("--window", type=_window, default=(-2.0, 2.0, -2.0, 2.0), metavar="XMIN,XMAX,YMIN,YMAX",
                   help="the plot window of --function (default: -2,2,-2,2; write --window=-3,3,-1,1)")
    p.add_argument("--optimizers", nargs="+", default=None, metavar="SPEC",
                   help="row specs as in `minidl compare`: adam, sgd:momentum=0.9, "
                        "adadelta:convention=paper,lr=1.0; 'all' for every registered optimizer "
                        f"(default, the article's six: {' '.join(trajectories.DEFAULT_OPTIMIZERS)})")
    p.add_argument("--convention", default="keras", choices=["keras", "pytorch", "paper"],
                   help="convention of the specs that name none (default: %(default)s)")
    p.add_argument("--steps", type=int, default=trajectories.DEFAULT_STEPS,
                   help=f"steps per run, 1 to {trajectories.MAX_STEPS:,} (default: %(default)s)")
    p.add_argument("--start", type=pair, default=None, metavar="X,Y",
                   help="common start point for every function (default: each function's own; "
                        "write --start=-1.2,1 when x is negative)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="std of Gaussian noise added to every gradient, a stand-in for SGD's sampling noise")
    p.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    p.add_argument("--out", default="trajectories", help="output folder (default: %(default)s)")
    p.add_argument("--animate", action="store_true", help="also write an animated GIF per function")
    p.add_argument("--per-optimizer", action="store_true",
                   help="also write one figure per optimizer with its path on every function")
    p.add_argument("--fps", type=positive_int, default=15, help="GIF frames per second (default: %(default)s)")
    p.add_argument("--dpi", type=positive_int, default=110, help="PNG resolution (default: %(default)s)")
    return p


def _functions(args) -> list:
    """The names to draw: --functions (default: the five), and the --function formula,
    registered as "custom" (alone when --functions is not given)."""
    from minidl.lab import expression, functions2d

    names = list(args.functions) if args.functions else []
    if args.expression is not None:
        functions2d.register(expression.function2d(args.expression, window=args.window, start=args.start))
        return names + ["custom"]
    return names or list(functions2d.DEFAULT_FUNCTIONS)


def run_trajectories(args) -> int:
    from minidl.fileio import atomic_write
    from minidl.lab import trajectories, trajectory_plots as plots
    from minidl.lab.specs import parse_specs

    from minidl.lab.store import writable_folder

    trajectories.check_steps(args.steps, "--steps")
    specs = (parse_specs(trajectories.expand_all(args.optimizers), default_convention=args.convention)
             if args.optimizers
             else trajectories.default_specs(args.convention))
    functions = _functions(args)
    writable_folder(args.out)
    results = trajectories.run_all(functions, specs, steps=args.steps, start=args.start,
                                   noise=args.noise, seed=args.seed)
    written = []
    for name, trajs in results.items():
        written.append(plots.plot_trajectories(name, trajs, os.path.join(args.out, f"{name}.png"),
                                               dpi=args.dpi))
        if args.animate:
            written.append(plots.animate_trajectories(name, trajs, os.path.join(args.out, f"{name}.gif"),
                                                      fps=args.fps))
    if args.per_optimizer:
        for i, (spec, stem) in enumerate(zip(specs, unique_names(s.label for s in specs))):
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
