"""History: what ``fit`` records, one list per quantity, one entry per epoch (or per step).

Per epoch ``i`` (``epoch[i]`` is the epoch's 0-based index, so a resumed run
continues the numbering):

* ``train_loss`` -- mean of the epoch's step losses weighted by batch size,
  i.e. the mean loss over the examples seen (with dropout active, as in Keras);
* ``train_acc``  -- fraction of the epoch's training examples classified right
  at the moment their step ran;
* ``val_loss`` / ``val_acc`` -- ``evaluate`` on the validation data after the
  epoch (``None`` when fit got no validation data);
* ``lr`` -- the learning rate of the first parameter group when the epoch began;
* ``train_seconds`` / ``eval_seconds`` -- wall-clock time of the training steps
  and of the evaluation, kept apart, each measured after ``backend.synchronize()``.

``step_loss`` holds every training step's loss in order, over all epochs, and
``steps_per_epoch`` the number of steps of each epoch.
Everything but the two ``*_seconds`` lists is the same, bit for bit, for the
same seed on the CPU (``equal_without_times`` compares that way).

Keras names: ``history.history`` is a dict ``{"loss": train_loss, "accuracy": train_acc,
"val_loss": val_loss, "val_accuracy": val_acc}`` (the same lists; the two ``val_`` keys
only when there was validation data), as ``keras.callbacks.History.history`` is, and
``history.epoch`` is Keras's ``epoch`` list too.
"""
from __future__ import annotations

import math

EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
              "train_seconds", "eval_seconds")
TIME_KEYS = ("train_seconds", "eval_seconds")
STEP_KEYS = ("step_loss", "steps_per_epoch")
#: the keys of epoch rows that may be None (no validation data; an optimizer without lr)
OPTIONAL_KEYS = ("val_loss", "val_acc", "lr")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_dict(data: dict) -> None:
    """Raise ValueError naming the first thing wrong in a ``to_dict()``-shaped dict."""
    missing = sorted(set(EPOCH_KEYS + STEP_KEYS) - set(data))
    if missing:
        raise ValueError(f"History.from_dict: missing keys {missing}")
    for key in EPOCH_KEYS + STEP_KEYS:
        if not isinstance(data[key], list):
            raise ValueError(f"History.from_dict: {key} must be a list, got {type(data[key]).__name__}")
    lengths = {key: len(data[key]) for key in EPOCH_KEYS}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"History.from_dict: the per-epoch lists differ in length: {lengths}")
    for key in EPOCH_KEYS + ("step_loss",):
        for i, value in enumerate(data[key]):
            if not (_is_number(value) or (value is None and key in OPTIONAL_KEYS)):
                raise ValueError(f"History.from_dict: {key}[{i}] must be a number, got {value!r}")
    epochs = data["epoch"]
    if any(not isinstance(e, int) or e < 0 for e in epochs) or any(b <= a for a, b in zip(epochs, epochs[1:])):
        raise ValueError(f"History.from_dict: epoch must be increasing ints >= 0, got {epochs}")
    steps = data["steps_per_epoch"]
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in steps) or len(steps) > len(epochs):
        raise ValueError(f"History.from_dict: steps_per_epoch must be at most one int >= 0 per epoch, "
                         f"got {steps}")


class History:
    def __init__(self):
        for key in EPOCH_KEYS:
            setattr(self, key, [])
        self.step_loss = []
        self.steps_per_epoch = []

    def append_epoch(self, **row) -> None:
        """Add one epoch's row; every key of ``EPOCH_KEYS`` must be given."""
        missing = sorted(set(EPOCH_KEYS) - set(row))
        unknown = sorted(set(row) - set(EPOCH_KEYS))
        if missing or unknown:
            raise ValueError(f"History.append_epoch: missing keys {missing}, unknown keys {unknown}")
        for key in EPOCH_KEYS:
            getattr(self, key).append(row[key])

    def row(self, index: int = -1) -> dict:
        """One epoch's values as a dict, under minidl's names."""
        return {key: getattr(self, key)[index] for key in EPOCH_KEYS}

    def logs(self, index: int = -1) -> dict:
        """The ``logs`` that ``on_epoch_end`` receives: ``row(index)`` plus the Keras names
        (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) and ``seconds`` (train + eval)."""
        row = self.row(index)
        return {**row, "loss": row["train_loss"], "accuracy": row["train_acc"],
                "val_accuracy": row["val_acc"], "seconds": row["train_seconds"] + row["eval_seconds"]}

    @property
    def history(self) -> dict:
        """Keras's ``History.history``: ``{"loss": [...], "accuracy": [...], "val_loss": [...],
        "val_accuracy": [...]}``, one value per epoch (the same lists as ``train_loss``...);
        the ``val_`` keys only when some epoch was evaluated."""
        out = {"loss": self.train_loss, "accuracy": self.train_acc}
        if any(v is not None for v in self.val_loss):
            out.update(val_loss=self.val_loss, val_accuracy=self.val_acc)
        return out

    def __len__(self) -> int:
        return len(self.epoch)

    # --------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict:
        """Plain lists, JSON-able (``None`` where there was no validation data)."""
        return {key: list(getattr(self, key)) for key in EPOCH_KEYS + STEP_KEYS}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """The History of a ``to_dict()``, checked: every key present, the per-epoch lists of
        one length, numbers where numbers belong (ValueError naming the first thing wrong)."""
        if not isinstance(data, dict):
            raise TypeError(f"History.from_dict: expected a dict, got {type(data).__name__}")
        _check_dict(data)
        history = cls()
        for key in EPOCH_KEYS + STEP_KEYS:
            setattr(history, key, list(data[key]))
        return history

    def copy(self) -> "History":
        return History.from_dict(self.to_dict())

    def without_times(self) -> dict:
        """``to_dict()`` less the timings: what must match between identical runs."""
        return {k: v for k, v in self.to_dict().items() if k not in TIME_KEYS}

    def equal_without_times(self, other: "History") -> bool:
        """True when every recorded value but the timings is identical (NaN equals NaN)."""
        a, b = self.without_times(), other.without_times()
        if a.keys() != b.keys():
            return False
        for key in a:
            if len(a[key]) != len(b[key]):
                return False
            for x, y in zip(a[key], b[key]):
                both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
                if x != y and not both_nan:
                    return False
        return True

    def __repr__(self):
        if not self.epoch:
            return "History(no epochs)"
        last = self.row()
        val = "" if last["val_loss"] is None else f", val_loss={last['val_loss']:.4f}, val_acc={last['val_acc']:.4f}"
        return (f"History({len(self)} epochs; last: train_loss={last['train_loss']:.4f}, "
                f"train_acc={last['train_acc']:.4f}{val})")
