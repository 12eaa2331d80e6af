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

def _colors(n):
    plt = _pyplot()
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


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
    _ensure_dir(path)
    fig.savefig(path, dpi=dpi)
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
    _ensure_dir(path)
    fig.savefig(path, dpi=dpi)
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


# --- compare: figures of an optimizer comparison (minidl compare)
def _smooth(values, window):
    """Trailing moving average (the first points average what is there)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def compare_figures(results: dict, out: str) -> list:
    """Write the comparison's PNGs into ``out``; returns their paths.

    val_accuracy.png / val_loss.png: validation accuracy and loss per epoch per optimizer
    (mean over seeds); train_loss_steps.png: training loss per step, smoothed (seed of the
    first run); time.png: total time per optimizer.
    """
    import os

    from minidl.lab.compare import summarize

    plt = _pyplot()
    rows = summarize(results)
    paths = []
    for metric, title, fname in (("val_acc", "Validation accuracy", "val_accuracy.png"),
                                 ("val_loss", "Validation loss", "val_loss.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in rows:
            means = [m for m, _ in r["stats"][metric]]
            sds = [s for _, s in r["stats"][metric]]
            epochs = list(range(1, len(means) + 1))
            line, = ax.plot(epochs, means, marker="o", ms=3, label=r["label"])
            if any(sds):
                ax.fill_between(epochs, [m - s for m, s in zip(means, sds)],
                                [m + s for m, s in zip(means, sds)], color=line.get_color(), alpha=0.15)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title.lower())
        ax.set_title(f"{title} per epoch ({results.get('dataset')})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out, fname)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in results["labels"]:
        runs = [r for r in results["runs"] if r["label"] == label]
        if not runs:
            continue
        steps = runs[0]["history"]["step_loss"]
        if not steps:
            continue
        window = max(1, len(steps) // 100)
        ax.plot(range(1, len(steps) + 1), _smooth(steps, window), lw=1, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (moving average)")
    ax.set_yscale("log")
    ax.set_title("Training loss per step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out, "train_loss_steps.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5))
    labels = [r["label"] for r in rows]
    times = [r["time"][0] for r in rows]
    errs = [r["time"][1] for r in rows]
    ax.barh(labels, times, xerr=errs if any(errs) else None, color="tab:blue", alpha=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"total time, seconds ({results.get('environment', {}).get('backend')}, "
                  f"{results.get('environment', {}).get('device')})")
    ax.set_title("Time per optimizer (training + evaluation)")
    fig.tight_layout()
    path = os.path.join(out, "time.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
