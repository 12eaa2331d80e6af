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

``step_loss`` holds every training step's loss in order, over all epochs.
Everything but the two ``*_seconds`` lists is the same, bit for bit, for the
same seed on the CPU (``equal_without_times`` compares that way).
"""
from __future__ import annotations

import math

EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
              "train_seconds", "eval_seconds")
TIME_KEYS = ("train_seconds", "eval_seconds")


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
        """One epoch's values as a dict (the ``logs`` that callbacks receive)."""
        return {key: getattr(self, key)[index] for key in EPOCH_KEYS}

    def __len__(self) -> int:
        return len(self.epoch)

    # --------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict:
        """Plain lists, JSON-able (``None`` where there was no validation data)."""
        out = {key: list(getattr(self, key)) for key in EPOCH_KEYS}
        out["step_loss"] = list(self.step_loss)
        out["steps_per_epoch"] = list(self.steps_per_epoch)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        if not isinstance(data, dict):
            raise TypeError(f"History.from_dict: expected a dict, got {type(data).__name__}")
        missing = sorted(set(EPOCH_KEYS + ("step_loss", "steps_per_epoch")) - set(data))
        if missing:
            raise ValueError(f"History.from_dict: missing keys {missing}")
        history = cls()
        for key in EPOCH_KEYS + ("step_loss", "steps_per_epoch"):
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
