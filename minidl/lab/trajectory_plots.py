"""Figures of the 2-D trajectories (:mod:`minidl.lab.trajectories`): contour plots of a test
function with each optimizer's path, the loss against the step, and GIF animations.

matplotlib is imported lazily, as in :mod:`minidl.lab.plots`, whose line styles and atomic
``save_figure`` these figures share.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.lab.plots import _ensure_dir, _pyplot, line_styles, save_figure

#: the contour lines: one light grey, so that the coloured paths stand out
CONTOUR_STYLE = {"colors": "0.45", "linewidths": 0.7, "alpha": 0.5}


def _colors(n):
    return [style["color"] for style in line_styles(n)]


def _contour(ax, fn, resolution: int = 300):
    """Draw ``fn``'s contours over its plot window on ``ax``, in grey (levels spaced
    logarithmically above the minimum for steep valleys, linearly otherwise, as for the saddle)."""
    np = B.np
    xs = np.linspace(fn.xlim[0], fn.xlim[1], resolution)
    ys = np.linspace(fn.ylim[0], fn.ylim[1], resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.value_xy(X, Y)
    if fn.log_contours:
        shifted = Z - (fn.min_value or 0.0)
        low = max(float(shifted.min()), 1e-3)
        levels = np.logspace(np.log10(low), np.log10(float(shifted.max())), fn.levels)
        ax.contour(X, Y, shifted, levels=levels, **CONTOUR_STYLE)
    else:
        ax.contour(X, Y, Z, levels=fn.levels, **CONTOUR_STYLE)
    if fn.minimum is not None:
        ax.plot(*fn.minimum, marker="*", color="black", markersize=12, linestyle="none", label="minimum")
    ax.set_xlim(*fn.xlim)
    ax.set_ylim(*fn.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _loss_axis(ax, fn, trajectories, colors):
    """Loss against step: f - f* on a log scale where the minimum is known, f on a linear
    scale otherwise (the saddle's loss falls below zero as the path escapes)."""
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
        outcome = tr.outcome()
        ax.set_title(f"{name}{lr}, {tr.steps} steps" + (f", {outcome}" if outcome else ""),
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
