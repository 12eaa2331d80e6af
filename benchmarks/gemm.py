"""The machine's float32 GEMM throughput through NumPy, for the big square case and the CNN's own shapes.

    python benchmarks/gemm.py [--repeats 20] [--json PATH]

Each shape is timed ``--repeats`` times (the shapes alternate, round-robin) and the
table gives the median and the best GFLOP/s (2*M*N*K / seconds).  The CNN's shapes at
batch 64 are the GEMMs of one training step (minidl's layouts): the convolution
forward as 64 products (32 x 10) @ (10 x 676) (bias folded in) and its weight gradient,
and the dense layers' forward, weight and input gradients.  The last line compares the
step's GEMM time with the whole step: what fraction of the machine's GEMM throughput
one epoch reaches is (546 GFLOP / epoch seconds) / (this GFLOP/s).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

np = C.np


def shapes():
    """(label, flops, a, b): the operands of each product, float32."""
    rng = np.random.default_rng(0)

    def r(*s):
        return rng.standard_normal(s).astype(np.float32)

    return [
        ("4096 x 4096 @ 4096 x 4096", r(4096, 4096), r(4096, 4096)),
        ("conv fwd: (32x10) @ (64 x 10x676)", r(32, 10), r(64, 10, 676)),
        ("conv dW: (64 x 32x676) @ (64 x 676x10)", r(64, 32, 676), r(64, 10, 676).transpose(0, 2, 1)),
        ("dense1 fwd: (64x5408) @ (5408x256)", r(64, 5408), r(5408, 256)),
        ("dense1 dW: (5408x64) @ (64x256)", r(64, 5408).T, r(64, 256)),
        ("dense1 dX: (64x256) @ (256x5408)", r(64, 256), r(5408, 256).T),
    ]


def flops(a, b):
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = max(a.size // (m * k), b.size // (k * n))
    return 2 * batch * m * n * k


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cases = shapes()
    times = {label: [] for label, _, _ in cases}
    for label, a, b in cases:   # warm-up
        np.matmul(a, b)
    for _ in range(args.repeats):
        for label, a, b in cases:
            start = time.perf_counter()
            np.matmul(a, b)
            times[label].append(time.perf_counter() - start)
    rows, out = [], []
    step_gemm = 0.0
    for label, a, b in cases:
        f = flops(a, b)
        med, best = statistics.median(times[label]), min(times[label])
        rows.append([label, f"{f / 1e6:.1f}", C.ms(med), f"{f / med / 1e9:.1f}", f"{f / best / 1e9:.1f}"])
        out.append({"shape": label, "mflop": f / 1e6, "median_ms": med * 1e3, "gflops_median": f / med / 1e9,
                    "gflops_best": f / best / 1e9})
        if not label.startswith("4096"):
            step_gemm += med
    machine = C.machine_info()
    print(f"float32 GEMM through numpy.matmul ({machine['blas']}), {machine['cpu']}, {machine['cores']} cores, "
          f"{args.repeats} repeats:")
    C.print_table(["product", "MFLOP", "median ms", "GFLOP/s median", "GFLOP/s best"], rows)
    per_step = C.flops_per_image() * 64 / 1e9
    print(f"the CNN's GEMMs of one batch-64 step ({per_step:.3f} GFLOP, dense2's tiny ones left out): "
          f"{step_gemm * 1e3:.2f} ms -> {step_gemm * 937.5:.2f} s per 60,000-image epoch")
    C.write_json(args.json, {"benchmark": "gemm", "machine": machine, "rows": out,
                             "cnn_step_gemm_ms": step_gemm * 1e3})


if __name__ == "__main__":
    main()
