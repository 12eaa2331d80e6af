"""The optimizer base: parameter groups, per-parameter state, conventions, validation.

A concrete optimizer is a thin class that declares

* ``DEFAULTS``: ``{convention: {hyperparameter: default}}`` for each source it
  follows ("keras", "pytorch", "paper"); the keys of a convention are exactly
  the hyperparameters the optimizer accepts;
* ``_validate(group)``: checks of its hyperparameters (use the ``check_*`` helpers);
* ``initial_state(w, group)``: its state (a dict of arrays and ints with
  descriptive names), made once per parameter with the array module of ``w``
  (so it lives on the parameter's device);
* ``reference_step(w, g, state, group) -> (new_w, new_state, quantities)``: the
  teaching path, pure (it modifies none of its arguments), written with plain
  allocating expressions exactly as the docstring's formula; ``quantities`` is
  the list of ``(symbol, description, value)`` of every intermediate in the
  order the formula computes them (``minidl explain`` prints them);
* ``_update(param, grad, state, group)``: the fast path, in place on the
  parameter's array and the state, written as a call of the module's pure
  update function; its temporaries are :meth:`Optimizer.scratch_like` buffers
  (allocated once), and it runs the same floating-point operations in the same
  order as ``reference_step``, so the two give bitwise equal weights and state
  (the tests check it).

The base does everything that is the same for all of them, once: param
groups, the convention mechanism, lazy state keyed by the Parameter object,
the non-finite gradient check (before anything is touched), gradient clipping
(``clipnorm``/``clipvalue``, see ``clipping.py``), weight decay (coupled L2 or
decoupled, see ``weight_decay.py``), ``zero_grad`` and ``state_dict``.

Every rule here is elementwise, so on the CPU the base runs ``_update`` of a
large parameter on contiguous parts of it (flat views of the weights, gradient
and state arrays) in ``minidl.cpu.parallel_map``'s threads: NumPy's elementwise
loops run on one core, and this uses them all.  Each element sees the same
operations as in one whole-array call, so the result is bitwise the same (tested).

A hyperparameter's default is the optimizer's own (``DEFAULTS[convention]``)
where it has one, else ``COMMON_DEFAULTS`` (AdamW's own ``weight_decay`` wins over
the common 0.0): see :func:`default_hyperparameters`.
"""
from __future__ import annotations

import math
import threading

from minidl import backend as B
from minidl import cpu
from minidl.optim import clipping, weight_decay
from minidl.tensor import Parameter, no_grad

CONVENTIONS = ("keras", "pytorch", "paper")

#: options every optimizer accepts on top of its own hyperparameters
COMMON_DEFAULTS = {"weight_decay": 0.0, "clipnorm": None, "clipvalue": None}

#: parameters with at least this many elements are updated in parts, one per CPU thread
#: (parts of at least PART_MIN_SIZE elements: smaller ones would wait on each other for the GIL)
PARALLEL_MIN_SIZE = 1 << 16
PART_MIN_SIZE = 1 << 15


def default_hyperparameters(cls, convention: str) -> dict:
    """Every hyperparameter ``cls`` accepts under ``convention``, with its default.

    The optimizer's own defaults win over ``COMMON_DEFAULTS`` (``{**COMMON_DEFAULTS,
    **cls.DEFAULTS[convention]}``); its own names come first, then the common ones.
    """
    own = cls.DEFAULTS[convention]
    return {**own, **{k: v for k, v in COMMON_DEFAULTS.items() if k not in own}}


# ---------------------------------------------------------------- fast-path math
def ema_update(avg, x, beta, buf):
    """``avg = beta * avg + (1 - beta) * x`` in place (a moving average), using ``buf``.

    ``buf`` is a work array shaped like ``avg``; it may be ``x`` itself (then ``x``
    is overwritten). Runs the reference expression's operations in its order, so it
    is bitwise equal to ``beta * avg + (1 - beta) * x``.
    """
    dt = avg.dtype.type
    avg *= dt(beta)
    B.get_array_module(avg).multiply(x, dt(1 - beta), out=buf)
    avg += buf


# ------------------------------------------------------------------ validation
def check_lr(value, name="lr"):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_range(value, name, low, high, low_open=False, high_open=False):
    """``low <= value <= high`` with either end optionally open."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"Invalid {name}: {value!r} (expected a number in {interval})")


def check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")


def check_nonnegative(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")


def check_pair(value, name):
    """``value`` is a pair (tuple or list of two numbers); returns it as a tuple."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair of two numbers)")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"Invalid {name}[{i}]: {v!r} in {name}={value!r} (expected a finite number)")
    return tuple(value)


class Optimizer:
    DEFAULTS: dict = {}
    #: True for optimizers whose own weight decay is decoupled whatever the convention (AdamW)
    DECOUPLED_WEIGHT_DECAY = False
    #: check every gradient for NaN/Inf before a step (see _check_finite)
    check_finite = True

    def __init__(self, params, convention: str = "keras", **hyperparameters):
        name = type(self).__name__
        if convention not in self.DEFAULTS:
            raise ValueError(
                f"{name}: unknown convention {convention!r}; {name} supports {sorted(self.DEFAULTS)}"
            )
        self.convention = convention
        allowed = default_hyperparameters(type(self), convention)
        unknown = sorted(set(hyperparameters) - set(allowed))
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameter(s) {unknown}; accepted: {sorted(allowed)}")
        self.defaults = dict(allowed)
        self.defaults.update({k: v for k, v in hyperparameters.items() if v is not None})

        params = list(params) if not isinstance(params, Parameter) else [params]
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        self.state = {}
        self._scratch = {}
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------- groups
    def add_param_group(self, group: dict) -> None:
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a param group must be a dict with a 'params' list")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list in a param group")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: optimizers take Parameters, got {type(p).__name__}")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameter(s) {unknown}; accepted: {sorted(self.defaults)}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears in more than one param group")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, "params": params}
        self._validate_common(full)
        self._validate(full)
        self.param_groups.append(full)

    def _validate_common(self, group):
        if "lr" in group:
            check_lr(group["lr"])
        check_nonnegative(group["weight_decay"], "weight_decay")
        if group["clipnorm"] is not None:
            check_positive(group["clipnorm"], "clipnorm")
        if group["clipvalue"] is not None:
            check_positive(group["clipvalue"], "clipvalue")

    def _validate(self, group) -> None:  # pragma: no cover - overridden
        pass

    # ------------------------------------------------------------- modes
    def train(self) -> None:
        """Put the parameters at the point training steps from (``fit`` calls it before training).

        A no-op for most optimizers; one that trains at one point and evaluates at another
        (Schedule-Free AdamW) moves the parameters here."""

    def eval(self) -> None:
        """Put the parameters at the point to evaluate (``fit`` and ``evaluate`` call it before
        an evaluation, then ``train()``); a no-op for most optimizers."""

    # ------------------------------------------------------------- steps
    def zero_grad(self) -> None:
        """Forget the gradients (set ``.grad`` to None) of all parameters."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self._check_finite()
        with no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                grads = clipping.clip_gradients([p.grad for p in params], group["clipnorm"], group["clipvalue"])
                for p, g in zip(params, grads):
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p, group)
                    g = weight_decay.apply(p.data, g, group, self._decoupled_weight_decay())
                    self._update_in_parts(p.data, g, state, group)

    def _update_in_parts(self, param, grad, state, group) -> None:
        """``_update`` on the whole parameter, or on one contiguous part of it per CPU thread.

        Each part gets flat views of the parameter, gradient and state arrays and a copy
        of the state's scalars (the step count...), which every part advances alike;
        those of the first part are kept.  Scratch buffers are per thread.  (Cutting the
        parts further into cache-sized blocks was measured: it helps one thread, 5.9 ->
        4.7 ms for Adam on the CNN, but with two it lost to plain halves, 5.1 vs 3.8 ms.)
        """
        n = param.size
        state_arrays = [v for v in state.values() if B.is_array(v)]
        if (n < PARALLEL_MIN_SIZE or cpu.num_threads() == 1 or B.get_array_module(param) is not B.np
                or not param.flags.c_contiguous
                or any(v.shape != param.shape or not v.flags.c_contiguous for v in state_arrays)):
            self._update(param, grad, state, group)        # (state that is not elementwise: whole)
            return
        flat_param, flat_grad = param.reshape(-1), grad.reshape(-1)
        arrays = {k: v.reshape(-1) for k, v in state.items() if B.is_array(v)}

        def part(bounds):
            lo, hi = bounds
            sub = dict(state)
            sub.update({k: v[lo:hi] for k, v in arrays.items()})
            self._update(flat_param[lo:hi], flat_grad[lo:hi], sub, group)
            return sub

        parts = cpu.parallel_map(part, cpu.split_range(n, min(cpu.num_threads(), n // PART_MIN_SIZE)))
        state.update({k: v for k, v in parts[0].items() if k not in arrays})

    def _decoupled_weight_decay(self) -> bool:
        # Keras 3 applies weight_decay decoupled (w -= lr * wd * w) in every optimizer;
        # PyTorch and the papers add it to the gradient (L2), except AdamW.
        return self.DECOUPLED_WEIGHT_DECAY or self.convention == "keras"

    def _check_finite(self):
        """Raise before any change if a gradient holds NaN or Inf, naming the parameter.

        A quick screen first: the sum of squares of each gradient (one BLAS dot product,
        no temporary array) is NaN or Inf if any element is, and also when the sum
        overflows; only then does the exact search run, which raises only for a real
        NaN or Inf.  One device-to-host read per step on the GPU.  Set
        ``optimizer.check_finite = False`` to skip it (e.g. to keep a GPU step free of
        synchronisations).
        """
        if not self.check_finite:
            return
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        xp = B.get_array_module(grads[0])
        with B.np.errstate(over="ignore", invalid="ignore"):     # an overflow only sends us below
            squares = xp.stack([xp.dot(g.reshape(-1), g.reshape(-1)) for g in grads])
        if bool(xp.isfinite(squares).all()):
            return
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is not None and not bool(xp.isfinite(p.grad).all()):
                    label = p.name or f"param_groups[{gi}]['params'][{i}]"
                    raise FloatingPointError(
                        f"{type(self).__name__}.step: the gradient of parameter {label!r} "
                        f"(shape {tuple(p.shape)}) holds NaN or Inf; weights and state left unchanged"
                    )

    def _init_state(self, param, group) -> dict:
        """The state of a Parameter, made at its first step: ``initial_state`` of its array."""
        return self.initial_state(param.data, group)

    def initial_state(self, w, group) -> dict:  # pragma: no cover - overridden
        """The state before the first step for weights ``w`` (arrays made with ``w``'s module)."""
        return {}

    def reference_step(self, w, g, state, group):  # pragma: no cover - overridden
        """The teaching path: ``(new_w, new_state, [(symbol, description, value), ...])``."""
        raise NotImplementedError(f"{type(self).__name__} has no reference_step")

    def _update(self, param, grad, state, group) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def scratch_like(self, like, slot=0):
        """A work buffer shaped like ``like`` (same array module, dtype), made once per
        (array type, shape, dtype, slot) and reused at every step.

        Updates run one parameter after another, so parameters of one shape share it
        (each thread has its own: parts of a parameter run in parallel); an update that
        needs k temporaries asks for slots 0 .. k-1. It is not optimizer state:
        ``state_dict`` never sees it, and its contents mean nothing between calls.
        """
        key = (threading.get_ident(), type(like), tuple(like.shape), like.dtype.str, slot)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = B.get_array_module(like).empty_like(like)
        return buf

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Hyperparameters and state as plain values and host numpy arrays.

        ``{"convention": ..., "param_groups": [{hyper..., "params": [indices]}],
        "state": {index: {name: array or number}}}``; parameters are numbered in
        group order, as in PyTorch.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (B.to_numpy(v).copy() if B.is_array(v) else v) for k, v in self.state[p].items()
                    }
        return {"optimizer": type(self).__name__, "convention": self.convention,
                "param_groups": groups, "state": state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (same parameter layout)."""
        name = type(self).__name__
        if state_dict.get("optimizer", name) != name:
            raise ValueError(f"{name}.load_state_dict: the state is of a {state_dict['optimizer']}")
        if state_dict.get("convention", self.convention) != self.convention:
            raise ValueError(
                f"{name}.load_state_dict: the state uses convention {state_dict['convention']!r}, "
                f"this optimizer {self.convention!r}"
            )
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{name}.load_state_dict: the state's param groups do not match this optimizer's")
        params = [p for g in self.param_groups for p in g["params"]]
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = v
        self.state = {}
        for key, entries in state_dict["state"].items():
            p = params[int(key)]
            xp = B.get_array_module(p.data)
            restored = {}
            for k, v in entries.items():
                if B.is_array(v) and v.ndim > 0:
                    if tuple(v.shape) != tuple(p.shape) and k != "step":
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {key} has shape "
                            f"{tuple(v.shape)}, the parameter {tuple(p.shape)}"
                        )
                    restored[k] = xp.array(v, dtype=p.dtype)
                elif B.is_array(v):
                    restored[k] = v.item()
                else:
                    restored[k] = v
            self.state[p] = restored

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}(convention={self.convention!r}, {hyper})"
