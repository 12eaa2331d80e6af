"""The argument checks of fit and evaluate, all run before anything trains.

Each bad argument is one ValueError or TypeError that names it, what was expected and
what was given.  The data checks run one example of each dataset through the model (so a
wrong image shape fails at once, naming the dataset's shape) and check every label
against the model's classes.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from minidl import backend as B
from minidl.data import ArrayDataset
from minidl.nn.module import Module
from minidl.optim.optimizer import Optimizer
from minidl.tensor import Tensor, no_grad


def int_arg(value, name, low, func="fit"):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{func}: {name} must be an int >= {low}, got {value!r}")
    return value


def check_model(model, func="fit") -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{func}: model must be a minidl.nn.Module, got {type(model).__name__}")


def check_optimizer(optimizer, model, func="fit") -> None:
    """An Optimizer over parameters of ``model`` only."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{func}: optimizer must be a minidl.optim.Optimizer, got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    foreign = sum(id(p) not in own for g in optimizer.param_groups for p in g["params"])
    if foreign:
        raise ValueError(f"{func}: {foreign} of the optimizer's parameters are not parameters of the model "
                         "(was the optimizer built on another model's parameters?)")


def check_loss(loss, func="fit") -> None:
    if not callable(loss):
        raise TypeError(f"{func}: loss must be a callable (logits, labels) -> scalar Tensor, "
                        f"got {type(loss).__name__}")


def check_options(*, epochs, initial_epoch, eval_batch_size, max_chunk, seed, verbose, perf,
                  flush_denormals, schedule, schedule_interval) -> None:
    """fit's numbers, flags and the schedule."""
    int_arg(epochs, "epochs", 0)
    int_arg(initial_epoch, "initial_epoch", 0)
    int_arg(eval_batch_size, "eval_batch_size", 1)
    int_arg(max_chunk, "max_chunk", 1)
    int_arg(seed, "seed", 0)
    for name, value in (("perf", perf), ("flush_denormals", flush_denormals)):
        if not isinstance(value, bool):
            raise TypeError(f"fit: {name} must be True or False, got {value!r}")
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if schedule_interval not in ("epoch", "step"):
        raise ValueError(f"fit: schedule_interval must be 'epoch' or 'step', got {schedule_interval!r}")
    if schedule is not None and not callable(getattr(schedule, "step", None)):
        raise TypeError(f"fit: schedule must have a step() method, got {type(schedule).__name__}")
    monitor = getattr(schedule, "monitor", None)
    if monitor is not None and schedule_interval != "epoch":
        raise ValueError(f"fit: the schedule {type(schedule).__name__} is stepped with the epoch's {monitor!r}, "
                         f"so schedule_interval must be 'epoch', got {schedule_interval!r}")


def check_schedule_monitor(schedule, val) -> None:
    """A schedule stepped with a validation metric (``monitor="val_loss"``) needs val_data."""
    monitor = getattr(schedule, "monitor", None)
    if isinstance(monitor, str) and monitor.startswith("val_") and val is None:
        raise ValueError(f"fit: the schedule {type(schedule).__name__} monitors {monitor!r}, but no val_data "
                         "was given (give val_data, or monitor='loss')")


# ------------------------------------------------------------------ data
def as_dataset(data, name="data", func="fit"):
    """An ArrayDataset from a dataset or an ``(images, labels)`` pair, checked to be non-empty."""
    if isinstance(data, ArrayDataset):
        dataset = data
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
        n_img, n_lab = len(images), len(labels)
        if n_img != n_lab:
            raise ValueError(f"{func}: {name} has {n_img} images but {n_lab} labels; they must be as many")
        dataset = ArrayDataset(images, labels)
    else:
        raise TypeError(f"{func}: {name} must be a minidl.data.ArrayDataset or an (images, labels) pair, "
                        f"got {type(data).__name__}")
    if len(dataset) == 0:
        raise ValueError(f"{func}: {name} is empty (0 examples)")
    return dataset


def _probe(model, dataset, name, func, loss=None):
    """The model's logits (and the loss) on one example, in eval mode with no graph (eval mode
    leaves the dropout generators untouched).  A model or loss that rejects the dataset's
    images gets its error re-raised naming the dataset's shape."""
    was_training = model.training
    model.eval()
    try:
        x, y = dataset.batch(B.np.arange(1))
        with no_grad():
            logits = model(x)
            value = None if loss is None else loss(logits, y)
    except (ValueError, TypeError) as exc:
        what = "the model" if loss is None else "the loss"
        raise type(exc)(
            f"{func}: {name} holds images of shape {tuple(dataset.image_shape)} "
            f"({len(dataset)} examples, batches of shape (N, {', '.join(map(str, dataset.image_shape))})) "
            f"that {what} does not accept: {exc}"
        ) from exc
    finally:
        model.train(was_training)
    return logits, value


def output_classes(model, dataset, name, func) -> int:
    """Run one example through the model: its number of classes (logits must be (N, classes))."""
    logits, _ = _probe(model, dataset, name, func)
    if logits.ndim != 2:
        raise ValueError(f"{func}: the model must return logits of shape (N, classes), "
                         f"got shape {tuple(logits.shape)} for {name}")
    return int(logits.shape[1])


def check_loss_output(model, dataset, loss, name, func) -> None:
    """The loss of one example is a scalar Tensor."""
    _, value = _probe(model, dataset, name, func, loss)
    if not isinstance(value, Tensor) or value.ndim != 0:
        got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{func}: loss must return a scalar Tensor (the batch's mean loss), got {got}")


def check_labels(dataset, classes, name, func) -> None:
    """All labels in [0, classes): checked once on the host (the loss op skips it on the GPU)."""
    labels = B.to_numpy(dataset.labels)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise ValueError(f"{func}: {name} has labels from {low} to {high}, but the model outputs "
                         f"{classes} classes (labels must be in [0, {classes - 1}])")


def check_batch(batch_size, dataset, drop_last, name, func) -> None:
    int_arg(batch_size, "batch_size", 1, func)
    if drop_last and batch_size > len(dataset):
        raise ValueError(f"{func}: batch_size {batch_size} is larger than the {len(dataset)} examples of "
                         f"{name} and drop_last=True, so an epoch would have no step")


def check_data(model, train_data, val_data, batch_size, drop_last, loss):
    """``(train, val)`` datasets, checked against the model, the loss and the batch settings."""
    train = as_dataset(train_data, "train_data")
    val = None if val_data is None else as_dataset(val_data, "val_data")
    check_batch(batch_size, train, drop_last, "train_data", "fit")
    classes = output_classes(model, train, "train_data", "fit")
    check_labels(train, classes, "train_data", "fit")
    check_loss_output(model, train, loss, "train_data", "fit")
    if val is not None:
        val_classes = output_classes(model, val, "val_data", "fit")
        if val_classes != classes:  # pragma: no cover - a model whose output depends on the input size
            raise ValueError(f"fit: the model gives {classes} outputs on train_data but {val_classes} on val_data")
        check_labels(val, classes, "val_data", "fit")
    return train, val


# ------------------------------------------------------------ checkpoints
def check_checkpoint_options(checkpoint_path, resume, history) -> None:
    if resume and checkpoint_path is None:
        raise ValueError("fit: resume=True needs checkpoint_path")
    if resume and history is not None:
        raise ValueError("fit: pass either history (to continue it by hand) or resume=True (which "
                         "continues the checkpoint's history), not both")


def checkpoint_exists(path) -> bool:
    """Whether a checkpoint file is at ``path``: False only when nothing at all is there.

    A path that is there but cannot be read as a file is a ValueError naming it: a
    folder, a symlink loop, a link to a missing file, a path that may not be looked at
    (no permission), or something other than a regular file.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise ValueError(f"fit: checkpoint_path {path} is a symbolic link to a missing file") from None
        return False
    except OSError as exc:
        raise ValueError(f"fit: checkpoint_path {path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"fit: checkpoint_path {path} is a folder; give the path of a file in it")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"fit: checkpoint_path {path} is not a regular file")
    return True


def check_checkpoint_path(path) -> str:
    """The path as a string, checked before the first epoch: not a folder, in a folder that
    exists and where a file can be created (a temporary file is made and removed there)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"fit: checkpoint_path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"fit: checkpoint_path {path} is a folder; give the path of a file in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"fit: the folder of checkpoint_path {path} does not exist ({folder}); create it first")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise ValueError(f"fit: cannot write checkpoint_path {path}: no file can be created in {folder} "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return path
