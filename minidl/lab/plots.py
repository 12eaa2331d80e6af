"""Matplotlib figures for minidl (PNG files; the Agg backend, no display needed).

matplotlib is imported lazily, inside the functions, so that importing minidl
never needs it and never opens a window.
"""
from __future__ import annotations

import os

from minidl import backend as B


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ensure_dir(path):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)


# --- line styles shared by every figure -------------------------------------

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def line_styles(n: int) -> list:
    """``n`` distinct line styles: ``{"color", "linestyle", "marker"}`` dicts.

    Up to 10 lines: the tab10 colours; up to 20: then tab20's 10 light shades; beyond
    that the colours come round again with another line style and marker, so no two lines
    look alike."""
    plt = _pyplot()
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


def save_figure(fig, path, dpi: int = 110) -> str:
    """Write ``fig`` as a PNG at ``path`` atomically (a kill leaves the old file or the new)."""
    from minidl.fileio import atomic_writer

    _ensure_dir(path)
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return path


# --- comparison figures, from plain data (minidl.lab.views builds it from run records)
def _smooth(values, window):
    """Trailing moving average (the first points average what is there)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _legend(ax, n):
    if n:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def plot_epoch_metric(series, path, *, title: str, ylabel: str, dpi: int = 110) -> str:
    """One line per series: ``{"label", "epochs", "mean", "std" (or None), "diverged" (a
    legend note or None)}``, with a band of one std where there are several seeds; a run
    that diverged is drawn up to its last epoch and ends with a cross."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for item, style in zip(series, line_styles(len(series))):
        epochs, means = item["epochs"], item["mean"]
        label = item["label"] + (f" ({item['diverged']})" if item.get("diverged") else "")
        if not epochs:
            ax.plot([], [], color=style["color"], linestyle=style["linestyle"], label=label)
            continue
        ax.plot(epochs, means, color=style["color"], linestyle=style["linestyle"], marker=style["marker"],
                ms=3, label=label)
        sds = item.get("std")
        if sds and any(sds):
            ax.fill_between(epochs, [m - s for m, s in zip(means, sds)], [m + s for m, s in zip(means, sds)],
                            color=style["color"], alpha=0.15)
        if item.get("diverged"):
            ax.plot(epochs[-1:], means[-1:], marker="x", color=style["color"], ms=8, linestyle="none")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _legend(ax, len(series))
    fig.tight_layout()
    save_figure(fig, path, dpi)
    plt.close(fig)
    return path


def plot_step_losses(series, path, *, title: str, dpi: int = 110) -> str:
    """Training loss per step, smoothed: ``{"label", "losses"}`` per series (a diverged run's
    losses end where it diverged)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    positive = False
    for item, style in zip(series, line_styles(len(series))):
        losses = item["losses"]
        if not losses:
            continue
        window = max(1, len(losses) // 100)
        smooth = _smooth(losses, window)
        positive = positive or any(v > 0 for v in smooth)
        ax.plot(range(1, len(losses) + 1), smooth, lw=1, color=style["color"], linestyle=style["linestyle"],
                label=item["label"])
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (moving average)")
    if positive:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _legend(ax, len(series))
    fig.tight_layout()
    save_figure(fig, path, dpi)
    plt.close(fig)
    return path


def plot_times(bars, path, *, title: str, xlabel: str, dpi: int = 110) -> str:
    """Horizontal bars ``{"label", "seconds", "std"}``, the first row on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(bars) + 1.5))
    positions = list(range(len(bars)))
    errors = [b["std"] for b in bars]
    ax.barh(positions, [b["seconds"] for b in bars], xerr=errors if any(errors) else None,
            color="tab:blue", alpha=0.8)
    ax.set_yticks(positions)
    ax.set_yticklabels([b["label"] for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path, dpi)
    plt.close(fig)
    return path
