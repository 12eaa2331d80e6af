"""Helpers of the optimizer tests (tests/ is on sys.path): the record of a hand-computed run,
runs of minidl and of torch.optim on the same gradients, test problems."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from minidl import backend as B
from minidl import optim
from minidl.optim.trace import trace_update
from minidl.tensor import Parameter

W0 = (1.0, -2.0)
#: the parameters of the per-variant tests: a layer's weight and its bias
DEFAULT_SHAPES = ((3, 4), (4,))


@dataclass(frozen=True)
class Hand:
    """A run worked out by hand (the arithmetic sits in a comment beside it).

    ``expected``: the weights after each step of ``convention`` with ``hyper``, from ``w0``.
    ``grads``: g_t of each step; None: g_t = w_{t-1} (f(w) = 0.5 * |w|^2), as many steps as rows.
    ``trace``: ``{t: {name: value}}``, the rule's local variables at step t (from 1), named as
    in the docstring's formula, read with ``trace_update``.  ``state``: the state after the
    last step.  ``rtol``: for all of them.  ``what`` names the case in the test id.
    """

    what: str
    convention: str
    expected: tuple
    hyper: dict = field(default_factory=dict)
    grads: tuple | None = None
    w0: tuple = W0
    trace: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    rtol: float = 1e-12


@dataclass(frozen=True)
class Spec:
    """What the tests know of one registered optimizer (one entry of ``optim_cases.TABLE``).

    variants        hyperparameters run under every convention that has them all
    defaults        {convention: {name: documented default}}
    hand            ``Hand`` runs, short and 17-digit
    bad             (keyword arguments, fragment of the ValueError's message)
    torch           the torch.optim class of the pytorch convention; torch_variants its runs;
                    torch_names: our name -> torch's, for hyperparameters and state alike
    keras           (transcription of Keras 3, our hyperparameters, its keyword arguments)
    keras_class     the class of ``keras.optimizers`` of the keras convention, run on keras_variants
                    (our hyperparameters; by default those of the transcriptions) where Keras 3 is installed
    quadratic, rosenbrock   (hyperparameters, threshold that f must be under after the steps)
    overflow_state  the state a float32 gradient of 3e38 turns Inf (its square overflows),
                    None where the rule squares nothing and takes a finite step
    properties      functions that check the optimizer's own properties (each asserts)

    Where a property of the per-variant tests does not hold for a rule, the field that says so
    gives the reason, and the tests check what holds instead:

    shapes          {convention: the shapes of the two parameters of the per-variant tests}; a
                    convention not named gets a (3, 4) weight and a (4,) bias (Muon under the
                    pytorch convention takes 2-D parameters only, as torch.optim.Muon)
    setup_calls     the calls of step() that only set state and leave the weights where they are
                    (ADOPT's first call sets v_0 = g_0^2): the first step is the call after them
    mixes_coordinates  why the first step does not go against the gradient coordinate by
                    coordinate (Muon's step is the orthogonalized momentum: a coordinate whose
                    gradient is 0 moves too); it is then only a descent direction,
                    sum((w_0 - w_1) * g_1) > 0, as every rule's first step is
    weights_from_state  for a rule that computes its weights afresh from its state instead of
                    stepping from w_{t-1} (Ftrl's closed form): ``f(state, group) -> weights``,
                    its docstring saying why; a zero gradient may move such weights and the first
                    step need not go against the gradient, so the per-variant tests check instead
                    that after every step (zero gradients among them) the weights are f of the state
    """

    name: str
    defaults: dict
    variants: tuple = ({},)
    hand: tuple = ()
    bad: tuple = ()
    torch: str | None = None
    torch_variants: tuple = ({},)
    torch_names: dict = field(default_factory=dict)
    keras: tuple = ()
    keras_class: str | None = None
    keras_variants: tuple = ()
    quadratic: tuple = ({}, 0.0)
    rosenbrock: tuple = ({}, 0.0)
    overflow_state: str | None = None
    properties: tuple = ()
    shapes: dict = field(default_factory=dict)
    setup_calls: int = 0
    mixes_coordinates: str = ""
    weights_from_state: object = None

    @property
    def cls(self):
        return optim.REGISTRY[self.name]

    def keras_runs(self):
        """Our hyperparameters of every run against real Keras 3."""
        return self.keras_variants or tuple(ours for _, ours, _ in self.keras)

    def cases(self):
        """``(convention, variant)`` for every convention and every variant it accepts."""
        return [(c, v) for c in self.cls.DEFAULTS for v in self.variants if set(v) <= set(self.cls.DEFAULTS[c])]

    def shapes_for(self, convention) -> tuple:
        """The shapes of the two parameters of the per-variant tests under ``convention``."""
        return self.shapes.get(convention, DEFAULT_SHAPES)


def parameter(values, dtype=np.float64, name=None) -> Parameter:
    return Parameter(B.asarray(np.array(values, dtype=dtype)), dtype=dtype, name=name)


def run_steps(name, grads, w0=W0, dtype=np.float64, **hyper):
    """``optim.create(name)`` stepped on ``grads`` (None in the list: g_t = w_{t-1}) from ``w0``:
    ``(weights after each step as numpy arrays, the optimizer, the Parameter)``."""
    p = parameter(w0, dtype)
    opt = optim.create(name, [p], **hyper)
    out = []
    for g in grads:
        p.grad = p.data.copy() if g is None else B.asarray(np.array(g, dtype=dtype))
        opt.step()
        out.append(B.to_numpy(p.data).copy())
    return out, opt, p


def gradients_of(case: Hand):
    return list(case.grads) if case.grads is not None else [None] * len(case.expected)


def traced_steps(name, case: Hand):
    """The case run through the rule alone, ``trace_update`` at every step (no gradient checks,
    clipping or weight decay: only for cases without them): ``(weights, locals of each step)``."""
    p = parameter(case.w0)
    opt = optim.create(name, [p], convention=case.convention, **case.hyper)
    group = opt.param_groups[0]
    weights, traces = [], []
    for g in gradients_of(case):
        g = p.data.copy() if g is None else B.asarray(np.array(g, dtype=np.float64))
        traces.append(trace_update(opt, p.data, g, opt.state_for(p, group), group)["update"])
        weights.append(B.to_numpy(p.data).copy())
    return weights, traces


def problem(seed, shape=(3, 4), steps=100):
    """``(w0, grads)`` from a standard normal; the gradients vary in size (x1, x2, x3) and sign,
    and the first coordinate's gradient is always 0 (state that stays 0 there, e.g. Adamax's u,
    and steps of 0 / (0 + eps))."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) * (1.0 + t % 3) for t in range(steps)]
    for g in grads:
        g.reshape(-1)[0] = 0.0
    return w0, grads


def host(value):
    return B.to_numpy(value) if B.is_array(value) else value


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype (NAdam keeps mu_product in it); skips without torch."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def torch_steps(torch_cls, w0, grads, **torch_hyper):
    """``torch_cls`` stepped on ``grads`` from ``w0`` in float64: ``(weights after each step, its
    state as {name: numpy array or number})``."""
    import torch

    tp = torch.tensor(np.array(w0, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    topt = torch_cls([tp], **torch_hyper)
    out = []
    for g in grads:
        tp.grad = torch.tensor(np.array(g, dtype=np.float64), dtype=torch.float64)
        topt.step()
        out.append(tp.detach().numpy().copy())
    state = {k: (v.detach().numpy().copy() if v.ndim else v.item()) for k, v in topt.state[tp].items()
             if isinstance(v, torch.Tensor)}
    return out, state
