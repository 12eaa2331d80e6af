"""Lookahead: k steps forward, 1 step back (Zhang, Lucas, Hinton & Ba 2019, "Lookahead Optimizer:
k steps forward, 1 step back", NeurIPS 2019, arXiv:1907.08610, Algorithm 1), around any optimizer.

An inner optimizer (Adam, SGD, ...) moves the fast weights theta, which are the parameter itself,
k steps; then the slow weights phi (phi_0 = w_0, state "slow_weights") move a fraction alpha of
the way towards them, and the fast weights start again from phi.  t counts the steps
(state "lookahead_step"); the inner optimizer keeps its own state (its moments are not reset).

Rule (paper):  Algorithm 1

    theta_t = inner_rule(w_{t-1}, g_t)                       # the inner optimizer's update(), in its own file
    phi_t = (1 - alpha) * phi_{t-1} + alpha * theta_t        # every k-th step only (t = k, 2k, ...), state "slow_weights"
    w_t = phi_t                                              # every k-th step; w_t = theta_t at the others

phi_t is the paper's phi_{t-1} + alpha * (theta_t - phi_{t-1}) written as an interpolation, so
that alpha = 1 gives theta_t bit for bit: with k = 1 and alpha = 1 Lookahead is its inner
optimizer.  alpha = 0 brings w back to w_0 after every k-th step.

Building one::

    Lookahead(optim.Adam(params, lr=1e-3), k=5, alpha=0.5)    # around an optimizer already built
    Lookahead(params, inner="sgd", k=5, alpha=0.5, lr=0.1)    # the inner one built by name
    optim.create("lookahead", params, inner="adam", lr=0.01)

Given by name (a registered name, ``module:Class`` or a class), the inner optimizer takes every
other keyword: its own hyperparameters by their names (``lr=0.1``, ``momentum=0.9``) or as
``inner_<name>`` (``inner_lr``; needed for a name Lookahead has itself: ``inner_alpha`` is ASGD's
alpha), its convention as ``inner_convention`` (default ``auto``: the inner optimizer's paper
convention where it has one, Lookahead's own being the paper's, else its default one), and
``weight_decay`` and the clipping options, which the base class applies once per step before
the inner rule, as the inner optimizer alone would.  The param groups are the inner optimizer's
(the same list, each group with ``lookahead_k`` and ``lookahead_alpha`` added), so a schedule on
either moves both; the state of a parameter is one dict, the inner optimizer's entries and
Lookahead's.  ``state_dict()`` holds both and the inner optimizer's class and convention.

One step of Lookahead is one step of the inner optimizer, its checks, clipping and weight
decay included, then the slow-weight update: ``step()`` is the base class's, whose ``update``
runs the inner optimizer's rule and then the lines above.  So the inner optimizer must be one
whose ``step()`` is the base's: LBFGS (a closure and a line search) and ScheduleFreeAdamW (its
own train/eval points) are refused.

Defaults:

    convention  inner  inner_convention  k  alpha  lr
    paper       adam   auto              5  0.5    None (the inner optimizer's default)

(the paper's runs use k 5 or 10 and alpha 0.5 or 0.8).  ``lr``, the inner optimizer's, is listed
so that a row spec (``lookahead:inner=sgd,lr=0.1,k=5``) can set it; ``defaults`` holds these
settings as given, the inner optimizer's ``defaults`` all of its own.

.. note:: Algorithm 1 resets only the fast weights at a synchronisation (theta <- phi); the inner
   optimizer's state (its momentum, its moments) carries on, here as in the PyTorch
   implementations (timm's ``Lookahead``, lonePatient's ``lookahead_pytorch``).  Evaluation uses
   what the parameter holds: the fast weights, which are phi right after every k-th step.
"""
from __future__ import annotations

from minidl.optim import registry
from minidl.optim.optimizer import COMMON_DEFAULTS, Optimizer, default_convention
from minidl.optim.validation import check_int, check_range

#: Lookahead's settings in a param group, named apart from the inner optimizer's (ASGD has an alpha)
OWN = {"k": "lookahead_k", "alpha": "lookahead_alpha"}
#: Lookahead's own keys of a parameter's state, beside the inner optimizer's
STATE_KEYS = ("slow_weights", "lookahead_step")


def _inner_class(inner):
    """The optimizer class ``inner`` names: a class, or a name resolved by ``minidl.optim.resolve``
    (read when a Lookahead is built: minidl.optim imports this module, so it is not imported here)."""
    if isinstance(inner, type):
        if not issubclass(inner, Optimizer):
            raise ValueError(f"Invalid inner: {inner!r} (expected an Optimizer subclass or its name)")
        return inner
    if not isinstance(inner, str):
        raise ValueError(f"Invalid inner: {inner!r} (expected an optimizer's name, such as 'adam', or an Optimizer)")
    try:
        return registry.resolve(inner)
    except ValueError as exc:
        raise ValueError(f"Invalid inner: {exc}") from None


def _inner_hyperparameters(given: dict) -> dict:
    """``inner_lr=0.1`` and ``lr=0.1`` alike as the inner optimizer's ``lr`` (once)."""
    out, spelled = {}, {}
    for key, value in given.items():
        name = key[len("inner_"):] if key.startswith("inner_") else key
        if name in out:
            raise ValueError(f"Lookahead: the inner optimizer's {name} is given twice "
                             f"(as {spelled[name]!r} and as {key!r}); give it once")
        out[name], spelled[name] = value, key
    return out


def _wrapped(inner, name, inner_convention, hyperparameters):
    """An optimizer already built, and what ``defaults`` says of it."""
    given = {key: v for key, v in hyperparameters.items() if v is not None}
    if name is not None or inner_convention is not None or given:
        raise ValueError("Lookahead: the inner optimizer is already built; give its hyperparameters to it, "
                         f"not to Lookahead (got inner={name!r}, inner_convention={inner_convention!r}, "
                         f"{sorted(given)})")
    return inner, {"inner": type(inner).__name__, "inner_convention": inner.convention,
                   "lr": inner.defaults.get("lr")}


def _built(params, name, inner_convention, hyperparameters):
    """The inner optimizer ``name`` built over ``params``, and what ``defaults`` says of it."""
    cls = _inner_class(name)
    convention = inner_convention
    if convention in (None, "auto"):          # the paper's, as Lookahead's own, where the inner one has it
        convention = "paper" if "paper" in cls.DEFAULTS else default_convention(cls)
    hyper = {key: v for key, v in _inner_hyperparameters(hyperparameters).items() if v is not None}
    inner = cls(params, convention=convention, **hyper)
    return inner, {"inner": name if isinstance(name, str) else cls.__name__,
                   "inner_convention": inner_convention or "auto", "lr": hyper.get("lr")}


class Lookahead(Optimizer):
    __doc__ = __doc__
    #: the inner rule may be matrix-wise (Lamb, LARS, Muon): the speed layer leaves the rule whole
    ELEMENTWISE = False
    DEFAULTS = {"paper": {"inner": "adam", "inner_convention": "auto", "k": 5, "alpha": 0.5, "lr": None}}

    def __init__(self, params, k=None, alpha=None, inner=None, inner_convention=None, convention="paper",
                 **inner_hyperparameters):
        if convention not in self.DEFAULTS:
            raise ValueError(f"Lookahead: unknown convention {convention!r}; Lookahead supports "
                             f"{sorted(self.DEFAULTS)} (the inner optimizer's is inner_convention)")
        self.convention = convention
        own = self.DEFAULTS[convention]
        if isinstance(params, Optimizer):
            self.inner, about = _wrapped(params, inner, inner_convention, inner_hyperparameters)
        else:
            self.inner, about = _built(params, own["inner"] if inner is None else inner,
                                       inner_convention, inner_hyperparameters)
        self._check_inner()
        settings = {"k": own["k"] if k is None else k, "alpha": own["alpha"] if alpha is None else alpha}
        self.defaults = {**{key: self.inner.defaults[key] for key in COMMON_DEFAULTS}, **about, **settings}
        self.param_groups = self.inner.param_groups        # the same list: a schedule on either moves both
        self.state = self.inner.state
        self.check_finite = self.inner.check_finite
        self.SUMS_OF_SQUARES = self.inner.SUMS_OF_SQUARES   # the inner rule's sums are screened here too
        for group in self.param_groups:
            group.update({OWN[key]: group.get(OWN[key], settings[key]) for key in OWN})
            self._validate_group(group)
        for p, state in self.state.items():                # an inner optimizer that has stepped already
            if "slow_weights" not in state:
                state.update(slow_weights=p.data.copy(), lookahead_step=0)

    def _check_inner(self):
        inner = self.inner
        if isinstance(inner, Lookahead):
            raise ValueError("Invalid inner: a Lookahead (wrap the innermost optimizer once)")
        if type(inner).step is not Optimizer.step:
            raise ValueError(f"Invalid inner: {type(inner).__name__} has a step() of its own; Lookahead wraps "
                             "optimizers whose step() is the base class's (their rule in update())")

    def add_param_group(self, group):
        """A group for the inner optimizer (its hyperparameters), with ``lookahead_k`` and
        ``lookahead_alpha`` if they differ from the defaults."""
        if not isinstance(group, dict):
            raise TypeError("Lookahead: a param group must be a dict with a 'params' list")
        self.inner.add_param_group({key: v for key, v in group.items() if key not in OWN.values()})
        added = self.param_groups[-1]
        added.update({OWN[key]: group.get(OWN[key], self.defaults[key]) for key in OWN})
        try:
            self._validate_group(added)
        except ValueError:
            self.param_groups.pop()
            raise

    def validate(self, group):
        check_int(group[OWN["k"]], "k", minimum=1)
        check_range(group[OWN["alpha"]], "alpha", 0, 1)
        self.inner.validate(group)

    def decouples_weight_decay(self, group) -> bool:
        return self.inner.decouples_weight_decay(group)

    def train(self) -> None:
        self.inner.train()

    def eval(self) -> None:
        self.inner.eval()

    def init_state(self, w, group):
        state = self.inner.init_state(w, group)
        clash = [key for key in STATE_KEYS if key in state]
        if clash:
            raise ValueError(f"Invalid inner: {type(self.inner).__name__}'s state already has {clash}")
        return {**state, "slow_weights": w.copy(), "lookahead_step": 0}

    def update(self, w, g, state, group):
        self.inner.update(w, g, state, group)             # the fast weights: the inner optimizer's rule
        state["lookahead_step"] += 1
        if state["lookahead_step"] % group["lookahead_k"]:
            theta = w                                     # theta_t, which w_t is (explain shows it)
            return
        theta = w.copy()
        alpha = group["lookahead_alpha"]
        phi = state["slow_weights"]
        phi *= 1 - alpha
        phi += alpha * theta
        w[...] = phi

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict:
        saved = super().state_dict()
        saved["inner"] = {"optimizer": type(self.inner).__name__, "convention": self.inner.convention}
        return saved

    def load_state_dict(self, state_dict: dict) -> None:
        inner = state_dict.get("inner") if isinstance(state_dict, dict) else None
        own = {"optimizer": type(self.inner).__name__, "convention": self.inner.convention}
        if inner is not None and inner != own:
            raise ValueError(f"Lookahead.load_state_dict: the state is of a Lookahead around {inner}, "
                             f"this one wraps {own}")
        super().load_state_dict(state_dict)
        self.inner.param_groups, self.inner.state = self.param_groups, self.state

    def __repr__(self):
        k, alpha = self.defaults["k"], self.defaults["alpha"]
        return f"Lookahead({self.inner!r}, k={k}, alpha={alpha})"

