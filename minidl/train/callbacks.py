"""Callbacks: hooks that ``fit`` calls at fixed points of training.

The order within one epoch ``e`` is::

    on_epoch_begin(e)
    on_step_end(step, loss)       # after each optimizer step; step counts from 0 over the whole run
    ... evaluation, History row appended, schedule stepped, checkpoint written ...
    on_epoch_end(e, logs)         # logs = history.row(): the epoch's losses, accuracies, lr, times

framed by ``on_train_begin()`` and ``on_train_end(history)``.  Before
``on_train_begin`` fit calls ``set_context(model, optimizer, history)``, so a
callback can read (not replace) them.  A callback that sets
``self.stop_training = True`` ends training after the current step.

Example, recording every loss and stopping on divergence::

    class Recorder(Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_step_end(self, step, loss):
            self.losses.append(loss)
            if not math.isfinite(loss):
                self.stop_training = True
"""
from __future__ import annotations


class Callback:
    def __init__(self):
        self.stop_training = False
        self.model = self.optimizer = self.history = None

    def set_context(self, model, optimizer, history) -> None:
        self.model, self.optimizer, self.history = model, optimizer, history

    def on_train_begin(self) -> None:
        pass

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_step_end(self, step: int, loss: float) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, history) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_step_end=lambda step, loss: ...)``."""

    _HOOKS = ("on_train_begin", "on_epoch_begin", "on_step_end", "on_epoch_end", "on_train_end")

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {unknown}; accepted: {list(self._HOOKS)}")
        for name, fn in hooks.items():
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)


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
