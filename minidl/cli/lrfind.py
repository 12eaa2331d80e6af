"""``minidl lrfind``: the learning-rate range test of each optimizer on a problem."""
from __future__ import annotations

import os

from minidl.cli.common import positive_int


def add_lrfind_parser(subparsers):
    from minidl.lab import lrfind, problems

    p = subparsers.add_parser(
        "lrfind", help="the learning-rate range test (Smith 2017, fastai's lr_find) of each optimizer on a problem",
        description="Train from the problem's initial weights while the lr grows exponentially from --start-lr to "
                    "--end-lr, stop when the smoothed loss passes 4x its lowest, and print two suggestions, each "
                    "named by its method: steepest (the fastest fall of the smoothed loss against log lr, before "
                    "its lowest point) and valley (fastai's). Writes one figure of every optimizer's curve and "
                    "the curves as JSON. Nothing is saved of the weights: each optimizer starts from the same "
                    "initial model.")
    p.add_argument("--problem", default=problems.DEFAULT_PROBLEM, choices=list(problems.PROBLEMS))
    p.add_argument("--optimizers", nargs="+", default=["adam", "sgd"], metavar="SPEC",
                   help="row specs as in compare (their lr is replaced by the sweep; default: adam sgd)")
    p.add_argument("--dataset", default=None, help="another data set of the problem's shape (synthetic: offline)")
    p.add_argument("--data-dir", default=None, help="folder with the four IDX files")
    p.add_argument("--train-subset", type=positive_int, default=None, help="sweep over the first N examples only")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the problem's")
    p.add_argument("--start-lr", type=float, default=lrfind.START_LR, help="default: %(default)g")
    p.add_argument("--end-lr", type=float, default=lrfind.END_LR, help="default: %(default)g")
    p.add_argument("--num-steps", type=positive_int, default=lrfind.NUM_STEPS,
                   help=f"default: %(default)s; from 5 to {lrfind.MAX_STEPS:,}")
    p.add_argument("--seed", type=int, default=0, help="the model's and the shuffling's seed")
    p.add_argument("--out", default="lrfind",
                   help="folder of the figure lrfind.png (and .svg) and of lrfind.json, every step's lr and loss "
                        "and the suggestions (default: %(default)s)")
    return p


def run_lrfind(args) -> int:
    from minidl.lab import lrfind, problems
    from minidl.lab.specs import parse_specs
    from minidl.lab.store import writable_folder

    problem = problems.get_problem(args.problem)
    if not 5 <= args.num_steps <= lrfind.MAX_STEPS:
        raise ValueError(f"--num-steps: expected an integer from 5 to {lrfind.MAX_STEPS:,} (each step trains "
                         f"once), got {args.num_steps:,}")
    if not (0 < args.start_lr < args.end_lr and args.end_lr < float("inf")):
        raise ValueError(f"--start-lr, --end-lr: expected 0 < start < end, finite, got {args.start_lr:g} and "
                         f"{args.end_lr:g}")
    specs = parse_specs(args.optimizers)
    folder = writable_folder(args.out)
    train = problems.load_split(args.dataset or problem.dataset, "train", data_dir=args.data_dir)
    problems.check_dataset(problem, train)
    if args.train_subset:
        train = train.subset(args.train_subset, "--train-subset")
    batch = args.batch_size or problem.batch_size
    results = {}
    for spec in specs:
        model = problem.build(args.seed, train)
        optimizer = spec.create(model.parameters())
        result = lrfind.lr_find(model, optimizer, train, start_lr=args.start_lr, end_lr=args.end_lr,
                                num_steps=args.num_steps, batch_size=batch, loss=problem.loss, seed=args.seed)
        results[spec.label] = result
        found = ", ".join(f"{method} {lr:.3g}" if lr is not None else f"{method} none (the loss never fell)"
                          for method, lr in result.suggestions.items())
        print(f"{spec.label}: suggested lr: {found} "
              f"({len(result.lrs)} steps; stopped: {result.stopped})")
    title = f"Learning-rate range test on {problem.name} ({train.name}, batch {batch})"
    for suffix in ("png", "svg"):
        lrfind.plot(results, os.path.join(folder, f"lrfind.{suffix}"), title=title)
    path = os.path.join(folder, "lrfind.json")
    lrfind.save(results, path, command=args.command_line, problem=problem.name, dataset=train.name,
                batch_size=batch, seed=args.seed)
    print(f"wrote {os.path.join(folder, 'lrfind.png')} (and .svg) and {path}")
    return 0
