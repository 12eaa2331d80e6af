"""One training epoch of the article's CNN: minidl and PyTorch side by side, in one process, alternating.

    python benchmarks/epoch.py [--repeats 3] [--images 60000] [--batch-size 64] [--data random|mnist]
                               [--optimizer adam] [--threads 2] [--json PATH]

Each repeat trains one epoch with minidl, then one with PyTorch (the order flips every
repeat), on the same images in the same shuffled order: the CNN of models.mnist_cnn,
softmax cross-entropy, Adam with the Keras defaults (lr 1e-3, betas 0.9/0.999, eps 1e-7),
float32, batch 64.  Each framework keeps its model and optimizer across repeats, as
training does.  PyTorch runs on the CPU with torch.set_num_threads(--threads) and the same
layers; when torch is not importable, only minidl is timed.  ``--backend cupy`` runs minidl on
the GPU and PyTorch on CUDA (eager, its default Adam), each epoch timed between device
synchronisations; the uint8 batches are copied to the device step by step in both.

``--images N`` times N images per "epoch" and scales the time to 60,000 images
(a quicker, noisier estimate); the default is the full epoch.  ``--loop fit`` (the
default where minidl.train exists) trains minidl with ``minidl.train.fit`` and gives
PyTorch a loop that does the same per-step work (reads the loss, counts correct
predictions); ``--loop plain`` runs bare steps in both.  A warm-up of 20 steps
per framework runs first.  Prints the median and min-max per framework and the ratio
minidl / PyTorch of the medians (and of each repeat's pair), plus the machine's load.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl import backend as B  # noqa: E402
from minidl.perf import threads  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="epochs per framework (alternating)")
    parser.add_argument("--images", type=int, default=C.IMAGES_PER_EPOCH,
                        help="images per timed epoch; times are scaled to 60,000 images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", choices=["random", "mnist"], default="random",
                        help="random uint8 images of MNIST's shape, or the real MNIST training set")
    parser.add_argument("--optimizer", default="adam", help="minidl optimizer (PyTorch always uses Adam)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and minidl.threads.set_num_threads (minidl's elementwise "
                             "threads; its BLAS uses the machine's cores, or OPENBLAS_NUM_THREADS)")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--no-torch", action="store_true", help="time minidl only")
    parser.add_argument("--loop", choices=["fit", "plain"], default=None,
                        help="fit: minidl.train.fit (reads each step's loss, counts correct predictions; "
                             "PyTorch's loop does the same); plain: bare steps in both. "
                             "Default: fit where minidl.train exists")
    parser.add_argument("--no-perf", action="store_true",
                        help="time minidl's plain core only (fit(perf=False): no fused ops, no threads, "
                             "no denormal flushing)")
    parser.add_argument("--plain-too", action="store_true",
                        help="also time minidl's plain core (perf=False) in the same alternation, so the "
                             "cost of the readable path is a measured ratio")
    parser.add_argument("--no-flush-denormals", action="store_true",
                        help="minidl computes with IEEE subnormals (fit's flush_denormals=False); "
                             "by default it flushes them to zero, as minidl.train.fit does")
    parser.add_argument("--torch-flush-denormals", action="store_true",
                        help="also PyTorch flushes them (torch.set_flush_denormal(True)); "
                             "by default PyTorch runs with its own default (off)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    threads.set_num_threads(args.threads)
    loop = args.loop or ("fit" if C.fit_available() else "plain")
    images, labels, what = C.load_images(args.images, args.data)
    scale = C.IMAGES_PER_EPOCH / args.images
    trainers = [C.MinidlTrainer(args.optimizer, seed=0, backend=args.backend,
                                flush_denormals=not args.no_flush_denormals, perf=not args.no_perf)]
    if args.plain_too and not args.no_perf:
        trainers.append(C.MinidlTrainer(args.optimizer, seed=0, backend=args.backend, perf=False))
    torch = None if args.no_torch else C.torch_or_none()
    device = "cuda" if args.backend == "cupy" else "cpu"
    if torch is not None and device == "cuda" and not torch.cuda.is_available():
        print("PyTorch cannot see a CUDA device: PyTorch CUDA is not timed")
        torch = None
    if torch is not None:
        trainers.append(C.TorchTrainer(torch, seed=0, threads=args.threads, device=device,
                                       flush_denormals=args.torch_flush_denormals))
    machine = C.machine_info()
    print(f"{what}: {args.images} images per timed epoch (x{scale:.3g} to 60,000), batch {args.batch_size}, "
          f"{loop} loop; minidl: {threads.num_threads()} threads, denormals "
          f"{'kept' if args.no_flush_denormals else 'flushed'}; "
          f"{machine['cpu']}, {machine['cores']} cores, load average {machine['loadavg_at_start']}")

    for t in trainers:  # warm-up: allocations, BLAS threads, lazily built state
        C.run_epoch(t, images[:20 * args.batch_size], labels[:20 * args.batch_size], args.batch_size, 99, loop)

    times = {t.name: [] for t in trainers}
    for r in range(args.repeats):
        order = trainers if r % 2 == 0 else trainers[::-1]
        for t in order:
            sec = C.run_epoch(t, images, labels, args.batch_size, r, loop) * scale
            times[t.name].append(sec)
            print(f"  repeat {r + 1}: {t.name:12s} {sec:7.2f} s per 60,000-image epoch", flush=True)

    rows, result = [], {}
    steps = -(-C.IMAGES_PER_EPOCH // args.batch_size)
    for name, ts in times.items():
        s = C.summary(ts)
        result[name] = s
        rows.append([name, f"{s['median_s']:.2f}", f"{s['min_s']:.2f}-{s['max_s']:.2f}",
                     f"{s['median_s'] / steps * 1e3:.2f}"])
    print(f"\nseconds per 60,000-image epoch, {args.repeats} repeats each:")
    C.print_table(["framework", "median s", "min-max s", "ms per step"], rows)
    gflop = C.flops_per_image() * C.IMAGES_PER_EPOCH / 1e9
    main_name = trainers[0].name
    med_m = result[main_name]["median_s"]
    print(f"minidl: {gflop:.0f} GFLOP per epoch -> {gflop / med_m:.1f} GFLOP/s on average")
    torch_name = next((name for name in times if name.startswith("pytorch")), None)
    if torch_name is not None:
        ratio = med_m / result[torch_name]["median_s"]
        pairs = [m / p for m, p in zip(times[main_name], times[torch_name])]
        result["ratio_minidl_over_pytorch"] = ratio
        result["ratio_per_repeat"] = pairs
        print(f"ratio {main_name} / PyTorch (medians): {ratio:.3f}   per repeat: "
              + ", ".join(f"{p:.2f}" for p in pairs))
        if "minidl-plain" in times and main_name != "minidl-plain":
            plain = result["minidl-plain"]["median_s"]
            result["ratio_plain_over_pytorch"] = plain / result[torch_name]["median_s"]
            result["ratio_plain_over_perf"] = plain / med_m
            print(f"ratio minidl-plain / PyTorch (medians): {result['ratio_plain_over_pytorch']:.3f}; "
                  f"minidl-plain / minidl: {result['ratio_plain_over_perf']:.3f}")
    result.update({
        "benchmark": "epoch", "loop": loop, "images_timed": args.images, "data": what, "batch_size": args.batch_size,
        "optimizer": args.optimizer, "repeats": args.repeats, "backend": args.backend,
        "torch_threads": args.threads if torch is not None else None, "machine": machine,
        "torch_device": device if torch is not None else None,
        "gpu": B.device_name() if args.backend == "cupy" else None,
        "minidl_threads": threads.num_threads(), "minidl_flush_denormals": not args.no_flush_denormals,
        "minidl_perf": not args.no_perf, "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "torch_flush_denormals": args.torch_flush_denormals if torch is not None else None,
        "loadavg_at_end": C._loadavg(), "gflop_per_epoch": gflop, "peak_rss_mb_process": C.peak_rss_mb(),
    })
    print(f"load average at the end: {result['loadavg_at_end']}")
    C.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
