"""WeightAveraging: fit keeps an average of the weights (Keras's ``use_ema``, torch's AveragedModel / SWA).

See :class:`WeightAveraging` for what it does, its arguments, and how its average is saved.
"""
from __future__ import annotations

import json
import os

from minidl import backend as B
from minidl.fileio import atomic_writer
from minidl.optim.averaging import AVERAGES, AveragedParameters
from minidl.train.callbacks import Callback

FORMAT = "minidl-weight-average"


def _check(momentum, average, interval, start, overwrite_frequency, evaluate_average, swap_at_end, path):
    name = "WeightAveraging"
    if not isinstance(momentum, (int, float)) or isinstance(momentum, bool) or not 0 <= momentum <= 1:
        raise ValueError(f"{name}: momentum must be a number in [0, 1], got {momentum!r}")
    if average not in AVERAGES:
        raise ValueError(f"{name}: average must be one of {', '.join(map(repr, AVERAGES))}, got {average!r}")
    if interval not in ("step", "epoch"):
        raise ValueError(f"{name}: interval must be 'step' or 'epoch', got {interval!r}")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"{name}: start must be an integer >= 0, got {start!r}")
    if overwrite_frequency is not None:
        if isinstance(overwrite_frequency, bool) or not isinstance(overwrite_frequency, int) \
                or overwrite_frequency < 1:
            raise ValueError(f"{name}: overwrite_frequency must be an integer >= 1 or None, "
                             f"got {overwrite_frequency!r}")
        if interval != "step":
            raise ValueError(f"{name}: overwrite_frequency counts steps, so it needs interval='step', "
                             f"got interval={interval!r}")
    for flag, value in (("evaluate_average", evaluate_average), ("swap_at_end", swap_at_end)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: {flag} must be True or False, got {value!r}")
    if path is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise ValueError(f"{name}: the folder of path {os.fspath(path)!r} does not exist")


class WeightAveraging(Callback):
    r"""An average of the model's weights kept during fit (Keras's ``use_ema``, torch's AveragedModel / SWA)::

        from minidl.train import WeightAveraging, fit
        history = fit(model, opt, train, test, epochs=10, callbacks=[WeightAveraging(momentum=0.99)])
        # the model now holds the exponential moving average of its weights

    The average is :class:`minidl.optim.averaging.AveragedParameters` (its docstring has the rule and
    what Keras and torch call it), of the model's parameters, updated after every optimizer step
    (``interval="step"``, Keras's and torch's EMA) or after every completed epoch (``"epoch"``, SWA's
    habit), from step or epoch ``start`` on (counted over the whole run, a resumed one included),
    with ``momentum`` (Keras's ``ema_momentum``, torch's ``decay``) and ``average`` ``"ema"`` or
    ``"equal"``.  ``callback.average`` is that AveragedParameters (rebuilt when a fit starts).

    * ``overwrite_frequency=k`` (Keras's ``ema_overwrite_frequency``, with ``interval="step"``):
      after every ``k``-th step of the run the average is copied into the weights, and training
      goes on from there.
    * ``evaluate_average=True``: each of fit's evaluations (``val_loss``, ``val_accuracy``) is of
      the average; the weights go back before training goes on.  fit calls the optimizer's
      ``eval()`` before an evaluation and ``train()`` after it; the callback hooks both for the run
      (instance attributes, removed when fit ends, as ``minidl.perf`` wraps ``update``).
    * ``swap_at_end=True`` (the default, as Keras's ``fit`` with ``use_ema``): when fit ends
      normally the model's weights and the average are exchanged, so the model holds the average
      and ``callback.average.averages`` the final trained weights (``callback.average.swap()``
      exchanges them back).  An exception leaves the trained weights in the model.

    Checkpoints: fit's checkpoint (``checkpoint_path``) holds the trained weights, not the average.
    With ``path``, the callback keeps the average in its own file, written atomically after each
    completed epoch (after fit's checkpoint): the arrays and the epoch, ``n_averaged``, ``average``
    and ``momentum``.  When fit starts after ``k`` completed epochs (``resume=True`` from a checkpoint
    at epoch ``k``, or ``history=``) and that file is at epoch ``k``, the average is restored from it;
    a file at another epoch is an error (nothing has trained then); a fresh run (``k = 0``) starts a
    new average and overwrites the file after its first epoch.
    """

    def __init__(self, momentum: float = 0.99, average: str = "ema", *, interval: str = "step", start: int = 0,
                 overwrite_frequency: int | None = None, evaluate_average: bool = False, swap_at_end: bool = True,
                 path=None):
        super().__init__()
        _check(momentum, average, interval, start, overwrite_frequency, evaluate_average, swap_at_end, path)
        self.momentum, self.average_kind, self.interval, self.start = momentum, average, interval, start
        self.overwrite_frequency, self.evaluate_average = overwrite_frequency, evaluate_average
        self.swap_at_end = swap_at_end
        self.path = None if path is None else os.fspath(path)
        self.average = None           # the AveragedParameters of the current (or last) fit
        self._swapped = False
        self._hooked = None
        self._epoch = self._batch = 0

    # ------------------------------------------------------------ the run
    def on_train_begin(self, logs=None):
        self.average = AveragedParameters(self.model.parameters(), self.momentum, self.average_kind)
        self._swapped = False
        done = self.history.epoch[-1] + 1 if len(self.history) else 0
        if self.path is not None and done > 0 and os.path.exists(self.path):
            self._restore(done)
        if self.evaluate_average:
            self._hook(self.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._batch = epoch, 0

    def on_step_end(self, step, loss):
        self._batch += 1
        if self.interval == "step" and step >= self.start:
            self.average.update()
        elif self.interval == "epoch" and self._batch == self.params["steps"] and self._epoch >= self.start:
            self.average.update()                 # the epoch's last step, before its evaluation
        if self.overwrite_frequency and (step + 1) % self.overwrite_frequency == 0 and self.average.n_averaged:
            self.average.copy_to()

    def on_epoch_end(self, epoch, logs=None):
        if self.path is not None and self.history.steps_per_epoch[-1] == self.params["steps"]:
            self._save(epoch + 1)

    def on_train_end(self, history):
        self._unhook()
        if self.swap_at_end and self.average.n_averaged:
            self.average.swap()

    def on_abort(self):
        if self._swapped:
            self.average.swap()
            self._swapped = False
        self._unhook()

    # ------------------------------------------------ evaluating the average
    def _hook(self, optimizer):
        """Wrap ``optimizer.eval`` / ``train`` for the run: the average in for evaluations."""
        own = vars(optimizer)
        self._hooked = (optimizer, {k: own[k] for k in ("eval", "train") if k in own})
        inner_eval, inner_train = optimizer.eval, optimizer.train

        def eval_with_average():
            inner_eval()
            if self.average.n_averaged and not self._swapped:
                self.average.swap()
                self._swapped = True

        def train_without_average():
            if self._swapped:
                self.average.swap()
                self._swapped = False
            inner_train()

        optimizer.eval, optimizer.train = eval_with_average, train_without_average

    def _unhook(self):
        if self._hooked is None:
            return
        optimizer, before = self._hooked
        for key in ("eval", "train"):
            vars(optimizer).pop(key, None)
        vars(optimizer).update(before)
        self._hooked = None

    # ------------------------------------------------------------ its file
    def _save(self, epoch: int) -> None:
        state = self.average.state_dict()
        meta = {"format": FORMAT, "epoch": epoch, "n_averaged": state["n_averaged"], "average": state["average"],
                "momentum": state["momentum"], "shapes": [list(a.shape) for a in state["averages"]]}
        arrays = {f"average/{i}": a for i, a in enumerate(state["averages"])}
        arrays["__meta__"] = B.np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=B.np.uint8)
        with atomic_writer(self.path, "wb") as fh:
            B.np.savez(fh, **arrays)

    def _restore(self, done: int) -> None:
        name = "WeightAveraging"
        try:
            with B.np.load(self.path, allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["__meta__"]).decode("utf-8"))
                count = len(meta["shapes"])
                arrays = [npz[f"average/{i}"] for i in range(count)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{name}: cannot read the average in {self.path}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{name}: {self.path} is not a file of WeightAveraging's")
        if meta.get("epoch") != done:
            raise ValueError(f"{name}: {self.path} holds the average after epoch {meta.get('epoch')}, but fit "
                             f"goes on after epoch {done}; remove the file to start a new average")
        state = {"average": meta.get("average"), "momentum": meta.get("momentum"),
                 "n_averaged": meta.get("n_averaged"), "averages": arrays}
        try:
            self.average.load_state_dict(state)
        except ValueError as exc:
            raise ValueError(f"{name}: {self.path}: {exc}") from None

    def __repr__(self):
        return (f"WeightAveraging(momentum={self.momentum}, average={self.average_kind!r}, "
                f"interval={self.interval!r}, start={self.start})")


__all__ = ["WeightAveraging"]
