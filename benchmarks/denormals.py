"""Why training slowed down late in the epoch: subnormal numbers in Adam's state.

    python benchmarks/denormals.py [--images 60000] [--every 100] [--json PATH]

Trains the article's CNN with Adam (Keras defaults, batch 64, MNIST) for one epoch twice
from the same start: once computing with IEEE subnormal numbers (``fit(...,
flush_denormals=False)``), once with them flushed to zero (fit's default, see
``minidl.perf.denormals``).  Every ``--every`` steps it prints the mean step time of the last
``--every`` steps and the fraction of Adam's moment arrays (m and v of every parameter,
taken together) that is subnormal (0 < |x| < 1.18e-38).  At the end it says whether the
two runs ended with bitwise equal weights.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

from minidl import backend as B  # noqa: E402
from minidl.train import Callback  # noqa: E402

np = B.np


class Probe(Callback):
    """Times blocks of steps and counts subnormal numbers in the optimizer's state."""

    def __init__(self, every):
        super().__init__()
        self.every, self.rows, self.start = every, [], None

    def on_epoch_begin(self, epoch):
        self.start = time.perf_counter()

    def on_step_end(self, step, loss):
        if (step + 1) % self.every:
            return
        now = time.perf_counter()
        tiny = np.finfo(np.float32).tiny
        sub = total = 0
        for state in self.optimizer.state.values():
            for key in ("exp_avg", "exp_avg_sq"):
                a = np.abs(B.to_numpy(state[key]))
                sub += int(((a < tiny) & (a > 0)).sum())
                total += a.size
        self.rows.append({"step": step + 1, "ms_per_step": (now - self.start) / self.every * 1e3,
                          "subnormal_fraction": sub / total})
        self.start = time.perf_counter()       # the count above is not timed


def run(flush, images, labels, every):
    from minidl.data import ArrayDataset
    from minidl.train import fit

    trainer = C.MinidlTrainer("adam", seed=0)
    probe = Probe(every)
    fit(trainer.plain_model, trainer.opt, ArrayDataset(images, labels), epochs=1, batch_size=64, seed=0,
        verbose=0, callbacks=[probe], flush_denormals=flush)
    return probe.rows, [B.to_numpy(p.data).copy() for p in trainer.model.parameters()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60000, help="training images (one epoch)")
    parser.add_argument("--every", type=int, default=100, help="steps per reported block")
    parser.add_argument("--data", default="mnist", choices=["mnist", "random"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    images, labels, what = C.load_images(args.images, args.data)
    kept, w_kept = run(False, images, labels, args.every)
    flushed, w_flushed = run(True, images, labels, args.every)
    rows = []
    for a, b in zip(kept, flushed):
        rows.append([str(a["step"]), f"{a['ms_per_step']:.2f}", f"{100 * a['subnormal_fraction']:.2f}%",
                     f"{b['ms_per_step']:.2f}", f"{100 * b['subnormal_fraction']:.2f}%"])
    print(f"{what}, {args.images} images, batch 64, Adam (Keras defaults); {C.machine_info()['cpu']}:")
    C.print_table(["step", "subnormals kept: ms/step", "subnormal m, v",
                   "flushed: ms/step", "subnormal m, v"], rows)
    same = all(np.array_equal(a, b) for a, b in zip(w_kept, w_flushed))
    worst = max(float(np.abs(a - b).max()) for a, b in zip(w_kept, w_flushed))
    print(f"weights after the epoch: {'bitwise equal' if same else f'differ, by at most {worst:.3g}'}")
    C.write_json(args.json, {"benchmark": "denormals", "images": args.images, "data": what,
                             "kept": kept, "flushed": flushed, "weights_bitwise_equal": same,
                             "max_weight_difference": worst, "machine": C.machine_info()})


if __name__ == "__main__":
    main()
