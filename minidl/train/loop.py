"""The epoch loop of fit: epochs of training steps, each followed by an evaluation and a History row.

::

    callbacks.on_train_begin();  optimizer.train()
    for epoch in initial_epoch .. epochs-1:
        on_epoch_begin(epoch)
        for each batch of the loader at set_epoch(epoch):
            train_step(...)                      # minidl.train.step
            on_train_batch_end / on_step_end     # stop_training ends the epoch here
        optimizer.eval();  evaluate on val_data;  optimizer.train()
        History row;  on_epoch_end(epoch, logs)  # progress, schedule, checkpoint, the user's
    on_train_end(history)

Times are taken after ``backend.synchronize()``, the training steps and the evaluation
apart.  A NaN or Inf loss, or an optimizer's FloatingPointError, raises ``Diverged``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from minidl import backend as B
from minidl.train.errors import Diverged, NonFiniteStep
from minidl.train.evaluation import evaluate_dataset
from minidl.train.step import train_step


@dataclass
class TrainingRun:
    """What the loop trains and records; fit assembles it.

    ``model`` / ``optimizer``: the user's (the lr is read from it, callbacks and
    checkpoints see them); ``train_model`` / ``train_optimizer``: what the steps and the
    evaluation run, the same objects or the speed layer's equivalents over the same
    Parameters and state.
    """

    model: object
    optimizer: object
    train_model: object
    train_optimizer: object
    train: object
    val: object
    loader: object
    loss: object
    max_chunk: int
    eval_batch_size: int
    history: object
    initial_epoch: int
    epochs: int


class EpochTotals:
    """Running sums of one epoch: loss weighted by batch size, examples, correct (on the device), steps."""

    def __init__(self):
        self.loss_sum, self.seen, self.correct, self.steps = 0.0, 0, 0, 0

    def add(self, result) -> None:
        self.loss_sum += result.loss * result.size
        self.seen += result.size
        self.correct = self.correct + result.correct
        self.steps += 1

    def loss(self) -> float:
        return self.loss_sum / self.seen if self.seen else math.nan

    def accuracy(self) -> float:
        return int(self.correct) / self.seen if self.seen else math.nan   # a device read on the GPU

    def logs(self, lr) -> "StepLogs":
        """A step's ``logs``: the epoch's running ``loss`` and ``accuracy`` so far, and ``lr``."""
        return StepLogs(self, lr)


class StepLogs(Mapping):
    """A step's logs, read-only: ``loss``, ``accuracy`` and ``lr``.  The running accuracy is
    counted on the device; it is read back (one synchronisation on the GPU) only when a
    callback asks for it, as the progress bar does at most a few times a second."""

    KEYS = ("loss", "accuracy", "lr")

    def __init__(self, totals, lr):
        self._totals, self._lr = totals, lr

    def __getitem__(self, key):
        if key == "loss":
            return self._totals.loss()
        if key == "accuracy":
            return self._totals.accuracy()
        if key == "lr":
            return self._lr
        raise KeyError(key)

    def __iter__(self):
        return iter(self.KEYS)

    def __len__(self):
        return len(self.KEYS)

    def __repr__(self):
        return f"StepLogs(loss={self['loss']!r}, lr={self._lr!r})"


def first_lr(optimizer):
    lr = optimizer.param_groups[0].get("lr")
    return None if lr is None else float(lr)


def train_epoch(run: TrainingRun, epoch: int, callbacks) -> EpochTotals:
    """The epoch's training steps; stops early when a callback asks."""
    run.loader.set_epoch(epoch)
    run.train_model.train()
    totals = EpochTotals()
    for batch, indices in enumerate(run.loader.index_batches()):
        callbacks.on_train_batch_begin(batch)
        step = len(run.history.step_loss)
        lr = first_lr(run.optimizer)
        try:
            result = train_step(run.train_model, run.train_optimizer, run.train, indices, run.loss, run.max_chunk)
        except NonFiniteStep as exc:
            run.history.step_loss.append(exc.loss)
            raise Diverged(step, epoch, exc.what, run.history, exc.loss) from exc.__cause__
        run.history.step_loss.append(result.loss)
        totals.add(result)
        callbacks.on_train_batch_end(batch, step, result.loss, totals, lr)
        if callbacks.stop_requested():
            break
    return totals


def finish_epoch(run: TrainingRun, epoch: int, lr, totals: EpochTotals, train_seconds: float) -> dict:
    """Evaluate (between ``optimizer.eval()`` and ``optimizer.train()``), append the History row;
    return the epoch's logs."""
    val_loss = val_acc = None
    eval_seconds = 0.0
    if run.val is not None:
        start = time.perf_counter()
        run.train_optimizer.eval()
        try:
            val_loss, val_acc = evaluate_dataset(run.train_model, run.val, run.eval_batch_size, run.loss)
        finally:
            run.train_optimizer.train()
        B.synchronize()
        eval_seconds = time.perf_counter() - start
    run.history.append_epoch(epoch=epoch, train_loss=totals.loss(), train_acc=totals.accuracy(),
                             val_loss=val_loss, val_acc=val_acc, lr=lr,
                             train_seconds=train_seconds, eval_seconds=eval_seconds)
    run.history.steps_per_epoch.append(totals.steps)
    return run.history.logs()


def run_epochs(run: TrainingRun, callbacks) -> None:
    """Epochs ``run.initial_epoch .. run.epochs - 1`` with their callbacks (see the module docstring)."""
    callbacks.on_train_begin()
    run.train_optimizer.train()
    try:
        for epoch in range(run.initial_epoch, run.epochs):
            callbacks.on_epoch_begin(epoch)
            lr = first_lr(run.optimizer)
            B.synchronize()
            start = time.perf_counter()
            totals = train_epoch(run, epoch, callbacks)
            B.synchronize()
            logs = finish_epoch(run, epoch, lr, totals, time.perf_counter() - start)
            callbacks.on_epoch_end(epoch, logs)
            if callbacks.stop_requested():
                break
    except BaseException:
        callbacks.on_abort()
        raise
    callbacks.on_train_end(run.history)
