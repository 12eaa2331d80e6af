"""``minidl report``: rebuild a run store's views from its records."""
from __future__ import annotations

import os
import sys

from minidl.cli.figure_options import add_figure_options, figure_options


def add_report_parser(subparsers):
    p = subparsers.add_parser(
        "report", help="rebuild the tables and figures of a run store from its records (no training)",
        description="Read every run record in OUT/runs/ and write results.json, results.csv, table.md and "
                    "the figures (each a PNG and an SVG) from them alone; nothing trains. Records that are not "
                    "readable are named and skipped.")
    p.add_argument("store", metavar="OUT", help="the folder given to `minidl compare --out`")
    p.add_argument("--filter", dest="filters", action="append", default=[], metavar="KEY=VALUE",
                   help="keep the records with this setting, e.g. epochs=10, dataset=mnist, optimizer=adam, "
                        "lr=0.001, status=ok (repeatable; several on one key: any of them)")
    p.add_argument("--side-by-side", action="store_true", help="print the article's numbers beside the measured ones")
    p.add_argument("--views-out", default=None, metavar="DIR", help="write the views here (default: OUT itself)")
    p.add_argument("--no-figures", action="store_true", help="only the text views")
    add_figure_options(p)
    return p


def run_report(args) -> int:
    from minidl.lab.plots import svg_path
    from minidl.lab.report import report
    from minidl.lab.views import format_table

    result = report(args.store, args.filters, command=args.command_line, figures=not args.no_figures,
                    views_out=args.views_out, **figure_options(args))
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    tables = [path for path in result.views if os.path.basename(path) == "table.md"]
    if any(r["config"].get("stage") for r in result.records) and tables:
        with open(tables[0], encoding="utf-8") as f:      # a tune store: its own table, as written
            print(f.read().rstrip())
    else:
        print(format_table(result.records, side_by_side=args.side_by_side))
    print(f"{len(result.records)} of {result.total} recorded runs shown")
    for path in result.views:
        print(f"wrote {path}")
        if path.endswith(".png") and os.path.exists(svg_path(path)):
            print(f"wrote {svg_path(path)}")
    return 0
