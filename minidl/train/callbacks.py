"""Callbacks: hooks that ``fit`` calls at fixed points of training, under Keras's names.

The order of one run::

    on_train_begin()
    on_epoch_begin(e)
        on_train_batch_begin(batch, logs)     # batch: index within the epoch, from 0
        ... one training step (forward, backward, optimizer.step()) ...
        on_train_batch_end(batch, logs)       # logs: the epoch's running "loss" and "accuracy", and "lr"
        on_step_end(step, loss)               # step: index over the whole run; loss: this step's loss
        ...
        ... evaluation, History row appended ...
    on_epoch_end(e, logs)                     # logs: see below
    ...
    on_train_end(history)

``on_epoch_end``'s ``logs`` holds the Keras keys ``loss``, ``accuracy``, ``val_loss``,
``val_accuracy`` (None without validation data), minidl's ``lr`` (of the first param group
when the epoch began) and ``seconds`` (train + eval), and the History row's names
(``train_loss``, ``train_acc``, ``val_acc``, ``train_seconds``, ``eval_seconds``, ``epoch``).

Before ``on_train_begin`` fit calls ``set_context(model, optimizer, history)`` and
``set_params({"epochs", "steps", "verbose"})``: a callback reads ``self.model`` (the model
given to fit), ``self.optimizer``, ``self.history`` and ``self.params``.  Either
``self.stop_training = True`` or, as in Keras, ``self.model.stop_training = True`` ends
training after the current step (fit sets ``model.stop_training = False`` when it starts).

fit's own progress bar, per-epoch printing, lr schedule and checkpoints are callbacks too
(``minidl.train.builtin``), run before the user's in that order.

Example, recording every loss and stopping at the first loss above 10::

    class Recorder(Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_step_end(self, step, loss):
            self.losses.append(loss)
            if loss > 10:
                self.model.stop_training = True
"""
from __future__ import annotations

HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
         "on_step_end", "on_epoch_end", "on_train_end")


class Callback:
    def __init__(self):
        self.stop_training = False
        self.model = self.optimizer = self.history = None
        self.params = {}

    def set_context(self, model, optimizer, history) -> None:
        self.model, self.optimizer, self.history = model, optimizer, history

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        pass

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        pass

    def on_step_end(self, step: int, loss: float) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass

    def on_train_end(self, history) -> None:
        pass

    def on_abort(self) -> None:
        """Called instead of ``on_train_end`` when an exception leaves fit (to close a progress bar...)."""


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_step_end=lambda step, loss: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(HOOKS))
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {unknown}; accepted: {list(HOOKS)}")
        for name, fn in hooks.items():
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)


def _overrides(callback, hook: str) -> bool:
    """True when ``callback`` does something in ``hook`` (its class or the instance defines it)."""
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """The callbacks of one fit, called in order; builds a step's ``logs`` only when one reads them
    (the running accuracy is a device-to-host read on the GPU)."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        self.model = model
        self._batch_logs = any(_overrides(cb, "on_train_batch_end") for cb in self.callbacks)

    def setup(self, model, optimizer, history, params) -> None:
        for cb in self.callbacks:
            cb.set_context(model, optimizer, history)
            cb.set_params(params)

    def on_train_begin(self) -> None:
        for cb in self.callbacks:
            cb.on_train_begin()

    def on_epoch_begin(self, epoch) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch)

    def on_train_batch_begin(self, batch) -> None:
        for cb in self.callbacks:
            cb.on_train_batch_begin(batch)

    def on_train_batch_end(self, batch, step, loss, totals, lr) -> None:
        """After a step: ``on_train_batch_end(batch, logs)`` then ``on_step_end(step, loss)`` of each."""
        logs = totals.logs(lr) if self._batch_logs else None
        for cb in self.callbacks:
            cb.on_train_batch_end(batch, logs)
            cb.on_step_end(step, loss)

    def on_epoch_end(self, epoch, logs) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, history) -> None:
        for cb in self.callbacks:
            cb.on_train_end(history)

    def on_abort(self) -> None:
        for cb in self.callbacks:
            cb.on_abort()

    def stop_requested(self) -> bool:
        """A callback set ``self.stop_training`` or ``self.model.stop_training``."""
        return (getattr(self.model, "stop_training", False) is True
                or any(getattr(cb, "stop_training", False) is True for cb in self.callbacks))


def check_callbacks(callbacks) -> list:
    """The callbacks as a list, each checked to be a Callback."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks[{i}] must be a minidl.train.Callback, got {type(cb).__name__}")
    return callbacks
