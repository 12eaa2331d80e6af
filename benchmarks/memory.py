"""Peak resident memory of a training run of the article's CNN (data loaded, model, optimizer).

    python benchmarks/memory.py [--steps 0] [--epochs 1] [--optimizer adam] [--data mnist|random] [--json PATH]

A fresh Python process (so nothing else counts) loads the 60,000 training and 10,000 test
images (real MNIST, or random uint8 images of the same size: memory does not depend on the
pixel values), builds the CNN and the optimizer, trains with ``minidl.train.fit`` (batch 64,
``--epochs`` epochs, or only ``--steps`` steps when > 0), evaluates on the test set, and
reports its peak RSS (``ru_maxrss``).  tests/test_memory.py runs the same script for 150 steps.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from minidl import models, optim
    from minidl.data import ArrayDataset, load_dataset
    from minidl.train import LambdaCallback, fit

    data_dir, steps, epochs, opt_name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if data_dir:
        train = load_dataset("mnist", "train", data_dir=data_dir, download=False, progress=False)
        test = load_dataset("mnist", "test", data_dir=data_dir, download=False, progress=False)
    else:
        rng = np.random.default_rng(0)
        train = ArrayDataset(rng.integers(0, 256, (60000, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000))
        test = ArrayDataset(rng.integers(0, 256, (10000, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10000))
    model = models.mnist_cnn(seed=0)
    opt = optim.create(opt_name, model.parameters())
    stopper = LambdaCallback()
    def on_step_end(step, loss):
        if steps and step + 1 >= steps:
            stopper.stop_training = True
    stopper.on_step_end = on_step_end
    start = time.perf_counter()
    hist = fit(model, opt, train, test, epochs=epochs, batch_size=64, verbose=0, callbacks=[stopper])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak, "data": "mnist" if data_dir else "random", "steps": len(hist.step_loss),
                      "seconds": seconds, "val_acc": hist.row()["val_acc"]}))
""")


def mnist_folder():
    env = os.environ.get("MINIDL_DATA_DIR")
    for c in ([env] if env else []) + [os.path.join(ROOT, "..", "shared", "data", "mnist")]:
        if os.path.exists(os.path.join(c, "train-images-idx3-ubyte.gz")) or \
                os.path.exists(os.path.join(c, "train-images-idx3-ubyte")):
            return os.path.abspath(c)
    return None


def run(steps=0, epochs=1, optimizer="adam", data="mnist", timeout=900):
    folder = mnist_folder() if data == "mnist" else None
    if data == "mnist" and folder is None:
        raise SystemExit("the MNIST files are not here (set MINIDL_DATA_DIR), or use --data random")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, folder or "", str(steps), str(epochs), optimizer],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the training process failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: whole epochs)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--data", choices=["mnist", "random"], default="mnist")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    result = run(args.steps, args.epochs, args.optimizer, args.data)
    print(f"training run ({result['data']}, {result['steps']} steps of batch 64, {args.optimizer}, then evaluation "
          f"on 10,000 test images): peak RSS {result['peak_rss_mb']:.0f} MB (target <= 400 MB); "
          f"{result['seconds']:.1f} s; val acc {result['val_acc']}")
    C.write_json(args.json, dict(result, benchmark="memory", optimizer=args.optimizer, machine=C.machine_info()))


if __name__ == "__main__":
    main()
