"""The optimizer base class: what every optimizer shares, written once.

An optimizer is a short class (see :class:`Optimizer`'s docstring for a whole one); its file
holds the rule, the base holds everything else: param groups, conventions, validation,
lazy per-parameter state, the checks of every gradient, clipping, weight decay,
``zero_grad``, ``state_dict`` and ``load_state_dict``.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.optim import clipping, weight_decay
from minidl.optim.state_check import checked_state
from minidl.optim.validation import check_lr, check_nonnegative, check_positive, is_number
from minidl.tensor import Parameter, enable_grad, no_grad

CONVENTIONS = ("keras", "pytorch", "paper")

#: options every optimizer accepts on top of its own hyperparameters (clipping.py, weight_decay.py)
COMMON_DEFAULTS = {"weight_decay": 0.0, "clipnorm": None, "global_clipnorm": None, "clipvalue": None}

#: the frameworks' own spellings, accepted under their convention: {convention: {their name: ours}}
FRAMEWORK_NAMES = {
    "keras": {"learning_rate": "lr", "beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps"},
    "pytorch": {"betas": ("beta1", "beta2")},
}


def default_hyperparameters(cls, convention: str) -> dict:
    """Every hyperparameter ``cls`` accepts under ``convention``, with its default: the
    optimizer's own first (``cls.DEFAULTS[convention]``), then ``COMMON_DEFAULTS`` (an
    optimizer's own default wins: AdamW's ``weight_decay``)."""
    own = cls.DEFAULTS[convention]
    return {**own, **{k: v for k, v in COMMON_DEFAULTS.items() if k not in own}}


def default_convention(cls) -> str:
    """``"keras"`` where the optimizer has it, else the first of its conventions in the order
    of ``CONVENTIONS`` (then its own names, sorted)."""
    return next(c for c in (*CONVENTIONS, *sorted(cls.DEFAULTS)) if c in cls.DEFAULTS)


def parameter_label(p, group_index=0, index=0) -> str:
    """How messages name a parameter: its name (``Conv2D(1->32).weight``), else its place."""
    return p.name or f"param_groups[{group_index}]['params'][{index}]"


class Optimizer:
    """The base of every optimizer. A whole optimizer, sign descent, in its own file::

        from minidl import backend as B
        from minidl.optim import Optimizer, check_positive

        class SignSGD(Optimizer):
            '''Sign descent with momentum.

            Rule (paper):

                m_t = beta * m_{t-1} + (1 - beta) * g_t
                w_t = w_{t-1} - lr * sign(m_t)
            '''
            DEFAULTS = {"paper": {"lr": 0.01, "beta": 0.9}}      # {convention: defaults}

            def validate(self, group):                           # checks, at construction
                check_positive(group["lr"], "lr")

            def init_state(self, w, group):                      # made at the first step
                return {"m": B.get_array_module(w).zeros_like(w)}

            def update(self, w, g, state, group):                # the rule, in place
                m = state["m"]
                m *= group["beta"]; m += (1 - group["beta"]) * g
                w -= group["lr"] * B.get_array_module(w).sign(m)

    ``SignSGD(model.parameters(), lr=0.1)`` then trains; ``minidl compare --optimizers
    mymodule:SignSGD`` compares it; ``minidl.testing.check_optimizer(SignSGD)`` checks it.

    ``step()`` checks every gradient (type, shape, dtype, NaN/Inf), clips them (``clipnorm``,
    ``global_clipnorm``, ``clipvalue``), applies ``weight_decay`` (decoupled under the keras
    convention, else added to the gradient), makes the state of a parameter at its first
    step, then calls ``update(w, g, state, group)`` once per parameter: ``w`` is the
    parameter's array, ``g`` its gradient, ``state`` its dict, ``group`` its hyperparameters.
    ``update`` changes ``w`` and the state's arrays in place; its local variables carry the
    names of the docstring's formula, which ``minidl explain`` shows step by step.

    Class attributes: ``DEFAULTS`` (the conventions: keras, pytorch or paper, or names of
    your own); ``ELEMENTWISE`` (True when the rule treats every element on its own, so the
    speed layer may update a large parameter in parts, one per thread); ``DECOUPLED_WEIGHT_DECAY``
    (True: decoupled under every convention, as AdamW); ``FRAMEWORK_NAMES`` (a class's own
    extra spellings, e.g. PyTorch's ``alpha`` for RMSprop's ``rho``); ``SUMS_OF_SQUARES`` (the
    state entries that add up squared gradients without decay, as Adagrad's ``sum``: they can
    overflow over many steps of finite squares, so ``step`` checks them against the dtype's
    largest number before each step).
    """

    DEFAULTS: dict = {}
    ELEMENTWISE = True
    DECOUPLED_WEIGHT_DECAY = False
    FRAMEWORK_NAMES: dict = {}
    SUMS_OF_SQUARES: tuple = ()
    #: check every gradient for NaN/Inf before a step (one reduction, one host read per step)
    check_finite = True

    def __init__(self, params, convention: str | None = None, **hyperparameters):
        cls, name = type(self), type(self).__name__
        if not isinstance(cls.DEFAULTS, dict) or not cls.DEFAULTS:
            raise TypeError(f"{name}.DEFAULTS must map a convention to its hyperparameters' defaults, "
                            f"e.g. {{'paper': {{'lr': 0.01}}}}; got {cls.DEFAULTS!r}")
        convention = default_convention(cls) if convention is None else convention
        if convention not in cls.DEFAULTS:
            raise ValueError(f"{name}: unknown convention {convention!r}; {name} supports {sorted(cls.DEFAULTS)}")
        self.convention = convention
        allowed = default_hyperparameters(cls, convention)
        given = self._our_names({k: v for k, v in hyperparameters.items() if v is not None}, allowed)
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameter(s) {unknown} under the {convention} "
                             f"convention; accepted: {sorted(allowed)}")
        self.defaults = {**allowed, **given}
        if isinstance(params, Parameter):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        self.param_groups, self.state = [], {}
        for group in (params if isinstance(params[0], dict) else [{"params": params}]):
            self.add_param_group(group)

    def _our_names(self, given: dict, allowed: dict) -> dict:
        """Keras's or PyTorch's spelling of a hyperparameter, under its convention, as minidl's
        (``learning_rate`` -> ``lr``, ``betas=(b1, b2)`` -> ``beta1, beta2``).  A spelling of
        another convention is refused, saying which name to write; so is a setting given twice
        (``lr`` and ``learning_rate``)."""
        names = {c: {**FRAMEWORK_NAMES.get(c, {}), **self.FRAMEWORK_NAMES.get(c, {})}
                 for c in {*FRAMEWORK_NAMES, *self.FRAMEWORK_NAMES}}
        out, spelled = {}, {}
        for key, value in given.items():
            ours = names.get(self.convention, {}).get(key)
            targets = ours if isinstance(ours, tuple) else (ours,)
            if key in allowed or ours is None or not set(targets) <= set(allowed):
                self._refuse_other_spelling(key, names, allowed)
                targets, values = (key,), (value,)       # minidl's own name (or unknown: reported later)
            elif isinstance(ours, tuple):                # betas=(b1, b2) -> beta1, beta2
                if not isinstance(value, (tuple, list)) or len(value) != len(ours):
                    raise ValueError(f"Invalid {key}: {value!r} (expected {len(ours)} numbers)")
                values = tuple(value)
            else:
                values = (value,)
            for target, v in zip(targets, values):
                if target in out:
                    raise ValueError(f"{type(self).__name__}: {target} is given twice "
                                     f"(as {spelled[target]!r} and as {key!r}); give it once")
                out[target], spelled[target] = v, key
        return out

    def _refuse_other_spelling(self, key, names, allowed) -> None:
        other = next((c for c, m in names.items() if key in m and c != self.convention), None)
        if other is None or key in allowed:
            return
        ours = names[other][key]
        wanted = ours if isinstance(ours, tuple) else (ours,)
        if set(wanted) <= set(allowed):
            raise ValueError(f"{type(self).__name__}: {key!r} is the {other} convention's name; under the "
                             f"{self.convention} convention write {_spelling(ours)}")
        raise ValueError(f"{type(self).__name__}: {key!r} is the {other} convention's name for "
                         f"{', '.join(wanted)}, which the {self.convention} convention does not have "
                         f"(accepted: {', '.join(sorted(allowed))})")

    # ----------------------------------------------------------- groups
    def add_param_group(self, group: dict) -> None:
        """Add a dict with ``"params"`` and any hyperparameters that differ from the defaults."""
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
        given = self._our_names({k: v for k, v in group.items() if k != "params"}, self.defaults)
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameter(s) {unknown}; accepted: {sorted(self.defaults)}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice (in one or two param groups)")
        full = {**self.defaults, **given, "params": params}
        self._validate_group(full)
        self.param_groups.append(full)

    def _validate_group(self, group) -> None:
        if "lr" in group:
            check_lr(group["lr"])
        check_nonnegative(group["weight_decay"], "weight_decay")
        clipping_options = [option for option in ("clipnorm", "global_clipnorm", "clipvalue")
                            if group[option] is not None]
        for option in clipping_options:
            check_positive(group[option], option)
        if len(clipping_options) > 1:
            raise ValueError(f"Invalid clipping: only one of clipnorm, global_clipnorm and clipvalue can be "
                             f"set, got {', '.join(f'{o}={group[o]!r}' for o in clipping_options)}")
        self.validate(group)

    def validate(self, group) -> None:
        """Check the group's own hyperparameters (``ValueError`` naming the bad one)."""

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

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss.

        ``closure``: a function that clears the gradients, computes the loss, calls
        ``backward()`` and returns the loss, as in torch.optim; most optimizers need none.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        guarded = self.check_gradients()
        with no_grad():
            before = self._copy_of_everything() if guarded else None
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                grads = clipping.clip_gradients([p.grad for p in params], group)
                for p, g in zip(params, grads):
                    state = self.state_for(p, group)
                    g = weight_decay.apply(p.data, g, group, self.decouples_weight_decay(group))
                    if before is None:
                        self.update(p.data, g, state, group)      # the rule: the optimizer's own file
                    else:
                        with B.np.errstate(over="ignore", invalid="ignore"):   # checked right after
                            self.update(p.data, g, state, group)
                        self._refuse_non_finite(p, state, before)
        return loss

    def init_state(self, w, group) -> dict:
        """The state of weights ``w`` before their first step: a dict of arrays (made with
        ``w``'s array module, so they live on its device) and numbers."""
        return {}

    def update(self, w, g, state, group) -> None:
        """The rule: update ``w`` and ``state`` in place from the gradient ``g``."""
        raise NotImplementedError(f"{type(self).__name__} must define update(w, g, state, group)")

    def state_for(self, p, group) -> dict:
        """The state of Parameter ``p``, made by ``init_state`` at its first step."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = self.init_state(p.data, group)
        return state

    def decouples_weight_decay(self, group) -> bool:
        """Whether ``group``'s weight decay is decoupled (``w -= lr * wd * w``): always under the
        keras convention (Keras 3 decouples it in every optimizer) and for optimizers whose own
        decay is decoupled (``DECOUPLED_WEIGHT_DECAY``: AdamW), or where the group asks for it
        (torch's ``decoupled_weight_decay=True`` of RAdam, NAdam); else it is added to the
        gradient (L2), as PyTorch and the papers do."""
        return (self.DECOUPLED_WEIGHT_DECAY or self.convention == "keras"
                or bool(group.get("decoupled_weight_decay", False)))

    # ------------------------------------------------------------ checks
    def _with_grad(self):
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is not None:
                    yield parameter_label(p, gi, i), p

    def check_gradients(self) -> bool:
        """Check every gradient before anything changes; raise naming the parameter.

        Type, array module, shape and dtype must be the parameter's.  Then one screen for
        NaN and Inf: the sum of squares of each gradient (a dot product, no temporary) is
        finite only if every element is finite and no square overflows; one host read.
        When the screen fires, the exact search raises ``FloatingPointError`` for a real
        NaN or Inf.  If there is none, some squares overflow, or a ``SUMS_OF_SQUARES`` state
        could (its risk term joins the screen): the step then runs guarded (returns True): a
        state that turns NaN or Inf raises, with everything restored.
        """
        name, grads = type(self).__name__, []
        for label, p in self._with_grad():
            g = p.grad
            if not B.is_array(g) or B.get_array_module(g) is not B.get_array_module(p.data):
                raise TypeError(f"{name}.step: the gradient of parameter {label!r} is a {type(g).__module__}."
                                f"{type(g).__name__}; expected a {type(p.data).__module__}.ndarray like the parameter")
            if g.shape != p.data.shape or g.dtype != p.data.dtype:
                raise ValueError(f"{name}.step: the gradient of parameter {label!r} has shape {tuple(g.shape)} "
                                 f"and dtype {g.dtype}; the parameter has shape {tuple(p.shape)} and dtype {p.dtype}")
            grads.append(g)
        if not self.check_finite or not grads:
            return False
        xp = B.get_array_module(grads[0])
        with B.np.errstate(over="ignore", invalid="ignore"):
            squares = xp.stack([xp.dot(g.reshape(-1), g.reshape(-1)) for g in grads])
            squares = xp.concatenate([squares, self._sum_overflow_risks(squares)])
        if bool(xp.isfinite(squares).all()):
            return False
        for label, p in self._with_grad():
            if not bool(xp.isfinite(p.grad).all()):
                raise FloatingPointError(f"{name}.step: the gradient of parameter {label!r} (shape "
                                         f"{tuple(p.shape)}) holds NaN or Inf; weights and state left unchanged")
        return True

    def _sum_overflow_risks(self, squares):
        """For each ``SUMS_OF_SQUARES`` state: 0 while its largest element plus the gradient's
        sum of squares (at least its largest square) stays below the dtype's largest number,
        else Inf, so the NaN/Inf screen's one read sees it too (and the step runs guarded)."""
        xp = B.get_array_module(squares)
        risks = []
        for (_, p), square in zip(self._with_grad(), squares):
            state = self.state.get(p) or {}
            for key in self.SUMS_OF_SQUARES:
                v = state.get(key)
                if B.is_array(v) and v.size:
                    safe = xp.max(v) + square < B.np.finfo(v.dtype).max       # v >= 0: its largest
                    risks.append(xp.where(safe, 0.0, xp.inf).astype(squares.dtype))
        return xp.stack(risks) if risks else squares[:0]

    def _copy_of_everything(self) -> dict:
        copies = {}
        for _, p in self._with_grad():
            state = self.state.get(p)
            copies[p] = (p.data.copy(), None if state is None else
                         {k: (v.copy() if B.is_array(v) else v) for k, v in state.items()})
        return copies

    def _refuse_non_finite(self, p, state, before) -> None:
        """After a guarded update: a NaN or Inf in the weights or the state restores every
        parameter and state to ``before`` and raises, naming the parameter and the state."""
        xp = B.get_array_module(p.data)
        bad = [k for k, v in state.items() if B.is_array(v) and not bool(xp.isfinite(v).all())]
        if not bad and bool(xp.isfinite(p.data).all()):
            return
        for q, (w, saved) in before.items():
            q.data[...] = w
            if saved is None:
                self.state.pop(q, None)
            else:
                self.state[q] = saved
        what = f"state {bad[0]!r}" if bad else "weights"
        label = next(lbl for lbl, q in self._with_grad() if q is p)
        raise FloatingPointError(
            f"{type(self).__name__}.step: the {what} of parameter {label!r} became NaN or Inf "
            f"(its gradient is finite, but its squares, or their sum over the steps, overflow {p.dtype}); "
            "weights and state left as they were before the step")

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Hyperparameters and state as plain values and host numpy arrays:
        ``{"optimizer", "convention", "param_groups": [{hyper..., "params": [indices]}],
        "state": {index: {name: array or number}}}``; parameters numbered in group order."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: {k: (B.to_numpy(v).copy() if B.is_array(v) else v) for k, v in s.items()}
                 for g in self.param_groups for p in g["params"] for s in [self.state.get(p)] if s is not None}
        return {"optimizer": type(self).__name__, "convention": self.convention,
                "param_groups": groups, "state": state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved, for the same parameters: all or nothing.

        Everything is checked first: the class and convention, the groups' sizes and
        hyperparameters (through the optimizer's own validation), every state entry's name,
        type, shape and finiteness against what ``init_state`` makes.  A ValueError names the
        first thing wrong, and nothing changes; only then are groups and state replaced.
        """
        groups, state = checked_state(self, state_dict)
        self.param_groups, self.state = groups, state

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}(convention={self.convention!r}, {hyper})"


def _spelling(ours) -> str:
    return ", ".join(f"{n}=..." for n in ours) if isinstance(ours, tuple) else f"{ours}=..."


__all__ = ["Optimizer", "CONVENTIONS", "COMMON_DEFAULTS", "default_hyperparameters", "default_convention",
           "parameter_label", "is_number"]
