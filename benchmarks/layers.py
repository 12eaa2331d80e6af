"""Per-layer forward/backward breakdown of one training step of the article's CNN (minidl).

    python benchmarks/layers.py [--batch-size 64] [--steps 50] [--optimizer adam] [--json PATH]

Each row is one layer of ``models.mnist_cnn`` (or one fused run of layers, as
``perf.fuse`` runs them; ``--unfused`` shows every layer of the plain core on its own) (plus the loss, the rest of the autograd
engine, the optimizer step and the batch's uint8 -> float32 conversion); the columns
are the median milliseconds of its forward and of its backward over the timed steps
(after 5 warm-up steps).  Backward times are taken per op: every op's ``backward`` is
wrapped with a timer while the script runs, and each op is charged to the layer whose
forward created it.  "autograd engine" is the backward total minus the ops' share
(graph ordering, gradient accumulation into ``.grad``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl import backend as B  # noqa: E402
from minidl import perf  # noqa: E402
from minidl.tensor import Function  # noqa: E402


def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


class BackwardTimer:
    """Wraps every Function subclass's backward with a timer charged to the op's layer label."""

    def __init__(self):
        self.labels = {}            # id(function instance) -> layer label
        self.times = defaultdict(float)
        self._saved = []

    def __enter__(self):
        timer = self
        for cls in set(_all_functions()):
            if "backward" not in cls.__dict__:
                continue
            original = cls.__dict__["backward"]

            def timed(self, g, _original=original):
                start = time.perf_counter()
                out = _original(self, g)
                B.synchronize()
                timer.times[timer.labels.get(id(self), "other ops")] += time.perf_counter() - start
                return out

            self._saved.append((cls, original))
            cls.backward = timed
        return self

    def __exit__(self, *exc):
        for cls, original in self._saved:
            cls.backward = original

    def label_graph(self, out_tensor, label):
        """Charge every not yet labelled op reachable from ``out_tensor`` to ``label``."""
        stack = [out_tensor]
        while stack:
            t = stack.pop()
            ctx = t._ctx
            if ctx is None or id(ctx) in self.labels:
                continue
            self.labels[id(ctx)] = label
            stack.extend(ctx.parents)


def one_step(trainer, x_u8, y, bt: BackwardTimer, fwd):
    """One training step with each part timed; fills ``fwd`` (label -> seconds) and ``bt.times``."""
    ops, model, opt = trainer.ops, trainer.model, trainer.opt
    bt.labels.clear()
    bt.times.clear()
    B.synchronize()
    t0 = time.perf_counter()
    h = B.asarray(C.batch_to_float(x_u8))
    yb = B.asarray(y)
    B.synchronize()
    fwd["input uint8->float32"] = time.perf_counter() - t0
    if isinstance(model, perf.FusedSequential):   # as its forward: masks drawn ahead, then the plan
        for stream in model._streams.values():
            stream.prefetch()
        plan = model.plan
    else:
        plan = [(f"{i} {layer!r}", layer) for i, layer in enumerate(model)]
    for label, fn in plan:
        t0 = time.perf_counter()
        h = fn(h)
        B.synchronize()
        fwd[label] = time.perf_counter() - t0
        bt.label_graph(h, label)
    t0 = time.perf_counter()
    loss = ops.softmax_cross_entropy(h, yb)
    B.synchronize()
    fwd["loss (softmax cross-entropy)"] = time.perf_counter() - t0
    bt.label_graph(loss, "loss (softmax cross-entropy)")
    t0 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    B.synchronize()
    backward_total = time.perf_counter() - t0
    t0 = time.perf_counter()
    opt.step()
    B.synchronize()
    step_time = time.perf_counter() - t0
    return backward_total, step_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50, help="timed steps (after 5 warm-up steps)")
    parser.add_argument("--optimizer", default="adam", help="registered minidl optimizer (default adam)")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--unfused", action="store_true",
                        help="run every layer on its own: the plain core, no speed layer (see minidl/perf)")
    args = parser.parse_args(argv)
    run(args)


def run(args):
    trainer = C.MinidlTrainer(args.optimizer, seed=0, backend=args.backend, perf=not args.unfused)
    x_u8, y, _ = C.load_images(args.batch_size * 8, "random")
    rows = defaultdict(lambda: {"forward": [], "backward": []})
    engine, optstep, totals = [], [], []
    with BackwardTimer() as bt:
        for s in range(5 + args.steps):
            lo = (s % 8) * args.batch_size
            fwd = {}
            t_start = time.perf_counter()
            bwd_total, opt_t = one_step(trainer, x_u8[lo:lo + args.batch_size], y[lo:lo + args.batch_size], bt, fwd)
            total = time.perf_counter() - t_start
            if s < 5:
                continue
            for label, t in fwd.items():
                rows[label]["forward"].append(t)
                rows[label]["backward"].append(bt.times.get(label, 0.0))
            engine.append(bwd_total - sum(bt.times.values()))
            optstep.append(opt_t)
            totals.append(total)

    med = statistics.median
    table, result_rows = [], []
    step_med = med(totals)
    for label, d in rows.items():
        f, b = med(d["forward"]), med(d["backward"])
        table.append([label, C.ms(f), C.ms(b), C.ms(f + b), f"{100 * (f + b) / step_med:.1f}%"])
        result_rows.append({"part": label, "forward_ms": f * 1e3, "backward_ms": b * 1e3})
    e, o = med(engine), med(optstep)
    table.append(["autograd engine (ordering, .grad accumulation)", "", C.ms(e), C.ms(e), f"{100 * e / step_med:.1f}%"])
    table.append([f"optimizer step ({args.optimizer})", "", "", C.ms(o), f"{100 * o / step_med:.1f}%"])
    table.append(["whole step (median)", "", "", C.ms(step_med), "100%"])
    result_rows.append({"part": "autograd engine", "forward_ms": 0.0, "backward_ms": e * 1e3})
    result_rows.append({"part": f"optimizer step ({args.optimizer})", "step_ms": o * 1e3})

    print(f"minidl, one training step of the CNN, batch {args.batch_size}, {args.backend} "
          f"({B.device_name()}), median of {args.steps} steps, ms:")
    C.print_table(["part", "forward", "backward", "total", "share"], table)
    gflop = C.flops_per_image() * args.batch_size / 1e9
    print(f"step: {gflop:.3f} GFLOP -> {gflop / step_med:.1f} GFLOP/s over the whole step; "
          f"-> {step_med * C.IMAGES_PER_EPOCH / args.batch_size:.1f} s per 60,000-image epoch")
    C.write_json(args.json, {
        "benchmark": "layers", "batch_size": args.batch_size, "steps": args.steps,
        "optimizer": args.optimizer, "backend": args.backend, "fused": not args.unfused,
        "machine": C.machine_info(),
        "rows": result_rows, "step_median_ms": step_med * 1e3,
    })


if __name__ == "__main__":
    main()
