"""``minidl explain``: every intermediate quantity of an optimizer's first steps."""
from __future__ import annotations

from minidl.cli.common import positive_int

def add_explain_parser(subparsers):
    from minidl.lab import functions2d

    p = subparsers.add_parser(
        "explain", help="print every intermediate quantity of an optimizer's first steps",
        description="Run the first steps of one optimizer on a 2-element parameter through its one rule, "
                    "the update() that step() runs, traced as it runs, and print every intermediate "
                    "quantity of its formula, to check by hand. "
                    "The gradient is --grad (constant), or the gradient of --function at the current "
                    "point (default: sphere, f = (x^2 + y^2)/2, so g = w, from w = (1, -2)).")
    p.add_argument("optimizer", metavar="OPTIMIZER",
                   help="a name or row spec: adam, sgd:momentum=0.9, adagrad:convention=pytorch,lr=0.1")
    p.add_argument("--convention", default="keras", choices=["keras", "pytorch", "paper"],
                   help="convention when the spec names none (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=3, help="number of steps (default: %(default)s)")
    p.add_argument("--param", default=None, metavar="W0,W1",
                   help="starting weights (default: the function's start; --param=-1,2 when negative first)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--grad", default=None, metavar="G0,G1", help="a constant gradient, e.g. 0.5,0.1")
    source.add_argument("--function", default=None, choices=list(functions2d.FUNCTIONS),
                        help="take g_t from this test function at w_{t-1} (default: sphere)")
    p.add_argument("--format", default="text", choices=["text", "markdown", "latex"],
                   help="table format (latex: a booktabs tabular, every formula in math mode)")
    p.add_argument("--compare-conventions", action="store_true",
                   help="the same inputs and steps under each convention the optimizer has, one column each "
                        "(text or markdown)")
    p.add_argument("--digits", type=positive_int, default=6, help="significant digits (default: %(default)s)")
    return p


def run_explain(args) -> int:
    from minidl.lab import explain

    if args.steps > explain.MAX_STEPS:
        raise ValueError(f"--steps: at most {explain.MAX_STEPS:,} (each step is a table of every quantity; for "
                         f"long runs use minidl trajectories), got {args.steps:,}")
    if args.compare_conventions:
        if args.format == "latex":
            raise ValueError("--compare-conventions: expected --format text or markdown, got latex")
        results = explain.compare_conventions(args.optimizer, steps=args.steps, param=args.param,
                                              grad=args.grad, function=args.function)
        print(explain.format_conventions(results, digits=args.digits, markdown=args.format == "markdown"))
        return 0 if all(r.agrees_with_step for r in results.values()) else 1
    result = explain.explain(args.optimizer, steps=args.steps, param=args.param, grad=args.grad,
                             function=args.function, convention=args.convention)
    fmt = {"text": explain.format_text, "markdown": explain.format_markdown, "latex": explain.format_latex}[args.format]
    print(fmt(result, digits=args.digits))
    return 0 if result.agrees_with_step else 1
