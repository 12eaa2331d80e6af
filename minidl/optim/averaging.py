r"""Weight averaging: an exponential moving average of the parameters, or their equal average (SWA).

    average = AveragedParameters(model.parameters(), momentum=0.99)
    for x, y in batches:
        ...; opt.step()
        average.update()                  # after each optimizer step
    with average.applied():               # inside: the parameters hold the average
        print(evaluate(model, test))
    average.copy_to()                     # or keep it: the parameters become the average

For each parameter ``w``, its average ``a`` after the ``n``-th ``update()``::

    n = 1:              a = w
    average="ema":      a <- a + (1 - momentum) * (w - a)       (= momentum * a + (1 - momentum) * w)
    average="equal":    a <- a + (w - a) / n                    (the mean of the n values seen: SWA)

What the frameworks call it:

* Keras 3: ``optimizer(use_ema=True, ema_momentum=momentum)`` (default 0.99) writes
  ``momentum * a + (1 - momentum) * w`` after every step, with the momentum 0 at the first
  step (so ``a = w`` then); ``ema_overwrite_frequency=k`` copies the average into the weights
  every ``k`` steps (:meth:`copy_to`), and ``fit`` copies it at the end
  (``finalize_variable_values``).
* torch: ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))`` with ``decay =
  momentum``: its first ``update_parameters`` copies the weights, the next ones run
  ``torch._foreach_lerp_(a, w, 1 - decay)``, the first line above; ``AveragedModel(model)``
  alone (SWA's ``get_swa_multi_avg_fn``) is ``average="equal"``.  Only the parameters are
  averaged (torch's ``use_buffers=False``; minidl's layers have no buffers).

The averages have each parameter's shape, dtype and device; before the first update they hold
the parameters' values then (torch's deep copy).  Updates are in place, allocating nothing.
"""
from __future__ import annotations

import contextlib

from minidl import backend as B
from minidl.optim.validation import check_choice, check_range
from minidl.tensor import Parameter

AVERAGES = ("ema", "equal")


class AveragedParameters:
    """The running average of ``params`` (see the module docstring): ``update()``, ``applied()``,
    ``swap()``, ``copy_to()``, ``state_dict()`` / ``load_state_dict()``."""

    def __init__(self, params, momentum: float = 0.99, average: str = "ema"):
        name = type(self).__name__
        params = [params] if isinstance(params, Parameter) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: averages Parameters, got {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice")
        try:
            check_range(momentum, "momentum", 0, 1)
            check_choice(average, "average", AVERAGES)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        self.params, self.momentum, self.average = params, float(momentum), average
        self.averages = [B.get_array_module(p.data).array(p.data, copy=True) for p in params]
        self._scratch = [None] * len(params)
        self.n_averaged = 0

    def _buffer(self, i):
        if self._scratch[i] is None:
            self._scratch[i] = B.get_array_module(self.averages[i]).empty_like(self.averages[i])
        return self._scratch[i]

    def update(self) -> None:
        """Fold the parameters' current values into the average (once per optimizer step, or per epoch)."""
        self.n_averaged += 1
        weight = (1.0 - self.momentum) if self.average == "ema" else 1.0 / self.n_averaged
        for i, (p, a) in enumerate(zip(self.params, self.averages)):
            xp = B.get_array_module(a)
            if self.n_averaged == 1:
                xp.copyto(a, p.data)
                continue
            step = self._buffer(i)
            xp.subtract(p.data, a, out=step)
            step *= weight
            a += step

    def swap(self) -> None:
        """Exchange the parameters' values and the averages, in place (twice: back as they were, bit for bit)."""
        for i, (p, a) in enumerate(zip(self.params, self.averages)):
            xp = B.get_array_module(a)
            held = self._buffer(i)
            xp.copyto(held, p.data)
            xp.copyto(p.data, a)
            xp.copyto(a, held)

    @contextlib.contextmanager
    def applied(self):
        """Within the block the parameters hold the average; afterwards their own values again."""
        self.swap()
        try:
            yield self
        finally:
            self.swap()

    def copy_to(self) -> None:
        """Write the average into the parameters (Keras's overwrite and ``finalize_variable_values``)."""
        for p, a in zip(self.params, self.averages):
            B.get_array_module(a).copyto(p.data, a)

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{"average", "momentum", "n_averaged", "averages": [host numpy arrays]}``."""
        return {"average": self.average, "momentum": self.momentum, "n_averaged": self.n_averaged,
                "averages": [B.to_numpy(a).copy() for a in self.averages]}

    def check_state_dict(self, state) -> dict:
        """``state`` checked against these parameters, changing nothing (ValueError naming the entry)."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise ValueError(f"{name}.load_state_dict: the state is a {type(state).__name__}, not a dict")
        missing = sorted({"average", "momentum", "n_averaged", "averages"} - set(state))
        if missing:
            raise ValueError(f"{name}.load_state_dict: the state lacks {', '.join(missing)}")
        if state["average"] != self.average or state["momentum"] != self.momentum:
            raise ValueError(f"{name}.load_state_dict: the state is of average={state['average']!r}, momentum="
                             f"{state['momentum']!r}; this one has average={self.average!r}, "
                             f"momentum={self.momentum!r}")
        count = state["n_averaged"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name}.load_state_dict: n_averaged is {count!r}; expected an integer >= 0")
        arrays = state["averages"]
        if not isinstance(arrays, (list, tuple)) or len(arrays) != len(self.params):
            found = len(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__
            raise ValueError(f"{name}.load_state_dict: {found} averages for {len(self.params)} parameters")
        for i, (p, a) in enumerate(zip(self.params, arrays)):
            if not B.is_array(a) or tuple(a.shape) != tuple(p.shape) or a.dtype != p.dtype:
                got = (f"{tuple(a.shape)} {a.dtype}" if B.is_array(a) else type(a).__name__)
                raise ValueError(f"{name}.load_state_dict: average {i} is {got}; its parameter is "
                                 f"{tuple(p.shape)} {p.dtype}")
            if not bool(B.np.isfinite(B.to_numpy(a)).all()):
                raise ValueError(f"{name}.load_state_dict: average {i} holds NaN or Inf")
        return {"n_averaged": count, "averages": list(arrays)}

    def load_state_dict(self, state) -> None:
        """Restore what :meth:`state_dict` saved, for the same parameters: all of it, or nothing."""
        checked = self.check_state_dict(state)
        for a, saved in zip(self.averages, checked["averages"]):
            xp = B.get_array_module(a)
            xp.copyto(a, xp.asarray(saved))
        self.n_averaged = checked["n_averaged"]

    def __repr__(self):
        return (f"{type(self).__name__}(average={self.average!r}, momentum={self.momentum}, "
                f"n_averaged={self.n_averaged}, parameters={len(self.params)})")


__all__ = ["AveragedParameters", "AVERAGES"]
