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


# --- trajectories -------------------------------------------------------------
# Contour plots of the 2-D test functions with each optimizer's path
# (minidl.lab.trajectories), the loss against the step, and GIF animations.

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


def _contour(ax, fn, resolution: int = 300):
    """Draw ``fn``'s contours over its plot range on ``ax``."""
    np = B.np
    xs = np.linspace(fn.xlim[0], fn.xlim[1], resolution)
    ys = np.linspace(fn.ylim[0], fn.ylim[1], resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.value_xy(X, Y)
    if fn.log_contours:
        shifted = Z - (fn.min_value or 0.0)
        low = max(float(shifted.min()), 1e-3)
        levels = np.logspace(np.log10(low), np.log10(float(shifted.max())), fn.levels)
        ax.contour(X, Y, shifted, levels=levels, cmap="viridis", linewidths=0.6, alpha=0.8)
    else:
        ax.contour(X, Y, Z, levels=fn.levels, cmap="viridis", linewidths=0.6, alpha=0.8)
    if fn.minimum is not None:
        ax.plot(*fn.minimum, marker="*", color="black", markersize=12, linestyle="none", label="minimum")
    ax.set_xlim(*fn.xlim)
    ax.set_ylim(*fn.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _loss_axis(ax, fn, trajectories, colors):
    """Loss against step: f - f* on a log scale where the minimum is known, symlog otherwise."""
    np = B.np
    for tr, c in zip(trajectories, colors):
        steps = np.arange(len(tr.losses))
        if fn.min_value is not None:
            ax.plot(steps, np.maximum(tr.losses - fn.min_value, 1e-16), color=c, linewidth=1.2)
        else:
            ax.plot(steps, tr.losses, color=c, linewidth=1.2)
    if fn.min_value is not None:
        ax.set_yscale("log")
        ax.set_ylabel("f(w_t) - f*" if fn.min_value else "f(w_t)")
    else:
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_ylabel("f(w_t)")
    ax.set_xlabel("step t")
    ax.grid(True, alpha=0.3)


def plot_trajectories(fn, trajectories, path, title=None, dpi: int = 110) -> str:
    """One PNG: left, the contours with every path from the common start; right, loss vs step."""
    from minidl.lab import functions2d

    fn = functions2d.get(fn) if isinstance(fn, str) else fn
    plt = _pyplot()
    colors = _colors(len(trajectories))
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.15, 1]})
    _contour(ax, fn)
    for tr, c in zip(trajectories, colors):
        ax.plot(tr.points[:, 0], tr.points[:, 1], color=c, linewidth=1.4, marker=".", markersize=2.5,
                label=tr.legend)
        ax.plot(tr.points[-1, 0], tr.points[-1, 1], marker="o", color=c, markersize=5)
    if trajectories:
        start = trajectories[0].points[0]
        ax.plot(start[0], start[1], marker="s", color="red", markersize=7, linestyle="none",
                label=f"start ({start[0]:g}, {start[1]:g})")
    steps = max((tr.steps for tr in trajectories), default=0)
    ax.set_title(title or f"{fn.name}: {fn.formula}", fontsize=10)
    _loss_axis(ax_loss, fn, trajectories, colors)
    ax_loss.set_title(f"loss against step ({steps} steps)", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * ((len(labels) - 1) // 4), 1, 1))
    save_figure(fig, path, dpi)
    plt.close(fig)
    return path


def plot_optimizer_grid(label, trajectories_by_function: dict, path, dpi: int = 100) -> str:
    """One optimizer on several functions: a row of contour panels (the pictures of docs/tour.md)."""
    from minidl.lab import functions2d

    plt = _pyplot()
    n = len(trajectories_by_function)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), squeeze=False)
    for ax, (name, tr) in zip(axes[0], trajectories_by_function.items()):
        fn = functions2d.get(name)
        _contour(ax, fn, resolution=200)
        ax.plot(tr.points[:, 0], tr.points[:, 1], color="tab:red", linewidth=1.4, marker=".", markersize=2.5)
        ax.plot(tr.points[0, 0], tr.points[0, 1], marker="s", color="red", markersize=6)
        ax.plot(tr.points[-1, 0], tr.points[-1, 1], marker="o", color="tab:red", markersize=5)
        lr = "" if tr.lr is None else f", lr={tr.lr:g}"
        ax.set_title(f"{name}{lr}, {tr.steps} steps" + (" (diverged)" if tr.diverged_at else ""),
                     fontsize=9)
    fig.suptitle(label, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi)
    plt.close(fig)
    return path


def animate_trajectories(fn, trajectories, path, fps: int = 15, max_frames: int = 60, dpi: int = 70) -> str:
    """A GIF of the paths growing step by step (matplotlib's Pillow writer).

    At most ``max_frames`` frames: long runs are sampled evenly, always
    including the start and the last step.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    from minidl.lab import functions2d

    np = B.np
    fn = functions2d.get(fn) if isinstance(fn, str) else fn
    plt = _pyplot()
    colors = _colors(len(trajectories))
    longest = max((tr.steps for tr in trajectories), default=0)
    frames = np.unique(np.linspace(0, longest, min(max_frames, longest + 1)).round().astype(int))
    fig, ax = plt.subplots(figsize=(7, 6))
    _contour(ax, fn, resolution=150)
    lines, heads = [], []
    for tr, c in zip(trajectories, colors):
        (line,) = ax.plot([], [], color=c, linewidth=1.4, label=tr.legend)
        (head,) = ax.plot([], [], marker="o", color=c, markersize=5)
        lines.append(line)
        heads.append(head)
    if trajectories:
        s = trajectories[0].points[0]
        ax.plot(s[0], s[1], marker="s", color="red", markersize=7, linestyle="none")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.8)
    title = ax.set_title("")

    def update(k):
        for tr, line, head in zip(trajectories, lines, heads):
            pts = tr.points[: k + 1]
            line.set_data(pts[:, 0], pts[:, 1])
            head.set_data([pts[-1, 0]], [pts[-1, 1]])
        title.set_text(f"{fn.name}: step {k}")
        return [*lines, *heads, title]

    anim = FuncAnimation(fig, update, frames=list(frames), blit=False)
    _ensure_dir(path)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)
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
