"""The options of the comparison figures, for every command that draws them (report, compare, tune).

    add_figure_options(parser)            # --style {paper,slides}, --loss-x {epochs,examples,steps}
    write_views(records, out, command, **figure_options(args))
"""
from __future__ import annotations

from minidl.lab.plots import LOSS_X, STYLES


def add_figure_options(parser):
    """Add ``--style`` and ``--loss-x`` to ``parser`` (an argparse parser or argument group)."""
    parser.add_argument("--style", choices=list(STYLES), default="paper",
                        help="the figures' look: paper (small type, for a page; the default) or slides "
                             "(16 pt type and above, thick lines, bigger figures, for a lecture)")
    parser.add_argument("--loss-x", choices=list(LOSS_X), default="epochs",
                        help="the x axis of train_loss_steps.png: epochs (fractional, the default; rows with "
                             "other batch sizes line up), examples (training examples seen) or steps")
    return parser


def figure_options(args) -> dict:
    """``{"style", "loss_x"}`` from parsed arguments (the defaults where a parser lacks the options):
    the keywords of :func:`minidl.lab.views.write_views` and :func:`minidl.lab.views.write_figures`."""
    return {"style": getattr(args, "style", None) or "paper", "loss_x": getattr(args, "loss_x", None) or "epochs"}


def figure_style(args) -> str:
    """The ``--style`` of parsed arguments (``"paper"`` where the parser lacks the option)."""
    return figure_options(args)["style"]
