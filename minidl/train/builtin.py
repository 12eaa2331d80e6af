"""fit's own callbacks: the progress bar, per-epoch printing, the lr schedule, checkpoints.

``fit`` assembles them from its arguments (``verbose``, ``schedule``, ``checkpoint_path``)
and runs them before the user's callbacks, in the order ProgressBar or EpochPrinter,
ScheduleStepper, ModelCheckpoint: at the end of an epoch the bar closes (or the line is
printed), the schedule steps, the checkpoint is written, then the user's ``on_epoch_end``
runs (a checkpoint exists when it does).  Each can also be passed to fit by hand.
"""
from __future__ import annotations

import sys
import time

from minidl.train.callbacks import Callback
from minidl.train.checkpoint import save_checkpoint


def _epoch_label(desc, epoch, epochs) -> str:
    return f"{desc} {epoch + 1}/{epochs}" if desc else f"Epoch {epoch + 1}/{epochs}"


class ProgressBar(Callback):
    """``verbose=1``: a tqdm bar per epoch on stderr, with the running loss and accuracy
    (read at most every ``REFRESH_SECONDS``: reading the accuracy synchronises a GPU), and the
    validation loss and accuracy when the epoch ends."""

    REFRESH_SECONDS = 0.5

    def __init__(self, desc: str | None = None):
        super().__init__()
        self.desc = desc
        self._bar = None
        self._shown = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm.auto import tqdm   # imported when a bar is first shown

        self._bar = tqdm(total=self.params["steps"], desc=_epoch_label(self.desc, epoch, self.params["epochs"]),
                         unit="step", file=sys.stderr, leave=True)

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self._shown >= self.REFRESH_SECONDS or batch + 1 == self.params["steps"]:
            self._bar.set_postfix({"loss": f"{logs['loss']:.4f}", "acc": f"{logs['accuracy']:.4f}"}, refresh=False)
            self._shown = now
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        post = {"loss": f"{logs['loss']:.4f}", "acc": f"{logs['accuracy']:.4f}"}
        if logs["val_loss"] is not None:
            post.update(val_loss=f"{logs['val_loss']:.4f}", val_acc=f"{logs['val_accuracy']:.4f}")
        self._bar.set_postfix(post, refresh=True)
        self.on_abort()

    def on_abort(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def format_epoch(logs, epochs, desc=None) -> str:
    """``"[desc ]Epoch 3/10 - loss 0.1234 - acc 0.9650 - val_loss ... - 1.2s train, 0.3s eval"``."""
    head = f"{desc} " if desc else ""
    text = f"{head}Epoch {logs['epoch'] + 1}/{epochs} - loss {logs['loss']:.4f} - acc {logs['accuracy']:.4f}"
    if logs["val_loss"] is not None:
        text += f" - val_loss {logs['val_loss']:.4f} - val_acc {logs['val_accuracy']:.4f}"
    text += f" - {logs['train_seconds']:.1f}s train"
    if logs["val_loss"] is not None:
        text += f", {logs['eval_seconds']:.1f}s eval"
    return text


class EpochPrinter(Callback):
    """``verbose=2``: one line per epoch on stdout (see :func:`format_epoch`)."""

    def __init__(self, desc: str | None = None):
        super().__init__()
        self.desc = desc

    def on_epoch_end(self, epoch, logs=None):
        print(format_epoch(logs, self.params["epochs"], self.desc), flush=True)


class ScheduleStepper(Callback):
    """Steps an lr schedule once per epoch, after the evaluation (``interval="epoch"``), or
    once after every optimizer step (``interval="step"``).

    A schedule with a ``monitor`` attribute (``ReduceLROnPlateau``) is stepped once per epoch
    with that entry of the epoch's logs (``schedule.step(logs["val_loss"])`` by default)."""

    def __init__(self, schedule, interval: str = "epoch"):
        super().__init__()
        if interval not in ("epoch", "step"):
            raise ValueError(f"ScheduleStepper: interval must be 'epoch' or 'step', got {interval!r}")
        self.monitor = getattr(schedule, "monitor", None)
        if self.monitor is not None and interval != "epoch":
            raise ValueError(f"ScheduleStepper: {type(schedule).__name__} is stepped with the epoch's "
                             f"{self.monitor!r}, so interval must be 'epoch', got {interval!r}")
        self.schedule, self.interval = schedule, interval

    def on_step_end(self, step, loss):
        if self.interval == "step":
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.interval != "epoch":
            return
        if self.monitor is None:
            self.schedule.step()
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"ScheduleStepper: {type(self.schedule).__name__} monitors {self.monitor!r}, "
                             f"which epoch {epoch}'s logs do not hold (they hold {sorted(logs or {})}; "
                             "'val_' entries need val_data)")
        self.schedule.step(value)


class ModelCheckpoint(Callback):
    """Writes a checkpoint (``save_checkpoint``, atomic) to ``path`` after every completed
    epoch: the model, optimizer and ``schedule`` given to fit, the dropout generators,
    ``loader_state``, the epoch count and the History.  An epoch cut short by
    ``stop_training`` is not saved (it could not be resumed exactly)."""

    def __init__(self, path, schedule=None, loader_state=None):
        super().__init__()
        self.path, self.schedule, self.loader_state = path, schedule, loader_state

    def on_epoch_end(self, epoch, logs=None):
        if self.history.steps_per_epoch[-1] < self.params["steps"]:
            return
        save_checkpoint(self.path, self.model, self.optimizer, self.schedule, epoch=epoch + 1,
                        history=self.history, loader_state=self.loader_state)


def builtin_callbacks(verbose, progress_desc, schedule, schedule_interval, checkpoint_path,
                      loader_state) -> list:
    """fit's own callbacks for its arguments, in the order they run."""
    out = []
    if verbose == 1:
        out.append(ProgressBar(progress_desc))
    elif verbose == 2:
        out.append(EpochPrinter(progress_desc))
    if schedule is not None:
        out.append(ScheduleStepper(schedule, schedule_interval))
    if checkpoint_path is not None:
        out.append(ModelCheckpoint(checkpoint_path, schedule, loader_state))
    return out
