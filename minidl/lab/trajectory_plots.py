"""Figures of the 2-D trajectories (:mod:`minidl.lab.trajectories`): contour plots of a test
function with each optimizer's path, the loss against the step, and GIF animations.

matplotlib is imported lazily, as in :mod:`minidl.lab.plots`, whose line styles and atomic
``save_figure`` these figures share.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.lab.plots import ensure_dir, pyplot, line_styles, save_figure

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


def _loss_values(fn, tr):
    """What the loss panel draws for ``tr``: f - f* (floored at 1e-16) where the minimum is known, f otherwise."""
    np = B.np
    if fn.min_value is None:
        return tr.losses
    return np.maximum(tr.losses - fn.min_value, 1e-16)


def _loss_scale(fn, trajectories) -> str:
    """"linear" for a function without a minimum (the saddle: f falls below zero as the path
    escapes), else "log" where every value drawn is positive (f - f* always is), else "linear"."""
    if fn.unbounded:
        return "linear"
    positive = all(bool((_loss_values(fn, tr) > 0).all()) for tr in trajectories)
    return "log" if positive else "linear"


def _loss_axis(ax, fn, trajectories, colors):
    """Loss against step, on the scale :func:`_loss_scale` chooses; returns the lines drawn."""
    np = B.np
    lines = [ax.plot(np.arange(len(tr.losses)), _loss_values(fn, tr), color=c, linewidth=1.4)[0]
             for tr, c in zip(trajectories, colors)]
    ax.set_yscale(_loss_scale(fn, trajectories))
    ax.set_ylabel("f(w_t) - f*" if fn.min_value else "f(w_t)")
    ax.set_xlabel("step t")
    ax.grid(True, alpha=0.3)
    return lines


def plot_trajectories(fn, trajectories, path, title=None, dpi: int = 110) -> str:
    """One PNG: left, the contours with every path from the common start; right, loss vs step."""
    from minidl.lab import functions2d

    fn = functions2d.get(fn) if isinstance(fn, str) else fn
    plt = pyplot()
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

    plt = pyplot()
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


# --- the animation ----------------------------------------------------------------------------
#: pixels per inch of the animation's frames; with the panels below every frame is at least
#: (0.9 + 5.6 + 1.1 + 4.8 + 0.4) in x 80 = 1024 px wide, more with the legend beside them
ANIMATION_DPI = 80

#: the animation's fonts, in points (readable at ANIMATION_DPI: 12 pt is 13 px)
ANIMATION_FONTS = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 12,
                   "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 14}

#: the layout in inches: left margin, paths panel, gap, loss panel, gap before the legend,
#: right margin; bottom margin, panel height, top margin
_WIDTHS = (0.9, 5.6, 1.1, 4.8, 0.25, 0.15)
_HEIGHTS = (0.8, 5.2, 0.9)


def _place(fig, ax, ax_loss, legend_width: float, legend_height: float) -> None:
    """Size the figure for the panels and a legend of that size (inches) right of the loss panel."""
    left, paths, gap, loss, before, right = _WIDTHS
    bottom, panel, top = _HEIGHTS
    width = left + paths + gap + loss + before + legend_width + right
    height = max(bottom + panel + top, top + legend_height + 0.5)
    fig.set_size_inches(width, height)
    up = (height - top - panel) / height
    ax.set_position([left / width, up, paths / width, panel / height])
    ax_loss.set_position([(left + paths + gap) / width, up, loss / width, panel / height])


def _animation_figure(fn, trajectories, dpi: int = ANIMATION_DPI):
    """The animation's figure and ``update(k)``, which draws every path up to step ``k``.

    Left the paths on the contours, right the loss against the step, the legend beside them
    (outside both).  The figure is sized once for the final legend; at step ``k`` each entry
    reads ``legend_at(k)``, so "escaped"/"diverged" appear from the frame where it happens on.
    """
    from types import SimpleNamespace

    np = B.np
    plt = pyplot()
    styles = line_styles(len(trajectories))
    colors = [st["color"] for st in styles]
    fig = plt.figure(figsize=(12, 7), dpi=dpi)
    ax, ax_loss = fig.add_axes([0.1, 0.1, 0.4, 0.8]), fig.add_axes([0.6, 0.1, 0.3, 0.8])
    _contour(ax, fn, resolution=200)
    paths, heads = [], []
    for tr, st in zip(trajectories, styles):
        paths.append(ax.plot([], [], color=st["color"], linestyle=st["linestyle"], linewidth=2.0)[0])
        heads.append(ax.plot([], [], marker="o", color=st["color"], markersize=7)[0])
    extra = [h for h in ax.get_lines() if h.get_label() == "minimum"]
    if trajectories:
        s = trajectories[0].points[0]
        extra += ax.plot(s[0], s[1], marker="s", color="red", markersize=8, linestyle="none",
                         label=f"start ({s[0]:g}, {s[1]:g})")
    losses = _loss_axis(ax_loss, fn, trajectories, colors)      # drawn whole once: the axis limits
    for loss, st in zip(losses, styles):
        loss.set_linestyle(st["linestyle"])
    longest = max((tr.steps for tr in trajectories), default=0)
    ax_loss.set_xlim(0, max(longest, 1))
    fig.suptitle(f"{fn.name}: {fn.formula}")
    legend = ax_loss.legend(paths + extra, [tr.legend for tr in trajectories] + [h.get_label() for h in extra],
                            loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0, frameon=False)
    fig.canvas.draw()
    box = legend.get_window_extent()
    _place(fig, ax, ax_loss, box.width / dpi + 0.3, box.height / dpi)

    def update(k):
        for tr, path, head, loss, text in zip(trajectories, paths, heads, losses, legend.get_texts()):
            pts = tr.points[: k + 1]
            path.set_data(pts[:, 0], pts[:, 1])
            head.set_data([pts[-1, 0]], [pts[-1, 1]])
            loss.set_data(np.arange(len(pts)), _loss_values(fn, tr)[: k + 1])
            text.set_text(tr.legend_at(k))
        ax_loss.set_title(f"loss against step: step {k} of {longest}")

    update(0)
    return SimpleNamespace(fig=fig, ax=ax, ax_loss=ax_loss, legend=legend, update=update, colors=colors)


def _rgb(color) -> tuple:
    """A matplotlib colour as 0..255 integers (r, g, b)."""
    from matplotlib.colors import to_rgb

    return tuple(int(round(255 * v)) for v in to_rgb(color))


def _palette(last_frame, colors):
    """One 256-colour palette for every frame, an array (256, 3) of 0..255: the lines' colours,
    black, white and the start's red exactly, the rest adapted to the last frame (where every
    path and label is drawn)."""
    from PIL import Image

    np = B.np
    exact = list(dict.fromkeys([_rgb(c) for c in colors] + [(0, 0, 0), (255, 255, 255), (255, 0, 0)]))
    adaptive = last_frame.quantize(colors=256 - len(exact), method=Image.Quantize.MEDIANCUT,
                                   dither=Image.Dither.NONE).getpalette()[: 3 * (256 - len(exact))]
    palette = np.zeros((256, 3), dtype=np.int64)
    palette[: len(exact)] = exact
    palette[len(exact): len(exact) + len(adaptive) // 3] = np.reshape(adaptive, (-1, 3))
    return palette


def _to_palette(image, palette):
    """``image`` (RGB) as a palette image: every pixel the nearest colour of ``palette``, so a
    colour that is in the palette stays exactly itself (Pillow's own mapping is approximate)."""
    from PIL import Image

    np = B.np
    pixels = np.asarray(image, dtype=np.int64).reshape(-1, 3)
    codes, inverse = np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2], return_inverse=True)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1)
    nearest = ((colours[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    out = Image.fromarray(nearest[inverse.ravel()].astype(np.uint8).reshape(image.size[1], image.size[0]),
                          mode="P")
    out.putpalette(palette.ravel().tolist())
    return out


def _frame(fig):
    """The figure as drawn now, an RGB image."""
    from PIL import Image

    fig.canvas.draw()
    return Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(), "raw",
                            "RGBA", 0, 1).convert("RGB")


def animate_trajectories(fn, trajectories, path, fps: int = 15, max_frames: int = 60,
                         dpi: int = ANIMATION_DPI) -> str:
    """A GIF of the paths and their losses growing step by step (:func:`_animation_figure`).

    At most ``max_frames`` frames: long runs are sampled evenly, always including the start
    and the last step.  Every frame is mapped to one palette (:func:`_palette`) without
    dithering, so each line keeps its exact colour from the first frame to the last (GIF's
    per-frame palettes would otherwise shift them).  Written atomically with Pillow.
    """
    from minidl.fileio import atomic_writer
    from minidl.lab import functions2d

    np = B.np
    fn = functions2d.get(fn) if isinstance(fn, str) else fn
    plt = pyplot()
    longest = max((tr.steps for tr in trajectories), default=0)
    frames = np.unique(np.linspace(0, longest, min(max_frames, longest + 1)).round().astype(int))
    with plt.rc_context(ANIMATION_FONTS):
        figure = _animation_figure(fn, trajectories, dpi)
        images = []
        for k in frames:
            figure.update(int(k))
            images.append(_frame(figure.fig))
    plt.close(figure.fig)
    palette = _palette(images[-1], figure.colors)
    frames_p = [_to_palette(im, palette) for im in images]
    ensure_dir(path)
    with atomic_writer(path, "wb") as fh:
        frames_p[0].save(fh, format="GIF", save_all=True, append_images=frames_p[1:],
                         duration=max(1, int(1000 / fps)), loop=0)
    return path
