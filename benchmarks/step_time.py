"""Time one training step (forward + backward, and optionally the optimizer) of the article's CNN.

    python benchmarks/step_time.py [--batch-size 64] [--steps 30] [--backend numpy] [--optimizer adam]

Prints the median and the min-max over the timed steps (after warm-up), and the
time per epoch of 60,000 images that this implies.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import minidl
from minidl import backend as B
from minidl import models, ops, optim


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps (after 5 warm-up steps)")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--optimizer", default=None,
                        help="also time optimizer.step() with this registered optimizer (e.g. adam)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    B.set_backend(args.backend)
    model = models.mnist_cnn(seed=0)
    opt = optim.create(args.optimizer, model.parameters()) if args.optimizer else None
    rng = B.np.random.default_rng(0)
    x = B.asarray(rng.random((args.batch_size, 1, 28, 28), dtype=B.np.float32))
    y = B.asarray(rng.integers(0, 10, args.batch_size))

    times = []
    for i in range(5 + args.steps):
        B.synchronize()
        start = time.perf_counter()
        loss = ops.softmax_cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        if opt is not None:
            opt.step()
        B.synchronize()
        if i >= 5:
            times.append(time.perf_counter() - start)

    med = statistics.median(times)
    result = {
        "backend": args.backend, "device": B.device_name(), "batch_size": args.batch_size,
        "optimizer": args.optimizer, "steps": args.steps, "median_s": med,
        "min_s": min(times), "max_s": max(times),
        "epoch_estimate_s": med * (60000 / args.batch_size), "minidl": minidl.__version__,
    }
    what = "forward+backward" + (f"+{args.optimizer} step" if opt else "")
    print(f"{what}, batch {args.batch_size}, {args.backend} ({result['device']}): "
          f"median {med * 1e3:.2f} ms (min {min(times) * 1e3:.2f}, max {max(times) * 1e3:.2f}) "
          f"-> {result['epoch_estimate_s']:.1f} s per 60,000-image epoch")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
