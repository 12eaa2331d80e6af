"""What made the difference: the CNN's training step with the ops as first written, then each speed change added.

    python benchmarks/ablation.py [--batch-size 64] [--rounds 15] [--steps 10] [--json PATH]

The "as first written" versions of the ops are kept below (they are the teaching-style
first implementations, replaced in minidl/ops by the faster ones; both compute the same
numbers, see tests/test_perf_parity.py).  Configurations are cumulative: each adds one
change to the one before.  They run round-robin (every round times ``--steps`` training
steps of every configuration, in turn), so a noisy machine slows them all alike; the table
gives the median over rounds of the mean step time, and the saving against the row above.

Two changes cannot be switched inside one process and are measured apart (docs/performance.md):
flushing denormals (it matters only once Adam's state has decayed into subnormal numbers,
after ~700 steps: ``python benchmarks/denormals.py``), and OpenBLAS's idle threads sleeping
after ~1 ms instead of spinning ~0.1 s (run this script again with
``OPENBLAS_THREAD_TIMEOUT=28``, OpenBLAS's own default, to see the difference).
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
from minidl import ops, tensor  # noqa: E402
from minidl.ops import conv, noise, pool  # noqa: E402
from minidl.perf import conv_block, fusion, masks  # noqa: E402
from minidl.tensor import Function  # noqa: E402


# --------------------------------------------------------------- the ops as first written
class FirstConv2D(Function):
    """im2col as (C*KH*KW, N*OH*OW), one GEMM, bias added in a separate pass, output transposed."""

    def forward(self, x, w, b, stride=(1, 1), pads=((0, 0), (0, 0))):
        xp = B.get_array_module(x)
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        sh, sw = stride
        oh, ow = conv.conv_output_hw((h, wd), (kh, kw), stride, pads)
        cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw].transpose(1, 0, 2, 3)
        cols = cols.reshape(c * kh * kw, n * oh * ow)
        out = w.reshape(o, -1) @ cols
        out += b[:, None]
        self.cols, self.w, self.n_ohw = cols, w, (n, oh, ow)
        return xp.ascontiguousarray(out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3))

    def backward(self, g):  # the benchmark's conv has no input gradient (first layer)
        o = self.w.shape[0]
        n, oh, ow = self.n_ohw
        g2 = g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        return None, (g2 @ self.cols.T).reshape(self.w.shape), g2.sum(axis=1)


class FirstMaxPool2D(Function):
    """Running max of the strided windows; the winning offset stored by boolean-mask assignment."""

    def forward(self, x, pool=(2, 2), stride=(2, 2)):
        xp = B.get_array_module(x)
        kh, kw = pool
        sh, sw = stride
        n, c, h, w = x.shape
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        out = x[:, :, 0:sh * oh:sh, 0:sw * ow:sw].copy()
        winner = xp.zeros((n, c, oh, ow), dtype=xp.uint8)
        for k in range(1, kh * kw):
            i, j = divmod(k, kw)
            window = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            better = window > out
            xp.maximum(out, window, out=out)
            winner[better] = k
        self.winner, self.geom = winner, (x.shape, pool, stride, oh, ow)
        return out

    def backward(self, g):
        xp = B.get_array_module(g)
        shape, (kh, kw), (sh, sw), oh, ow = self.geom
        gx = xp.zeros(shape, dtype=g.dtype)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            gx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += g * (self.winner == k)
        return gx


class FirstReLU(Function):
    """A boolean mask kept for backward, the output as input * mask."""

    def forward(self, a):
        self.mask = a > 0
        return a * self.mask

    def backward(self, g):
        return g * self.mask


def first_dropout_mask(shape, rate, rng, dtype):
    xp = B.xp()
    u = rng.random(shape, dtype=B.np.float32 if dtype == B.np.float32 else B.np.float64)
    mask = (u >= rate).astype(dtype)
    mask *= xp.asarray(1.0 / (1.0 - rate), dtype=dtype)
    return mask


# --------------------------------------------------------------------- configurations
CURRENT = {
    "conv": conv.Conv2DFunction, "pool": pool.MaxPool2DFunction,
    "relu": tensor.ReLU, "mask": noise.dropout_mask,
}
CHUNK = conv_block.CPU_CHUNK
PREFETCH_MIN = masks.MaskStream.PREFETCH_MIN_SIZE
NEVER = 1 << 62
FIRST = {"conv": FirstConv2D, "pool": FirstMaxPool2D, "relu": FirstReLU, "mask": first_dropout_mask}

#: (label, which parts use the current code); each row adds one change to the row above
CONFIGS = [
    ("ops as first written", set()),
    ("+ max-pool: winner kept by max(winner, k * (window > out)), no boolean-mask writes", {"pool"}),
    ("+ conv: per-sample im2col, batched GEMM, bias folded in (no transposes)", {"pool", "conv"}),
    ("+ ReLU: maximum(x, 0), backward from the output (no mask pass)", {"pool", "conv", "relu"}),
    ("+ dropout: mask compared in place into the uniform draws", {"pool", "conv", "relu", "mask"}),
    ("+ fused Conv2D -> ReLU -> MaxPool2D (pool-ordered im2col, ReLU after the pool)",
     {"pool", "conv", "relu", "mask", "fusion"}),
    ("+ the fused op in chunks of 8 samples (its intermediates stay in the cache)",
     {"pool", "conv", "relu", "mask", "fusion", "chunks"}),
    ("+ the Dropout after the block joins the fused op (mask applied in place, backward folded in)",
     {"pool", "conv", "relu", "mask", "fusion", "chunks", "fuse_dropout"}),
    ("+ optimizer update of large parameters in one part per CPU thread",
     {"pool", "conv", "relu", "mask", "fusion", "chunks", "fuse_dropout", "optim_threads"}),
    ("+ next dropout mask drawn in a background thread during the convolution",
     {"pool", "conv", "relu", "mask", "fusion", "chunks", "fuse_dropout", "optim_threads", "prefetch"}),
]
ALL = set(CONFIGS[-1][1])


def use(parts):
    """Install the current or the first-written version of each op, and the speed layer's
    settings read at run time (the parts chosen when a model is built: see ``trainer``)."""
    pick = {k: (CURRENT[k] if k in parts else FIRST[k]) for k in CURRENT}
    conv.Conv2DFunction = pick["conv"]
    pool.MaxPool2DFunction = pick["pool"]
    tensor.ReLU = pick["relu"]
    noise.dropout_mask = ops.dropout_mask = masks.dropout_mask = pick["mask"]
    conv_block.CPU_CHUNK = CHUNK if "chunks" in parts else 1 << 30
    masks.MaskStream.PREFETCH_MIN_SIZE = PREFETCH_MIN if "prefetch" in parts else NEVER


def trainer(optimizer, parts):
    """A trainer with the speed layer's build-time parts of a configuration: fusion (and the
    Dropout joining the fused op), the optimizer's rule split over threads."""
    fusion.FUSE_DROPOUT = "fuse_dropout" in parts
    try:
        return C.MinidlTrainer(optimizer, seed=0, fuse="fusion" in parts, split="optim_threads" in parts)
    finally:
        fusion.FUSE_DROPOUT = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10, help="training steps per configuration per round")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    x_u8, y, _ = C.load_images(args.batch_size * 16, "random")
    trainers = [trainer(args.optimizer, parts) for _label, parts in CONFIGS]
    times = [[] for _ in CONFIGS]
    try:
        for r in range(args.rounds + 1):           # round 0 is warm-up
            for c, (_label, parts) in enumerate(CONFIGS):
                use(parts)
                start = time.perf_counter()
                for s in range(args.steps):
                    lo = ((r * args.steps + s) % 16) * args.batch_size
                    trainers[c].step(x_u8[lo:lo + args.batch_size], y[lo:lo + args.batch_size])
                if r:
                    times[c].append((time.perf_counter() - start) / args.steps)
    finally:
        use(ALL)

    rows, out = [], []
    prev = None
    first = statistics.median(times[0])
    for (label, _parts), t in zip(CONFIGS, times):
        med = statistics.median(t)
        gain = "" if prev is None else f"{(med - prev) * 1e3:+.2f}"
        rows.append([label, C.ms(med), f"{min(t) * 1e3:.2f}-{max(t) * 1e3:.2f}", gain, f"{first / med:.2f}x"])
        out.append({"config": label, "median_ms": med * 1e3, "min_ms": min(t) * 1e3, "max_ms": max(t) * 1e3})
        prev = med
    print(f"minidl training step (forward, backward, {args.optimizer}), batch {args.batch_size}, "
          f"median over {args.rounds} rounds of {args.steps} steps, ms per step:")
    C.print_table(["configuration", "step ms", "min-max", "change ms", "speed-up"], rows)
    C.write_json(args.json, {"benchmark": "ablation", "batch_size": args.batch_size, "optimizer": args.optimizer,
                             "rounds": args.rounds, "steps": args.steps, "machine": C.machine_info(), "rows": out})


if __name__ == "__main__":
    main()
