"""Cost curves of training the article's CNN: time per step and per epoch against the batch size
and against the training-set size; the fixed per-step overhead at batch 1; a figure.

    python benchmarks/cost_curves.py [--batch-sizes 1,8,64,256,1024,full] [--sizes 1000,3000,10000,30000,60000]
                                     [--budget 3] [--chunk 1000] [--no-torch] [--threads 2]
                                     [--figure PATH] [--json PATH]

Batch-size curve: for each batch size, training steps (forward, backward, Adam with the
Keras defaults) run for about ``--budget`` seconds (at least 5 steps, after 3 warm-up
steps); the median step time times the steps per 60,000-image epoch gives the epoch
time.  "full" is full-batch gradient descent over all 60,000 images: the activations of
60,000 images do not fit in memory at once, so one step accumulates the gradient over
chunks of ``--chunk`` images (each chunk's mean loss weighted by chunk / 60,000, the
gradients adding up in ``.grad``), then takes one optimizer step: one step per epoch.
minidl does it with ``minidl.train.fit(batch_size=60000, max_chunk=--chunk)``.
PyTorch runs the same curve (same chunking) when it is importable.

Training-set curve: one real epoch (batch 64) over the first n images for each n.

Per-step overhead: the step time at batch 1, and the intercept of a least-squares line
through the step times at batch sizes 1 to 64 (the cost that does not grow with the batch;
larger batches leave the caches and bend the line).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl import backend as B  # noqa: E402
from minidl.perf import threads  # noqa: E402

np = C.np
FULL = C.IMAGES_PER_EPOCH


class ChunkedMinidl(C.MinidlTrainer):
    """minidl with ``full_step``: one full-batch step, gradient accumulated over chunks."""

    def full_step(self, images, labels, chunk):
        if C.fit_available():   # fit's own gradient accumulation (its max_chunk option)
            from minidl.data import ArrayDataset
            from minidl.train import fit

            fit(self.model, self.opt, ArrayDataset(images, labels), epochs=1, batch_size=len(images),
                max_chunk=chunk, shuffle=False, verbose=0)
            return
        n = len(images)
        self.opt.zero_grad()
        for lo in range(0, n, chunk):
            xb = B.asarray(C.batch_to_float(images[lo:lo + chunk]))
            yb = B.asarray(labels[lo:lo + chunk])
            loss = self.ops.softmax_cross_entropy(self.model(xb), yb) * (len(xb) / n)
            loss.backward()   # adds into .grad: the sum of the weighted chunk means = the full mean
        self.opt.step()


class ChunkedTorch(C.TorchTrainer):
    def full_step(self, images, labels, chunk):
        torch = self.torch
        n = len(images)
        self.opt.zero_grad(set_to_none=True)
        for lo in range(0, n, chunk):
            x = torch.from_numpy(images[lo:lo + chunk]).float().div_(255.0)
            yb = torch.from_numpy(labels[lo:lo + chunk])
            (self.loss_fn(self.model(x), yb) * (len(x) / n)).backward()
        self.opt.step()


def time_batch_size(trainer, images, labels, batch, budget, chunk):
    """Median seconds per training step at ``batch`` (``None`` = full batch by chunks)."""
    times = []
    if batch is None:
        for _ in range(2):     # (warm already: the smaller batch sizes ran before)
            start = time.perf_counter()
            trainer.full_step(images, labels, chunk)
            trainer.sync()
            times.append(time.perf_counter() - start)
        return times
    rng = np.random.default_rng(batch)
    spent, s = 0.0, 0
    while s < 8 or (spent < budget and s < 3 + 2000):
        idx = rng.integers(0, len(images), size=batch)
        start = time.perf_counter()
        trainer.step(images[idx], labels[idx])
        trainer.sync()
        dt = time.perf_counter() - start
        if s >= 3:
            times.append(dt)
            spent += dt
        s += 1
    return times


def fit_line(xs, ys):
    """Least-squares intercept and slope of y = a + b x."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    b, a = np.polyfit(xs, ys, 1)
    return a, b


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="1,8,64,256,1024,full")
    parser.add_argument("--sizes", default="1000,3000,10000,30000,60000",
                        help="training-set sizes for the epoch-time curve (batch 64)")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of steps per batch size")
    parser.add_argument("--chunk", type=int, default=1000, help="images per chunk of a full-batch step")
    parser.add_argument("--data", choices=["random", "mnist"], default="random")
    parser.add_argument("--no-torch", action="store_true", help="minidl only")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and minidl.threads.set_num_threads")
    parser.add_argument("--figure", default="docs/figures/perf_cost_curves.png")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    threads.set_num_threads(args.threads)

    batches = [None if b.strip() == "full" else int(b) for b in args.batch_sizes.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else []
    images, labels, what = C.load_images(FULL, args.data)
    trainers = [ChunkedMinidl("adam", seed=0)]
    torch = None if args.no_torch else C.torch_or_none()
    if torch is not None:
        trainers.append(ChunkedTorch(torch, seed=0, threads=args.threads))
    machine = C.machine_info()
    print(f"{what}; {machine['cpu']}, {machine['cores']} cores, load average {machine['loadavg_at_start']}")

    curve = {t.name: [] for t in trainers}
    for batch in batches:
        for t in trainers:   # the frameworks alternate at every batch size
            ts = time_batch_size(t, images, labels, batch, args.budget, args.chunk)
            step = statistics.median(ts)
            steps_per_epoch = 1 if batch is None else -(-FULL // batch)
            curve[t.name].append({
                "batch": "full" if batch is None else batch, "steps_timed": len(ts),
                "step_median_s": step, "step_min_s": min(ts), "step_max_s": max(ts),
                "epoch_s": step * steps_per_epoch, "images_per_s": (batch or FULL) / step,
            })
            print(f"  {t.name:8s} batch {batch or 'full (chunks of %d)' % args.chunk}: "
                  f"{step * 1e3:9.2f} ms per step -> {step * steps_per_epoch:7.2f} s per epoch", flush=True)

    size_curve = []
    for n in sizes:
        sec = C.run_epoch(trainers[0], images[:n], labels[:n], 64, seed=n)
        size_curve.append({"images": n, "epoch_s": sec})
        print(f"  minidl   epoch over {n:6d} images (batch 64): {sec:7.2f} s", flush=True)

    print("\ntime per step and per 60,000-image epoch against the batch size:")
    rows = []
    for i, batch in enumerate(batches):
        row = ["full" if batch is None else batch]
        for t in trainers:
            p = curve[t.name][i]
            row += [f"{p['step_median_s'] * 1e3:.2f}", f"{p['epoch_s']:.1f}"]
        if len(trainers) == 2:
            row.append(f"{curve['minidl'][i]['epoch_s'] / curve['pytorch'][i]['epoch_s']:.2f}")
        rows.append(row)
    headers = ["batch"]
    for t in trainers:
        headers += [f"{t.name} ms/step", f"{t.name} s/epoch"]
    if len(trainers) == 2:
        headers.append("ratio")
    C.print_table(headers, rows)

    overhead = {}
    for t in trainers:
        pts = [(p["batch"], p["step_median_s"]) for p in curve[t.name] if p["batch"] != "full" and p["batch"] <= 64]
        entry = {}
        if any(b == 1 for b, _ in pts):
            entry["batch1_step_ms"] = 1e3 * dict(pts)[1]
        if len(pts) >= 2:
            a, b = fit_line([p[0] for p in pts], [p[1] for p in pts])
            entry.update({"intercept_ms": a * 1e3, "per_image_ms": b * 1e3})
        overhead[t.name] = entry
        print(f"{t.name}: step at batch 1 {entry.get('batch1_step_ms', float('nan')):.3f} ms; "
              f"line through batches 1-64: {entry.get('intercept_ms', float('nan')):.3f} ms fixed "
              f"+ {entry.get('per_image_ms', float('nan')):.4f} ms per image")
    if size_curve:
        print("\nminidl epoch time (batch 64) against the training-set size:")
        C.print_table(["images", "s per epoch", "ms per 1,000 images"],
                      [[p["images"], f"{p['epoch_s']:.2f}", f"{p['epoch_s'] / p['images'] * 1e6:.1f}"]
                       for p in size_curve])

    if args.figure:
        plot(curve, size_curve, args, what)
    C.write_json(args.json, {
        "benchmark": "cost_curves", "data": what, "torch_threads": args.threads, "chunk": args.chunk,
        "budget_s": args.budget,
        "machine": machine, "loadavg_at_end": C._loadavg(), "batch_curve": curve,
        "size_curve": size_curve, "overhead": overhead,
    })


def plot(curve, size_curve, args, what):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for name, pts in curve.items():
        xs = [FULL if p["batch"] == "full" else p["batch"] for p in pts]
        style = dict(marker="o", label=name, color="C0" if name == "minidl" else "C1")
        axes[0].plot(xs, [p["step_median_s"] * 1e3 for p in pts], **style)
        axes[1].plot(xs, [p["epoch_s"] for p in pts], **style)
    for ax, ylabel, title in ((axes[0], "ms per step", "time per training step"),
                              (axes[1], "s per 60,000-image epoch", "time per epoch")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size (60,000 = full batch, by chunks of %d)" % args.chunk)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    if size_curve:
        axes[2].plot([p["images"] for p in size_curve], [p["epoch_s"] for p in size_curve],
                     marker="o", color="C0", label="minidl, batch 64")
        axes[2].set_xlabel("training-set size (images)")
        axes[2].set_ylabel("s per epoch")
        axes[2].set_title("epoch time vs training-set size")
        axes[2].grid(True, alpha=0.3)
        axes[2].legend()
    fig.suptitle(f"CNN training cost on {B.device_name()} ({what}, Adam, float32)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.figure) or ".", exist_ok=True)
    fig.savefig(args.figure, dpi=110)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
