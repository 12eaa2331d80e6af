"""Shared pieces of the benchmark scripts: data, one training step per framework, timing, tables, JSON.

Not part of minidl: the scripts in benchmarks/ import it by file location
(``sys.path`` gets this folder), and it puts the checkout's root first on ``sys.path``,
so ``python benchmarks/<name>.py`` measures this checkout's minidl, installed or not.

Like the ``minidl`` command, it sets ``OPENBLAS_THREAD_TIMEOUT=20`` (unless set) before NumPy
loads OpenBLAS, so OpenBLAS's idle threads sleep after about 1 ms instead of spinning for
0.1 s and leave the second core to minidl's own threads (docs/performance.md).  Run a
script with ``OPENBLAS_THREAD_TIMEOUT=28`` (OpenBLAS's default) to measure without it.

Both frameworks train the article's CNN the same way:

* data: uint8 images (N, 1, 28, 28) kept as uint8; every batch is gathered with the
  epoch's permutation and converted to float32 / 255 inside the step, as a data
  loader does (the whole training set as float32 would take 188 MB);
* model: Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> Dropout(0.25) -> Flatten ->
  Linear(5408, 256) -> ReLU -> Dropout(0.5) -> Linear(256, 10), softmax cross-entropy;
* optimizer: Adam with the Keras defaults (lr 1e-3, beta 0.9 / 0.999, eps 1e-7), float32.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")   # before NumPy is imported (see above)

from minidl import backend as B  # noqa: E402
from minidl import perf as minidl_perf  # noqa: E402

np = B.np  # host-side numpy (the benchmarks are host code, like data loading)

#: floating-point operations of one training step per image of the CNN (forward and
#: backward; the first convolution needs no input gradient): see flops_per_image()
IMAGES_PER_EPOCH = 60_000


def flops_per_image() -> int:
    """Multiply-adds x 2 of the GEMMs of one image's forward + backward pass."""
    conv = 2 * 26 * 26 * 32 * 9          # out (32 x 676) = W (32 x 9) @ cols (9 x 676)
    dense1 = 2 * 5408 * 256
    dense2 = 2 * 256 * 10
    # forward: conv, dense1, dense2; backward: dW of all three, dX of the two dense layers
    return conv * 2 + dense1 * 3 + dense2 * 3


# ------------------------------------------------------------------------------- data
def load_images(n: int, data: str = "random", seed: int = 0):
    """``n`` uint8 images (n, 1, 28, 28) and int64 labels, and a word saying which data they are.

    ``data="mnist"`` reads the real training set with ``minidl.data.load_dataset("mnist")``
    (no download: $MINIDL_DATA_DIR, else ../shared/data/mnist beside the checkout, else
    the cache; repeated if ``n`` > 60,000); ``"random"`` draws uniform uint8 pixels (the step time
    does not depend on the pixel values) with labels 0..9.
    """
    if data == "mnist":
        from minidl.data import load_dataset

        beside = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
        data_dir = None if os.environ.get("MINIDL_DATA_DIR") or not os.path.isdir(beside) else beside
        ds = load_dataset("mnist", "train", data_dir=data_dir, download=False, progress=False)
        x, y = ds.images, ds.labels
        reps = -(-n // len(x))
        if reps > 1:
            x, y = np.concatenate([x] * reps), np.concatenate([y] * reps)
        return np.ascontiguousarray(x[:n]), np.ascontiguousarray(y[:n]).astype(np.int64), "MNIST training images"
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    return x, y, "random uint8 images of MNIST's shape"


def batch_to_float(images_u8):
    """uint8 (N, 1, 28, 28) -> float32 in [0, 1] (one pass, no float64 temporary)."""
    out = images_u8.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out


# ---------------------------------------------------------------------------- minidl
class MinidlTrainer:
    """The CNN, its loss and an optimizer; ``step(x_u8, y)`` runs one training step.

    ``perf=True`` (as ``fit`` trains by default): the model fused (``perf.fuse``), the
    optimizer's rule split over threads (``perf.split_updates``) and, with
    ``flush_denormals``, subnormals flushed; ``perf=False``: the plain core.  ``fuse`` and
    ``split`` override the two parts one by one (the ablation uses them).
    """

    def __init__(self, optimizer: str = "adam", seed: int = 0, backend: str = "numpy",
                 flush_denormals: bool = True, perf: bool = True, fuse=None, split=None):
        from minidl import models, ops, optim

        B.set_backend(backend)
        self.ops = ops
        self.name = "minidl" if perf else "minidl-plain"
        self.perf = perf
        self.plain_model = models.mnist_cnn(seed=seed)
        self.plain_model.train()
        self.model = minidl_perf.fuse(self.plain_model) if (perf if fuse is None else fuse) else self.plain_model
        self.opt = make_minidl_optimizer(optim, optimizer, self.model.parameters())
        if perf if split is None else split:
            minidl_perf.split_updates(self.opt)
        self.flush_denormals = flush_denormals and perf   # as minidl.train.fit's options

    def step(self, x_u8, y, track=False):
        with minidl_perf.denormals.flush(self.flush_denormals):      # as fit does
            x = B.asarray(batch_to_float(x_u8))
            yb = B.asarray(y)
            loss = self.ops.softmax_cross_entropy(self.model(x), yb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return loss

    def sync(self):
        B.synchronize()


def make_minidl_optimizer(optim, name, params):
    """A registered minidl optimizer with its Keras-convention defaults."""
    name = name.lower()
    if name not in optim.available():
        raise SystemExit(f"optimizer {name!r} is not registered in minidl.optim "
                         f"(available: {', '.join(optim.available())})")
    return optim.create(name, params)


# --------------------------------------------------------------------------- pytorch
def torch_or_none():
    """The torch module, or None (with the reason printed) when it is not importable."""
    try:
        import torch
    except ImportError as exc:
        print(f"[PyTorch not importable ({exc}); the PyTorch comparison is skipped. "
              "Install it with: pip install torch==2.13.0]")
        return None
    return torch


class TorchTrainer:
    """The same CNN in PyTorch (CPU with ``threads`` threads, or ``device="cuda"``), CrossEntropyLoss,
    Adam with Keras defaults (PyTorch's default implementation for the device: foreach)."""

    name = "pytorch"

    def __init__(self, torch, seed: int = 0, threads: int = 2, flush_denormals: bool = False,
                 device: str = "cpu"):
        self.torch = torch
        self.device = torch.device(device)
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flush_denormals)   # PyTorch's default: False
        torch.manual_seed(seed)
        nn = torch.nn
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(5408, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10),
        ).to(self.device)
        if self.device.type == "cuda":
            self.name = "pytorch-cuda"
        self.model.train()
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        self.correct = 0

    def step(self, x_u8, y, track=False):
        """One step; ``track``: also read the loss back and count correct predictions (as fit does)."""
        torch = self.torch
        # on the GPU the uint8 batch is copied to the device, then converted (as minidl's B.asarray)
        x = torch.from_numpy(x_u8).to(self.device).float().div_(255.0)
        yb = torch.from_numpy(y).to(self.device)
        self.opt.zero_grad(set_to_none=True)
        logits = self.model(x)
        loss = self.loss_fn(logits, yb)
        loss.backward()
        self.opt.step()
        if track:
            self.correct += int((logits.detach().argmax(dim=1) == yb).sum())
            return loss.item()
        return loss

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def fit_available() -> bool:
    try:
        from minidl.train import fit  # noqa: F401
    except ImportError:
        return False
    return True


def run_epoch(trainer, images, labels, batch_size, seed, loop="plain"):
    """One pass over ``images`` in a shuffled order, batches of ``batch_size``; returns seconds.

    ``loop="fit"``: minidl trains with ``minidl.train.fit`` (verbose=0), which also reads each
    step's loss back and counts correct predictions; PyTorch runs a loop doing the same
    (``loss.item()`` and an arg-max count per step).  ``loop="plain"``: both run bare steps.
    """
    if loop == "fit" and isinstance(trainer, MinidlTrainer):
        from minidl.data import ArrayDataset
        from minidl.train import fit

        dataset = ArrayDataset(images, labels)
        trainer.sync()
        start = time.perf_counter()
        fit(trainer.plain_model, trainer.opt, dataset, epochs=1, batch_size=batch_size, seed=seed, verbose=0,
            perf=trainer.perf, flush_denormals=trainer.flush_denormals)
        trainer.sync()
        return time.perf_counter() - start
    order = np.random.default_rng(seed).permutation(len(images))
    track = loop == "fit"
    trainer.sync()
    start = time.perf_counter()
    for lo in range(0, len(images), batch_size):
        idx = order[lo:lo + batch_size]
        trainer.step(images[idx], labels[idx], track=track)
    trainer.sync()
    return time.perf_counter() - start


# ----------------------------------------------------------------------- reporting
def summary(times):
    """median, min and max of a list of seconds."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs_s": list(times)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0


def machine_info() -> dict:
    info = {
        "cpu": B.device_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "blas": _blas_name(), "loadavg_at_start": _loadavg(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def _blas_name():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # pragma: no cover - depends on the numpy build
        return "unknown"


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover
        return None


def print_table(headers, rows, out=sys.stdout):
    """A plain text table: right-aligned columns sized to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)), file=out)
        if k == 0:
            print("  ".join("-" * w for w in widths), file=out)


def write_json(path, obj):
    if path:
        with open(path, "w") as fh:
            json.dump(obj, fh, indent=2)
        print(f"wrote {path}")


def ms(seconds) -> str:
    return f"{seconds * 1e3:.2f}"
