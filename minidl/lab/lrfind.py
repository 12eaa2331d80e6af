"""The learning-rate range test: Smith 2017 ("Cyclical Learning Rates for Training Neural
Networks", arXiv:1506.01186, section 3.3) as fastai's ``lr_find`` runs it.

Train from the model's current weights for ``num_steps`` steps while the learning rate grows
exponentially from ``start_lr`` to ``end_lr``,

    lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)),      i = 0 .. num_steps - 1

record each step's loss, smooth it with a bias-corrected moving average (fastai's beta 0.98),

    avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,      smoothed_i = avg_i / (1 - beta^(i+1))

and stop once the smoothed loss exceeds ``diverge_factor`` (4) times its lowest value, or is
not finite.  Two suggestions, each named by its method, as fastai names them:

* **steepest**: the lr where the smoothed loss falls fastest against log lr (the most negative
  slope ``(smoothed_{i+1} - smoothed_i) / (log lr_{i+1} - log lr_i)``), looked for up to the
  lowest smoothed loss.  fastai looks along the whole curve; but a classifier's loss that jumps
  up often settles near ln(classes) instead of passing 4x its lowest, so the sweep runs on, and
  the fall after a jump (a recovery, at an lr that is far too high) can be the steepest.  The
  first ``skip_start`` (10) points are left out as torch-lr-finder leaves them out: at the
  smallest rates the loss hardly moves, and its first noisy wobble can be steep against log lr;
* **valley**: fastai's ``valley``: the longest stretch of steps over which the smoothed loss keeps
  falling (a longest decreasing subsequence), and the lr at ``start + floor(L/3) + floor(L/6)``
  of that stretch of length L: about half way down the descent, before its bottom, where
  training is fast but safe.

The model's weights, the optimizer's state and hyperparameters and the dropout generators are
restored when the test ends, so ``lr_find`` changes nothing.
"""
from __future__ import annotations

import bisect
import copy
import math
from dataclasses import dataclass, field

from minidl import backend as B
from minidl import ops
from minidl.data import DataLoader
from minidl.train.checks import as_dataset
from minidl.train.step import train_step

#: lr_find's defaults (fastai's)
START_LR, END_LR, NUM_STEPS, BETA, DIVERGE_FACTOR = 1e-7, 10.0, 100, 0.98, 4.0
#: the first points the steepest slope is not looked for in (torch-lr-finder's skip_start)
SKIP_START = 10
#: the most steps a sweep may take (each is a training step, and every loss is kept)
MAX_STEPS = 100_000


@dataclass
class LRFindResult:
    lrs: list = field(default_factory=list)        # the lr of each step taken
    losses: list = field(default_factory=list)     # each step's loss
    smoothed: list = field(default_factory=list)   # the bias-corrected moving average
    stopped: str = ""                              # why the sweep ended
    suggestions: dict = field(default_factory=dict)   # {"steepest": lr, "valley": lr}


def schedule(start_lr: float, end_lr: float, num_steps: int) -> list:
    """The sweep's learning rates, exponentially spaced from ``start_lr`` to ``end_lr``."""
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise ValueError(f"lr_find: expected 0 < start_lr < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not 5 <= num_steps <= MAX_STEPS:
        raise ValueError(f"lr_find: num_steps must be an integer from 5 to {MAX_STEPS:,}, got {num_steps!r}")
    return [start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)) for i in range(num_steps)]


def smooth(losses, beta: float = BETA) -> list:
    """The bias-corrected exponential moving average of ``losses`` (see the module docstring)."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def steepest(lrs, smoothed, skip_start: int = SKIP_START):
    """The lr at the most negative slope of the smoothed loss against log lr, after the first
    ``skip_start`` points (all of them when the lowest point is among those) and up to its
    lowest point (None: the loss never fell)."""
    lowest = min(range(len(smoothed)), key=smoothed.__getitem__, default=0)
    if lowest == 0:
        return None
    first = skip_start if lowest > skip_start else 0
    slopes = {i: (smoothed[i + 1] - smoothed[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
              for i in range(first, lowest)}
    return lrs[min(slopes, key=slopes.__getitem__)]


def valley(lrs, smoothed):
    """fastai's valley: inside the longest stretch over which the smoothed loss decreases."""
    n = len(smoothed)
    if n < 2:
        return None
    # run[i]: the longest strictly decreasing subsequence ending at point i, found by patience
    # sorting: tails[k] is the least -smoothed value that ends an increasing run of -smoothed of
    # length k + 1 (O(n log n); fastai compares every pair)
    tails, best_end, best_run = [], 0, 0
    for i, value in enumerate(smoothed):
        k = bisect.bisect_left(tails, -value)
        if k == len(tails):
            tails.append(-value)
        else:
            tails[k] = -value
        if k + 1 > best_run:
            best_end, best_run = i, k + 1
    start = best_end - best_run
    third = (best_end - start) / 3
    return lrs[max(0, start + int(third) + int(third / 2))]


def lr_find(model, optimizer, data, *, start_lr=START_LR, end_lr=END_LR, num_steps=NUM_STEPS,
            batch_size=64, loss=ops.softmax_cross_entropy, seed=0, beta=BETA,
            diverge_factor=DIVERGE_FACTOR) -> LRFindResult:
    """Run the range test (module docstring) on ``data`` (an ArrayDataset or ``(images, labels)``)
    and return the losses and the two suggestions; ``model`` and ``optimizer`` end as they began."""
    lrs = schedule(start_lr, end_lr, num_steps)
    dataset = as_dataset(data, "data", "lr_find")
    loader = DataLoader(dataset, batch_size, shuffle=True, seed=seed)
    saved = _save(model, optimizer)
    result = LRFindResult()
    avg, lowest = 0.0, math.inf
    try:
        model.train()
        batches = _cycle(loader)
        for lr in lrs:
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                value = train_step(model, optimizer, dataset, next(batches), loss, max_chunk=1 << 30).loss
            except FloatingPointError:
                result.stopped = f"the loss or a gradient went non-finite at lr {lr:.3g}"
                break
            result.lrs.append(lr)
            result.losses.append(value)
            avg = beta * avg + (1 - beta) * value              # smooth(), one step at a time
            result.smoothed.append(avg / (1 - beta ** len(result.losses)))
            lowest = min(lowest, result.smoothed[-1])
            if not math.isfinite(result.smoothed[-1]) or result.smoothed[-1] > diverge_factor * lowest:
                result.stopped = (f"the smoothed loss {result.smoothed[-1]:.4g} passed {diverge_factor:g} x its "
                                  f"lowest {lowest:.4g} at lr {lr:.3g}")
                break
        else:
            result.stopped = f"reached end_lr {end_lr:g}"
    finally:
        _restore(model, optimizer, saved)
    result.suggestions = {"steepest": steepest(result.lrs, result.smoothed),
                          "valley": valley(result.lrs, result.smoothed)}
    return result


def _cycle(loader):
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader.index_batches()
        epoch += 1


def _save(model, optimizer):
    generators = [(m, m.get_rng_state()) for m in model.modules() if hasattr(m, "get_rng_state")]
    return (model.state_dict(), copy.deepcopy(optimizer.state_dict()),
            [copy.deepcopy({k: v for k, v in g.items() if k != "params"}) for g in optimizer.param_groups],
            generators, model.training)


def _restore(model, optimizer, saved):
    weights, opt_state, groups, generators, training = saved
    model.load_state_dict(weights)
    optimizer.state = {}
    if opt_state["state"]:
        optimizer.load_state_dict(opt_state)
    for group, hyper in zip(optimizer.param_groups, groups):
        group.update(hyper)
    for module, state in generators:
        module.set_rng_state(state)
    model.train(training)


def save(results: dict, path, **about) -> None:
    """Write ``{label: LRFindResult}`` as JSON to ``path`` (atomically): every step's lr, loss and
    smoothed loss, why the sweep stopped and the suggestions, after the ``about`` entries (the
    command, the problem...)."""
    import json
    from dataclasses import asdict

    from minidl.fileio import atomic_write

    def finite(values):          # JSON has no NaN or Inf: such a value is written as null
        return [v if math.isfinite(v) else None for v in values]

    curves = {label: {**asdict(r), "losses": finite(r.losses), "smoothed": finite(r.smoothed)}
              for label, r in results.items()}
    document = {"format": "minidl-lrfind/1", **about, "beta": BETA, "skip_start": SKIP_START,
                "optimizers": curves}
    atomic_write(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


def y_limit(results: dict):
    """The top of the loss axis: 1.25 x the highest smoothed loss any curve has up to its lowest
    point, or None when no curve rises past that (a curve that runs away after its lowest point
    would flatten every other one: a quadratic's loss passes 1e4)."""
    highs, everything = [], []
    for r in results.values():
        if r.smoothed:
            lowest = min(range(len(r.smoothed)), key=r.smoothed.__getitem__)
            highs.append(max(r.smoothed[: lowest + 1]))
            everything.append(max(r.smoothed))
    if not highs:
        return None
    top = 1.25 * max(highs) if max(highs) > 0 else None
    return top if top is not None and max(everything) > top else None


def plot(results: dict, path, title="Learning-rate range test") -> None:
    """One figure: the smoothed loss against lr (log axis) for each ``{label: LRFindResult}``,
    each suggestion marked and named in the legend."""
    import matplotlib
    import matplotlib.pyplot as plt

    from minidl.fileio import atomic_writer

    matplotlib.use("Agg", force=False)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    colors = plt.get_cmap("tab10")
    for i, (label, r) in enumerate(results.items()):
        color = colors(i % 10)
        ax.plot(r.lrs, r.smoothed, color=color, lw=2, label=f"{label} (smoothed, beta {BETA})")
        for method, marker in (("steepest", "o"), ("valley", "v")):
            lr = r.suggestions.get(method)
            if lr is not None:
                y = r.smoothed[r.lrs.index(lr)]
                ax.plot([lr], [y], marker=marker, color=color, ms=9, ls="none",
                        label=f"{label}: {method} {lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    top = y_limit(results)
    if top is not None:
        lowest = min(min(r.smoothed) for r in results.values() if r.smoothed)
        ax.set_ylim(lowest - 0.05 * (top - lowest), top)
        ax.set_ylabel("training loss, smoothed (runaway ends cut off)")
    else:
        ax.set_ylabel("training loss, smoothed")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    with atomic_writer(path, "wb") as fh:
        fig.savefig(fh, format=str(path).rsplit(".", 1)[-1], dpi=150)
    plt.close(fig)
