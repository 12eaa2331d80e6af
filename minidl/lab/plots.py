"""Matplotlib figures for minidl: each one a PNG with an SVG of the same name beside it.

matplotlib is imported lazily, inside the functions, so that importing minidl never needs it
and never opens a window (the Agg backend draws without a display).

Every comparison figure comes as two functions: ``<name>_figure(data, ..., style=)`` builds
the figure and returns the matplotlib ``Figure`` (a test or a notebook inspects it), and
``plot_<name>(data, path, ..., style=)`` builds it, saves it (:func:`save_figure`), closes it
and returns the PNG's path.  ``style`` is ``"paper"`` (small type, for a page) or
``"slides"`` (16 pt type and above, thick lines, a bigger figure, for a lecture hall).
"""
from __future__ import annotations

import contextlib
import math
import os

#: rcParams, the figure-size factor and the size of the values written beside points and bars of each style
STYLES = {
    "paper": {"scale": 1.0, "note_size": 8, "rc": {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
                                   "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 7,
                                   "lines.linewidth": 1.5, "lines.markersize": 4}},
    "slides": {"scale": 1.6, "note_size": 16, "rc": {"font.size": 16, "axes.titlesize": 20, "axes.labelsize": 18,
                                    "xtick.labelsize": 16, "ytick.labelsize": 16, "legend.fontsize": 16,
                                    "lines.linewidth": 2.5, "lines.markersize": 8, "axes.linewidth": 1.5,
                                    "xtick.major.width": 1.5, "ytick.major.width": 1.5}},
}
#: the opacity of every band (std or min to max over seeds): visible on a projector too
BAND_ALPHA = 0.25
#: the x axes train_loss_steps.png can have
LOSS_X = ("epochs", "examples", "steps")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ensure_dir(path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)


def check_style(style) -> str:
    """``style`` if it names a style; ValueError otherwise."""
    if style not in STYLES:
        raise ValueError(f"style: expected one of {', '.join(STYLES)}, got {style!r}")
    return style


def style_context(style: str = "paper"):
    """A ``matplotlib.rc_context`` with the rcParams of ``style``: a figure built inside it keeps them."""
    import matplotlib

    return matplotlib.rc_context(STYLES[check_style(style)]["rc"])


def _subplots(style, width, height):
    plt = pyplot()
    scale = STYLES[style]["scale"]
    return plt.subplots(figsize=(width * scale, height * scale))


# --- line styles shared by every figure -------------------------------------

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def line_styles(n: int) -> list:
    """``n`` distinct line styles: ``{"color", "linestyle", "marker"}`` dicts.

    Up to 10 lines: the tab10 colours; up to 20: then tab20's 10 light shades; beyond
    that the colours come round again with another line style and marker, so no two lines
    look alike.  Every figure gives row ``i`` style ``i``, so a row has one look everywhere."""
    plt = pyplot()
    tab20 = plt.get_cmap("tab20")
    colors = [tab20(2 * i) for i in range(10)] + [tab20(2 * i + 1) for i in range(10)]
    if n <= 10:
        colors = colors[:10]
    styles = []
    for i in range(n):
        turn = i // len(colors)
        styles.append({"color": colors[i % len(colors)], "linestyle": _LINESTYLES[turn % len(_LINESTYLES)],
                       "marker": _MARKERS[(i + turn) % len(_MARKERS)]})
    return styles


def _colors(n):
    return [s["color"] for s in line_styles(n)]


# --- saving ------------------------------------------------------------------

def svg_path(path) -> str:
    """The SVG that :func:`save_figure` writes beside the PNG ``path``: same folder, same stem."""
    return os.path.splitext(os.fspath(path))[0] + ".svg"


def save_figure(fig, path, dpi: int = 110) -> str:
    """Write ``fig`` as a PNG at ``path`` and as an SVG beside it (:func:`svg_path`), each
    atomically (a kill leaves the old file or the new); returns ``path``.  The SVG carries no
    date and fixed element ids, so the same figure gives the same file."""
    import matplotlib

    from minidl.fileio import atomic_writer

    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"save_figure: path must name a .png file (the SVG goes beside it), got {path!r}")
    ensure_dir(path)
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    with matplotlib.rc_context({"svg.hashsalt": "minidl"}), atomic_writer(svg_path(path), "wb") as fh:
        fig.savefig(fh, format="svg", metadata={"Date": None})
    return path


def _save_and_close(fig, path, dpi) -> str:
    save_figure(fig, path, dpi)
    pyplot().close(fig)
    return path


# --- what every comparison figure shares ---------------------------------------

def _legend(ax, n_entries, handles=None):
    """The legend right of the axes, outside the data, in as many columns as its rows need."""
    if not n_entries:
        return
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    points = FontProperties(size=rcParams["legend.fontsize"]).get_size_in_points()
    fits = max(1, int(ax.figure.get_figheight() * 72 * 0.85 / (points * 1.5)))
    ax.legend(**({"handles": handles} if handles else {}), loc="center left", bbox_to_anchor=(1.01, 0.5),
              frameon=False, ncol=math.ceil(n_entries / fits))


def seed_caption(counts, what: str = "mean ± std") -> str:
    """How many seeds each row's line summarizes: ``"mean ± std of 3 seeds"``, ``"one seed per
    row"``, or ``"mean ± std over 1 to 3 seeds per row"`` when rows differ."""
    counts = sorted(set(counts))
    if not counts:
        return ""
    if counts == [1]:
        return "one seed per row"
    if len(counts) == 1:
        return f"{what} of {counts[0]} seeds"
    return f"{what} over {counts[0]} to {counts[-1]} seeds per row (each row says how many)"


def _row_label(item, mixed: bool) -> str:
    seeds = item.get("seeds") or 0
    label = item["label"] + (f" ({seeds} seed{'s' if seeds != 1 else ''})" if mixed else "")
    return label + (f" ({item['diverged']})" if item.get("diverged") else "")


def _finish(fig, ax, title, n_entries, handles=None):
    ax.set_title(title)
    _legend(ax, n_entries, handles)
    fig.tight_layout()
    return fig


# --- the epoch metrics: val_accuracy.png, val_loss.png ---------------------------

def epoch_metric_figure(series, *, title: str, ylabel: str, style: str = "paper"):
    """The Figure of one metric per epoch.  ``series``: one per row, ``{"label", "epochs",
    "mean", "std" (or None), "seeds" (how many runs the row has), "diverged" (a legend note or
    None)}``.  Each row is its mean over seeds with a band of one std; a run that diverged is
    drawn up to its last epoch and ends with a cross.  When no row has more than one epoch each
    row is a point (side by side around epoch 1) with its value written beside it."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    with style_context(style):
        fig, ax = _subplots(style, 8.5, 4.5)
        mixed = len({item.get("seeds") or 0 for item in series}) > 1
        one_epoch = all(max(item["epochs"] or [0]) <= 1 for item in series)
        for i, (item, look) in enumerate(zip(series, line_styles(len(series)))):
            label = _row_label(item, mixed)
            if not item["epochs"]:
                ax.plot([], [], color=look["color"], linestyle=look["linestyle"], marker=look["marker"], label=label)
            elif one_epoch:
                _draw_point(ax, item, look, label, 1 + 0.6 * ((i + 0.5) / len(series) - 0.5), len(series) > 4,
                            STYLES[style]["note_size"])
            else:
                _draw_curve(ax, item, look, label)
        ax.set_xlabel("epoch" + (" (rows side by side)" if one_epoch else ""))
        if one_epoch:
            ax.set_xlim(0.6, 1.4)
            ax.margins(y=0.2)                       # room for the values above the points
            ax.xaxis.set_major_locator(FixedLocator([1]))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        caption = seed_caption([item.get("seeds") or 0 for item in series if item.get("seeds")])
        return _finish(fig, ax, title + (f"\n{caption}" if caption else ""), len(series))


def _draw_curve(ax, item, look, label):
    epochs, means = item["epochs"], item["mean"]
    ax.plot(epochs, means, color=look["color"], linestyle=look["linestyle"], marker=look["marker"], label=label)
    sds = item.get("std")
    if sds and any(sds):
        ax.fill_between(epochs, [m - s for m, s in zip(means, sds)], [m + s for m, s in zip(means, sds)],
                        color=look["color"], alpha=BAND_ALPHA, linewidth=0)
    if item.get("diverged"):
        ax.plot(epochs[-1:], means[-1:], marker="x", color=look["color"], ms=10, linestyle="none")


def _draw_point(ax, item, look, label, x, upright, size):
    """One row of a one-epoch figure: its mean as a marker (± std as an error bar), its value
    beside it (``upright``: above the error bar, turned a quarter, where many rows stand side by
    side), so the text never lies on the bar."""
    from matplotlib import rcParams

    mean, sd = item["mean"][0], (item.get("std") or [0])[0] or 0
    ax.plot([x], [mean], color=look["color"], marker=look["marker"], ms=2 * rcParams["lines.markersize"],
            linestyle="none", label=label)
    if sd:
        ax.errorbar([x], [mean], yerr=[sd], color=look["color"], linestyle="none", capsize=4)
    if upright:       # many rows side by side: above the error bar's top, turned a quarter
        ax.annotate(f"{mean:.4g}", (x, mean + sd), xytext=(0, 6), textcoords="offset points", ha="center",
                    va="bottom", rotation=90, color=look["color"], fontsize=size)
    else:             # beside the marker, clear of the error bar
        ax.annotate(f"{mean:.4g}", (x, mean), xytext=(2 * rcParams["lines.markersize"], 0), textcoords="offset points",
                    ha="left", va="center", color=look["color"], fontsize=size)


def plot_epoch_metric(series, path, *, title: str, ylabel: str, dpi: int = 110, style: str = "paper") -> str:
    """:func:`epoch_metric_figure` saved as ``path`` (PNG, and its SVG); returns ``path``."""
    with style_context(style):
        return _save_and_close(epoch_metric_figure(series, title=title, ylabel=ylabel, style=style), path, dpi)


# --- the training loss per step: train_loss_steps.png ----------------------------

def smoothing_window(steps_per_epoch) -> int:
    """The moving average's window: about a tenth of an epoch, at least one step."""
    return max(1, round((steps_per_epoch or 0) / 10))


def _smooth(values, window):
    """Trailing moving average (the first points average what is there)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def step_positions(n_steps: int, *, steps_per_epoch, batch_size=None, train_size=None, x: str = "epochs") -> list:
    """Where steps 1..n_steps sit on the x axis: ``"epochs"`` (step / steps per epoch),
    ``"examples"`` (training examples seen: a full batch per step, the last of an epoch what
    is left) or ``"steps"``."""
    if x not in LOSS_X:
        raise ValueError(f"x: expected one of {', '.join(LOSS_X)}, got {x!r}")
    if x == "steps":
        return list(range(1, n_steps + 1))
    if not steps_per_epoch or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch: expected a positive number for x={x!r}, got {steps_per_epoch!r}")
    if x == "epochs":
        return [(i + 1) / steps_per_epoch for i in range(n_steps)]
    if not batch_size:
        raise ValueError("batch_size: x='examples' needs the batch size of the row")
    per_epoch = train_size or batch_size * steps_per_epoch
    return [(i // steps_per_epoch) * per_epoch + min((i % steps_per_epoch + 1) * batch_size, per_epoch)
            for i in range(n_steps)]


def step_curve(item, x: str = "epochs") -> dict:
    """One row of train_loss_steps.png from ``item`` = ``{"losses": [one list per seed],
    "steps_per_epoch", "batch_size", "train_size"}``: ``{"x", "mean", "low", "high", "window"}``,
    the seeds' losses averaged pointwise over the steps they all have, and the smallest and the
    largest seed there, each smoothed by the same moving average."""
    runs = [list(losses) for losses in item["losses"] if losses]
    if not runs:
        return {"x": [], "mean": [], "low": [], "high": [], "window": smoothing_window(item.get("steps_per_epoch"))}
    length = min(len(r) for r in runs)
    window = smoothing_window(item.get("steps_per_epoch"))
    smoothed = [_smooth(r[:length], window) for r in runs]
    xs = step_positions(length, steps_per_epoch=item.get("steps_per_epoch"), batch_size=item.get("batch_size"),
                        train_size=item.get("train_size"), x=x)
    keep = drawn_points(length)
    columns = [[s[i] for s in smoothed] for i in keep]
    return {"x": [xs[i] for i in keep], "mean": [sum(c) / len(c) for c in columns],
            "low": [min(c) for c in columns], "high": [max(c) for c in columns], "window": window}


#: at most this many points of a smoothed step-loss line are drawn (a 10-epoch run has 9,380
#: steps; every one of them made an 8 MB SVG, and the moving average leaves nothing between them)
MAX_LINE_POINTS = 1000


def drawn_points(n: int) -> list:
    """The indices of ``n`` smoothed points that are drawn: every k-th, so at most
    :data:`MAX_LINE_POINTS`, and always the last."""
    stride = max(1, math.ceil(n / MAX_LINE_POINTS))
    keep = list(range(0, n, stride))
    return keep + [n - 1] if n and keep[-1] != n - 1 else keep


def _window_text(items, windows) -> str:
    pairs = sorted({(w, item.get("steps_per_epoch")) for item, w in zip(items, windows)})
    if not pairs:
        return "training loss"
    if pairs == [(1, pairs[0][1])] or all(w == 1 for w, _ in pairs):
        return "training loss of each step (not smoothed)"
    if len(pairs) == 1:
        (window, per_epoch), = pairs
        return f"training loss, moving average\nover {window} steps ({window / per_epoch:.2g} epoch)"
    low, high = min(w for w, _ in pairs), max(w for w, _ in pairs)
    return f"training loss, moving average over\nabout 0.1 epoch ({low} to {high} steps by row)"


def _plain_log_axis(axis):
    """A log scale whose ticks read 2.2, not 2.2 x 10^0; the minor ticks are labelled only when
    the axis spans less than a decade (else the powers of ten are enough)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.axes.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    low, high = axis.axes.get_ylim()
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain if high < 10 * low else NullFormatter())


_LOSS_XLABELS = {"epochs": "epoch (step / steps per epoch)", "examples": "training examples seen",
                 "steps": "training step"}


def step_losses_figure(series, *, title: str, x: str = "epochs", style: str = "paper"):
    """The Figure of the training loss per step: one row per series, ``{"label", "losses" (one
    list per seed; a diverged run's end where it diverged), "seeds", "steps_per_epoch",
    "batch_size", "train_size", "note" (or None)}``, drawn as :func:`step_curve`'s mean with a
    band from the lowest to the highest seed; the axis label says the moving average's window."""
    if x not in LOSS_X:
        raise ValueError(f"x: expected one of {', '.join(LOSS_X)}, got {x!r}")
    with style_context(style):
        fig, ax = _subplots(style, 8.5, 4.5)
        mixed = len({item.get("seeds") or 0 for item in series}) > 1
        positive, drawn, windows = False, [], []
        for item, look in zip(series, line_styles(len(series))):
            curve = step_curve(item, x)
            if not curve["mean"]:
                continue
            drawn.append(item)
            windows.append(curve["window"])
            positive = positive or any(v > 0 for v in curve["mean"])
            label = _row_label(item, mixed) + (f" ({item['note']})" if item.get("note") else "")
            ax.plot(curve["x"], curve["mean"], color=look["color"], linestyle=look["linestyle"], label=label)
            if item.get("diverged"):
                ax.plot(curve["x"][-1:], curve["mean"][-1:], marker="x", color=look["color"], ms=10, linestyle="none")
            if curve["high"] != curve["low"]:
                ax.fill_between(curve["x"], curve["low"], curve["high"], color=look["color"], alpha=BAND_ALPHA,
                                linewidth=0)
        ax.set_xlabel(_LOSS_XLABELS[x])
        ax.set_ylabel(_window_text(drawn, windows))
        if positive:
            _plain_log_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        caption = seed_caption([item.get("seeds") or 0 for item in drawn if item.get("seeds")], what="mean")
        if caption and caption != "one seed per row":
            caption += "; band: lowest to highest seed"
        return _finish(fig, ax, title + (f"\n{caption}" if caption else ""), len(drawn))


def plot_step_losses(series, path, *, title: str, x: str = "epochs", dpi: int = 110, style: str = "paper") -> str:
    """:func:`step_losses_figure` saved as ``path`` (PNG, and its SVG); returns ``path``."""
    with style_context(style):
        return _save_and_close(step_losses_figure(series, title=title, x=x, style=style), path, dpi)


# --- time.png ---------------------------------------------------------------------

def time_unit(seconds) -> tuple:
    """``("s", 1)`` or ``("min", 60)``: minutes once the longest time passes two minutes."""
    return ("min", 60.0) if max(list(seconds) or [0]) >= 120 else ("s", 1.0)


#: bars have no line style: beyond the palette's 20 colours a hatch tells them apart
_HATCHES = {"-": None, "--": "//", ":": "..", "-.": "xx"}


def times_figure(bars, *, title: str, where: str = "", loaded: int = 0, style: str = "paper"):
    """The Figure of the time of every row: ``bars`` one per row, ``{"label", "median", "low",
    "high", "seeds"}`` (seconds; ``median`` None for a row with no finished run), horizontal bars
    of the median over seeds with whiskers from the fastest to the slowest seed (never below 0),
    the first row on top; ``loaded``: how many runs had a loaded machine (said in the title)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    timed = [b for b in bars if b.get("median") is not None]
    unit, factor = time_unit([b["high"] for b in timed])
    with style_context(style):
        fig, ax = _subplots(style, 7.5, 0.45 * max(len(bars), 1) + 2.0)
        looks = line_styles(len(bars))
        for i, (bar, look) in enumerate(zip(bars, looks)):
            if bar.get("median") is None:
                ax.text(0, i, "  no finished run", va="center", fontsize=STYLES[style]["note_size"])
                continue
            median = bar["median"] / factor
            low, high = max(0.0, bar["low"]) / factor, max(0.0, bar["high"]) / factor
            ax.barh(i, median, color=look["color"], alpha=0.85, hatch=_HATCHES[look["linestyle"]],
                    edgecolor="white")
            if high > low:
                ax.errorbar([median], [i], xerr=[[median - min(low, median)], [max(high, median) - median]],
                            color="black", capsize=4, linestyle="none")
            ax.annotate(f"{median:.{2 if median < 10 else 1}f} {unit}", (max(high, median), i), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=STYLES[style]["note_size"])
        ax.set_yticks(range(len(bars)))
        mixed = len({b.get("seeds") or 0 for b in timed}) > 1
        ax.set_yticklabels([_row_label({"label": b["label"], "seeds": b.get("seeds")}, mixed and b in timed)
                            for b in bars])
        ax.set_ylim(len(bars) - 0.5, -0.5)          # the first row on top
        ax.set_xlim(0, 1.2 * max([b["high"] / factor for b in timed] + [1e-9]))   # room for the values
        ax.set_xlabel(f"total time (training + evaluation), {unit}" + (f"\n{where}" if where else ""))
        multi = any((b.get("seeds") or 0) > 1 for b in timed)
        handles = [Patch(color="gray", alpha=0.85, label="median over seeds" if multi else "time of the run")]
        if multi:
            handles.append(Line2D([], [], color="black", marker="|", ms=10, label="fastest to slowest seed"))
        lines = [title, seed_caption([b.get("seeds") or 0 for b in timed if b.get("seeds")], what="median")]
        if loaded:
            lines.append(f"machine loaded during {loaded} run{'s' if loaded != 1 else ''}: times are indicative")
        return _finish(fig, ax, "\n".join(line for line in lines if line), len(handles), handles)


def plot_times(bars, path, *, title: str, where: str = "", loaded: int = 0, dpi: int = 110,
               style: str = "paper") -> str:
    """:func:`times_figure` saved as ``path`` (PNG, and its SVG); returns ``path``."""
    with style_context(style):
        return _save_and_close(times_figure(bars, title=title, where=where, loaded=loaded, style=style), path, dpi)
