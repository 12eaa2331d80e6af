"""``minidl problems``: the problem suite, one line per problem."""
from __future__ import annotations


def add_problems_parser(subparsers):
    p = subparsers.add_parser(
        "problems", help="list the test problems that compare, tune and lrfind take with --problem",
        description="List the problem suite: each problem's model, data set, parameter count, default budget, "
                    "target and a one-line description (minidl.lab.problems).")
    p.add_argument("--format", default="markdown", choices=["markdown", "json"], help="output format")
    return p


def run_problems(args) -> int:
    import json

    from minidl.lab import problems

    rows = [problems.describe(p) for p in problems.PROBLEMS.values()]
    if args.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        print(problems.format_problems(rows))
        print(f"\ndefault: {problems.DEFAULT_PROBLEM}; every image problem also runs on the embedded offline set "
              "(--dataset synthetic); quadratic-deep generates its own data")
    return 0
