"""fit and evaluate: the training loop, its checks, its timing and its progress output.

One training step, exactly as the loop runs it::

    optimizer.zero_grad()
    loss = ops.softmax_cross_entropy(model(x), y)    # mean over the batch
    loss.backward()
    optimizer.step()

The step loss is read back to the host (one sync per step, needed for the
per-step loss); the count of correct predictions stays on the device until the
epoch ends.  A schedule given to ``fit`` is stepped once per epoch, after the
evaluation (``schedule_interval="step"``: once after every optimizer step).
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import NamedTuple

from minidl import backend as B
from minidl import cpu
from minidl import ops
from minidl.data import ArrayDataset, DataLoader
from minidl.nn.module import Module
from minidl.optim.optimizer import Optimizer
from minidl.tensor import no_grad
from minidl.train.callbacks import check_callbacks
from minidl.train.checkpoint import load_checkpoint, save_checkpoint
from minidl.train.history import History


class EvalResult(NamedTuple):
    """``evaluate``'s answer: mean loss over the examples, and the fraction classified right."""

    loss: float
    accuracy: float


# ------------------------------------------------------------------ checks
def _int_arg(value, name, low, func="fit"):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{func}: {name} must be an int >= {low}, got {value!r}")
    return value


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


def _output_classes(model, dataset, name, func):
    """Run one example through the model (eval mode, no graph): its number of classes.

    A model that rejects the dataset's images gets its error re-raised naming
    the dataset's shape.  Eval mode leaves the dropout generators untouched.
    """
    was_training = model.training
    model.eval()
    try:
        x, _ = dataset.batch(B.np.arange(1))
        with no_grad():
            logits = model(x)
    except (ValueError, TypeError) as exc:
        raise type(exc)(
            f"{func}: {name} holds images of shape {tuple(dataset.image_shape)} "
            f"({len(dataset)} examples, batches of shape (N, {', '.join(map(str, dataset.image_shape))})) "
            f"that the model does not accept: {exc}"
        ) from exc
    finally:
        model.train(was_training)
    if logits.ndim != 2:
        raise ValueError(f"{func}: the model must return logits of shape (N, classes), "
                         f"got shape {tuple(logits.shape)} for {name}")
    return int(logits.shape[1])


def _check_labels(dataset, classes, name, func):
    """All labels in [0, classes): checked once on the host (the loss op skips it on the GPU)."""
    labels = B.to_numpy(dataset.labels)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise ValueError(f"{func}: {name} has labels from {low} to {high}, but the model outputs "
                         f"{classes} classes (labels must be in [0, {classes - 1}])")


def _check_batch(batch_size, dataset, drop_last, name, func):
    _int_arg(batch_size, "batch_size", 1, func)
    if drop_last and batch_size > len(dataset):
        raise ValueError(f"{func}: batch_size {batch_size} is larger than the {len(dataset)} examples of "
                         f"{name} and drop_last=True, so an epoch would have no step")


# ---------------------------------------------------------------- evaluate
def _evaluate(model, dataset, batch_size) -> EvalResult:
    was_training = model.training
    model.eval()
    means, corrects, sizes = [], [], []
    try:
        with no_grad():
            for x, y in DataLoader(dataset, batch_size, shuffle=False):
                logits = model(x)
                means.append(ops.softmax_cross_entropy(logits, y).data)
                corrects.append((logits.data.argmax(axis=1) == y).sum())
                sizes.append(y.shape[0])
    finally:
        model.train(was_training)
    xp = B.get_array_module(means[0])
    means = B.to_numpy(xp.stack(means)).astype(B.np.float64)   # one device-to-host copy
    correct = int(B.to_numpy(xp.stack(corrects)).sum())
    n = sum(sizes)
    return EvalResult(float((means * B.np.asarray(sizes, dtype=B.np.float64)).sum() / n), correct / n)


def evaluate(model, data, batch_size: int = 256) -> EvalResult:
    """Mean loss and accuracy of ``model`` on ``data``, in eval mode (dropout off), with no graph kept.

    ``data``: an ArrayDataset or an ``(images, labels)`` pair.  The model's
    train/eval mode is restored afterwards.  Returns ``EvalResult(loss, accuracy)``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"evaluate: model must be a minidl.nn.Module, got {type(model).__name__}")
    dataset = as_dataset(data, "data", "evaluate")
    _int_arg(batch_size, "batch_size", 1, "evaluate")
    _check_labels(dataset, _output_classes(model, dataset, "data", "evaluate"), "data", "evaluate")
    return _evaluate(model, dataset, batch_size)


# --------------------------------------------------------------------- fit
def _format_row(row, epochs, desc):
    head = f"{desc} " if desc else ""
    text = (f"{head}Epoch {row['epoch'] + 1}/{epochs} - loss {row['train_loss']:.4f} - "
            f"acc {row['train_acc']:.4f}")
    if row["val_loss"] is not None:
        text += f" - val_loss {row['val_loss']:.4f} - val_acc {row['val_acc']:.4f}"
    text += f" - {row['train_seconds']:.1f}s train"
    if row["val_loss"] is not None:
        text += f", {row['eval_seconds']:.1f}s eval"
    return text


def _loader_state(seed, shuffle, batch_size, drop_last, dataset):
    return {"seed": seed, "shuffle": shuffle, "batch_size": batch_size, "drop_last": drop_last,
            "num_examples": len(dataset), "image_shape": list(dataset.image_shape)}


def _batch_len(indices) -> int:
    if isinstance(indices, slice):
        return indices.stop - indices.start
    return len(indices)


def _accumulate_chunks(model, dataset, indices, n, max_chunk):
    """Forward and backward one large batch in chunks of at most ``max_chunk`` examples.

    The batch's loss is the mean over its ``n`` examples, so each chunk's mean
    loss is weighted by ``n_chunk / n`` before its backward; the gradients add
    up in ``.grad`` to the gradient of the whole batch.  Returns the batch's
    mean loss (a float) and its count of correct predictions.
    """
    value, correct = 0.0, 0
    for start in range(0, n, max_chunk):
        if isinstance(indices, slice):
            part = slice(indices.start + start, min(indices.start + start + max_chunk, indices.stop))
        else:
            part = indices[start:start + max_chunk]
        x, y = dataset.batch(part)
        logits = model(x)
        loss = ops.softmax_cross_entropy(logits, y)
        weight = y.shape[0] / n
        (loss * weight).backward()
        correct += (logits.data.argmax(axis=1) == y).sum()
        value += float(loss.data) * weight
    return value, correct


def fit(model, optimizer, train_data, val_data=None, epochs: int = 1, batch_size: int = 32, *,
        callbacks=None, schedule=None, schedule_interval: str = "epoch", seed: int = 0,
        shuffle: bool = True, drop_last: bool = False, verbose: int = 1, initial_epoch: int = 0,
        history: History | None = None, checkpoint_path=None, resume: bool = False,
        eval_batch_size: int = 256, max_chunk: int = 512, progress_desc: str | None = None,
        flush_denormals: bool = True) -> History:
    """Train ``model`` with ``optimizer`` on ``train_data`` for epochs ``initial_epoch .. epochs-1``.

    ``train_data`` / ``val_data``: ArrayDataset or ``(images, labels)`` pairs
    (``val_data`` may be None).  The training order of epoch ``e`` is
    ``DataLoader(train_data, batch_size, shuffle, seed, drop_last)`` at
    ``set_epoch(e)``: a pure function of ``(seed, e)``, so a resumed run sees
    the same batches as an uninterrupted one.

    ``verbose``: 0 silent; 1 a tqdm progress bar per epoch (on stderr) with the
    running loss and accuracy; 2 one line per epoch (on stdout).
    ``schedule``: an lr schedule, stepped once per epoch (``schedule_interval=
    "step"``: after every optimizer step).
    ``checkpoint_path``: written (atomically) after every completed epoch with
    the model, optimizer, schedule, dropout generators, loader settings, epoch
    and History.  ``resume=True``: if that file exists, restore it and go on
    from its epoch (its History is continued); if not, start afresh.
    ``history``: a History to continue (``initial_epoch`` must be its last
    epoch + 1), appended to in place.  Returns the History.
    ``max_chunk``: a batch larger than this is run forward and backward in
    chunks of at most ``max_chunk`` examples whose gradients add up to the
    batch's (gradient accumulation), so full-batch GD (``batch_size=len(data)``)
    needs the memory of one chunk, not of the whole set; the update is still
    one optimizer step per batch.
    A callback that sets ``stop_training`` ends the run after that step; the
    partial epoch gets its History row but no checkpoint.  A NaN or Inf gradient
    stops training with the optimizer's FloatingPointError.

    Before training, fit checks the arguments, runs one example of each
    dataset through the model (so a wrong image shape fails at once, naming the
    dataset's shape) and checks every label against the model's classes.

    ``flush_denormals``: train with the CPU's flush-to-zero/denormals-are-zero modes
    on (``minidl.cpu.flush_denormals``; as TensorFlow does by default): numbers below
    ~1.2e-38 count as zero instead of slowing each operation on them 10-100 times.
    False keeps IEEE subnormal arithmetic.  The modes are restored when fit returns.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a minidl.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be a minidl.optim.Optimizer, got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    foreign = sum(id(p) not in own for g in optimizer.param_groups for p in g["params"])
    if foreign:
        raise ValueError(f"fit: {foreign} of the optimizer's parameters are not parameters of the model "
                         "(was the optimizer built on another model's parameters?)")
    _int_arg(epochs, "epochs", 0)
    _int_arg(initial_epoch, "initial_epoch", 0)
    _int_arg(eval_batch_size, "eval_batch_size", 1)
    _int_arg(max_chunk, "max_chunk", 1)
    _int_arg(seed, "seed", 0)
    if not isinstance(flush_denormals, bool):
        raise TypeError(f"fit: flush_denormals must be True or False, got {flush_denormals!r}")
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if schedule_interval not in ("epoch", "step"):
        raise ValueError(f"fit: schedule_interval must be 'epoch' or 'step', got {schedule_interval!r}")
    if schedule is not None and not callable(getattr(schedule, "step", None)):
        raise TypeError(f"fit: schedule must have a step() method, got {type(schedule).__name__}")
    if resume and checkpoint_path is None:
        raise ValueError("fit: resume=True needs checkpoint_path")
    if resume and history is not None:
        raise ValueError("fit: pass either history (to continue it by hand) or resume=True (which "
                         "continues the checkpoint's history), not both")
    callbacks = check_callbacks(callbacks)
    train = as_dataset(train_data, "train_data")
    val = None if val_data is None else as_dataset(val_data, "val_data")
    _check_batch(batch_size, train, drop_last, "train_data", "fit")
    classes = _output_classes(model, train, "train_data", "fit")
    _check_labels(train, classes, "train_data", "fit")
    if val is not None:
        val_classes = _output_classes(model, val, "val_data", "fit")
        if val_classes != classes:  # pragma: no cover - a model whose output depends on the input size
            raise ValueError(f"fit: the model gives {classes} outputs on train_data but {val_classes} on val_data")
        _check_labels(val, classes, "val_data", "fit")

    loader_state = _loader_state(seed, shuffle, batch_size, drop_last, train)
    if resume and os.path.exists(checkpoint_path):
        ckpt = load_checkpoint(checkpoint_path, model, optimizer, schedule)
        saved = ckpt.loader_state or {}
        differ = [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in loader_state.items()
                  if saved.get(k) != v]
        if differ:
            raise ValueError(f"fit: cannot resume from {checkpoint_path}, the run's settings differ: "
                             + "; ".join(differ))
        if initial_epoch not in (0, ckpt.epoch):
            raise ValueError(f"fit: initial_epoch={initial_epoch} but {checkpoint_path} is at epoch {ckpt.epoch}")
        initial_epoch = ckpt.epoch
        history = ckpt.history if ckpt.history is not None else History()
    if history is None:
        history = History()
    elif not isinstance(history, History):
        raise TypeError(f"fit: history must be a minidl.train.History, got {type(history).__name__}")
    elif len(history) and history.epoch[-1] != initial_epoch - 1:
        raise ValueError(f"fit: the given history ends at epoch {history.epoch[-1]}, "
                         f"so initial_epoch must be {history.epoch[-1] + 1}, got {initial_epoch}")
    if initial_epoch > epochs:
        raise ValueError(f"fit: initial_epoch {initial_epoch} is past epochs {epochs}")

    loader = DataLoader(train, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    steps = len(loader)
    step_schedule = schedule if schedule_interval == "step" else None
    step_loss = history.step_loss
    for cb in callbacks:
        cb.set_context(model, optimizer, history)
        cb.on_train_begin()
    with cpu.flush_denormals(flush_denormals):   # see minidl.cpu: subnormal floats are slow
        stop = False
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            loader.set_epoch(epoch)
            lr = optimizer.param_groups[0].get("lr")
            lr = None if lr is None else float(lr)
            bar = None
            if verbose == 1:
                from tqdm.auto import tqdm

                desc = f"{progress_desc} {epoch + 1}/{epochs}" if progress_desc else f"Epoch {epoch + 1}/{epochs}"
                bar = tqdm(total=steps, desc=desc, unit="step", file=sys.stderr, leave=True)
            model.train()
            loss_sum, seen, correct, n_steps = 0.0, 0, 0, 0
            B.synchronize()
            start = time.perf_counter()
            for indices in loader.index_batches():
                optimizer.zero_grad()
                n = _batch_len(indices)
                if n <= max_chunk:
                    x, y = train.batch(indices)
                    logits = model(x)
                    loss = ops.softmax_cross_entropy(logits, y)
                    loss.backward()
                    correct += (logits.data.argmax(axis=1) == y).sum()   # stays on the device
                    value = float(loss.data)                              # the one host sync of the step
                else:
                    value, chunk_correct = _accumulate_chunks(model, train, indices, n, max_chunk)
                    correct += chunk_correct
                optimizer.step()
                if step_schedule is not None:
                    step_schedule.step()
                loss_sum += value * n
                seen += n
                n_steps += 1
                step_loss.append(value)
                if bar is not None:
                    bar.set_postfix({"loss": f"{loss_sum / seen:.4f}", "acc": f"{int(correct) / seen:.4f}"},
                                    refresh=False)
                    bar.update(1)
                if callbacks:
                    step = len(step_loss) - 1
                    for cb in callbacks:
                        cb.on_step_end(step, value)
                    if any(cb.stop_training for cb in callbacks):
                        stop = True
                        break
            B.synchronize()
            train_seconds = time.perf_counter() - start
            train_acc = int(correct) / seen if seen else math.nan

            val_loss = val_acc = None
            eval_seconds = 0.0
            if val is not None:
                start = time.perf_counter()
                val_loss, val_acc = _evaluate(model, val, eval_batch_size)
                B.synchronize()
                eval_seconds = time.perf_counter() - start
            history.append_epoch(epoch=epoch, train_loss=loss_sum / seen if seen else math.nan,
                                 train_acc=train_acc, val_loss=val_loss, val_acc=val_acc, lr=lr,
                                 train_seconds=train_seconds, eval_seconds=eval_seconds)
            history.steps_per_epoch.append(n_steps)
            row = history.row()
            if bar is not None:
                post = {"loss": f"{row['train_loss']:.4f}", "acc": f"{row['train_acc']:.4f}"}
                if val_loss is not None:
                    post.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.4f}")
                bar.set_postfix(post, refresh=True)
                bar.close()
            elif verbose == 2:
                print(_format_row(row, epochs, progress_desc), flush=True)
            if schedule is not None and schedule_interval == "epoch":
                schedule.step()
            if checkpoint_path is not None and not stop:   # a partial epoch cannot be resumed
                save_checkpoint(checkpoint_path, model, optimizer, schedule, epoch=epoch + 1,
                                history=history, loader_state=loader_state)
            for cb in callbacks:
                cb.on_epoch_end(epoch, row)
            if stop or any(cb.stop_training for cb in callbacks):
                break
        for cb in callbacks:
            cb.on_train_end(history)
    return history
