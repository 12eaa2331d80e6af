"""Helpers shared by the tests of minidl.optim (imported as a sibling module by pytest)."""
import numpy as np
import pytest

from minidl import backend as B
from minidl.tensor import Parameter

W0 = (1.0, -2.0)


def as_grad(g):
    """A float64 gradient array on the active backend."""
    return B.asarray(np.array(g, dtype=np.float64))


def run_steps(cls, steps, grads=None, w0=W0, **hyper):
    """Run ``cls.step()`` ``steps`` times: ``(weights after each step, the optimizer, the Parameter)``.

    The gradient is ``grads[t]``, or, without ``grads``, g = w_{t-1} (f(w) = 0.5 * sum(w^2)).
    """
    p = Parameter(B.asarray(np.array(w0, dtype=np.float64)), dtype=np.float64)
    opt = cls([p], **hyper)
    out = []
    for t in range(steps):
        p.grad = p.data.copy() if grads is None else as_grad(grads[t])
        opt.step()
        out.append(B.to_numpy(p.data).copy())
    return out, opt, p


def run_reference(cls, steps, grads=None, w0=W0, **hyper):
    """The same through ``reference_step`` (the teaching path).

    Returns (weights after each step, ``{symbol: value}`` of each step's quantities).
    """
    opt = cls([Parameter(B.asarray(np.array(w0, dtype=np.float64)), dtype=np.float64)], **hyper)
    group = opt.param_groups[0]
    w = B.asarray(np.array(w0, dtype=np.float64))
    state = opt.initial_state(w, group)
    out, quantities = [], []
    for t in range(steps):
        g = w.copy() if grads is None else as_grad(grads[t])
        w, state, q = opt.reference_step(w, g, state, group)
        out.append(B.to_numpy(w).copy())
        quantities.append({symbol: value for symbol, _, value in q})
    return out, quantities


def run_fixed(cls, grads, w0=W0, **hyper):
    """Weights after each step (one row a step) when the gradient sequence ``grads`` is fed to ``cls``."""
    return np.array(run_steps(cls, len(grads), grads, w0, **hyper)[0])


def run_quadratic(cls, steps, w0=W0, **hyper):
    """Weights after each step (one row a step) on f(w) = 0.5 * sum(w^2), whose gradient is g = w."""
    return np.array(run_steps(cls, steps, None, w0, **hyper)[0])


def resumed_run(cls, grads, w0, split, **hyper):
    """Run the first ``split`` gradients, save ``state_dict``, load it into a new optimizer on the
    same Parameter and run the rest: ``(the saved state_dict, the new optimizer, the Parameter)``."""
    _, first, p = run_steps(cls, split, grads=grads, w0=w0, **hyper)
    saved = first.state_dict()
    resumed = cls([p], **hyper)
    resumed.load_state_dict(saved)
    for g in grads[split:]:
        p.grad = as_grad(g)
        resumed.step()
    return saved, resumed, p


def normal_problem(seed, shape, steps=100, zero_first=False):
    """``(w0, grads)`` drawn from a standard normal; ``zero_first``: the first coordinate's gradient is
    always 0 (so state that stays 0 there, e.g. Adamax's u = 0 branch, is exercised)."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)
    grads = rng.standard_normal((steps, *shape))
    if zero_first:
        grads.reshape(steps, -1)[:, 0] = 0.0
    return w0, list(grads)


def random_problem(steps=100, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)
    # gradients of varying size and sign, so that every branch (sign flips, growth) is hit
    grads = [rng.standard_normal(shape) * (1.0 + (t % 3)) for t in range(steps)]
    return w0, grads


def parity(cls, convention, steps=100, problem=None, **hyper):
    """Run the fast path (``step``) and the teaching path (``reference_step``) side by side.

    ``problem``: ``(w0, grads)``, by default ``random_problem(steps)``. Checks at every step that
    the teaching path leaves its arguments alone and that both paths hold the same state names
    and equal non-array state. Returns (max |w_fast - w_ref| over all steps, max state
    difference, the last quantities).
    """
    w0, grads = random_problem(steps) if problem is None else problem
    p = Parameter(B.asarray(w0.copy()), dtype=np.float64)
    opt = cls([p], convention=convention, **hyper)
    group = opt.param_groups[0]
    w = B.asarray(w0.copy())
    state = opt.initial_state(w, group)
    worst_w = worst_state = 0.0
    q = None
    for g in grads:
        g = B.asarray(g)
        p.grad = g.copy()
        opt.step()
        w_before, g_before = w.copy(), g.copy()
        state_before = {k: (v.copy() if B.is_array(v) else v) for k, v in state.items()}
        new_w, new_state, q = opt.reference_step(w, g, state, group)
        # the teaching path is pure: its arguments are left as they were
        assert np.array_equal(B.to_numpy(w), B.to_numpy(w_before))
        assert np.array_equal(B.to_numpy(g), B.to_numpy(g_before))
        for k, v in state_before.items():
            assert np.array_equal(B.to_numpy(state[k]), B.to_numpy(v)) if B.is_array(v) else state[k] == v
        w, state = new_w, new_state
        worst_w = max(worst_w, float(np.abs(B.to_numpy(p.data) - B.to_numpy(w)).max()))
        fast_state = opt.state[p]
        assert set(fast_state) == set(state), (sorted(fast_state), sorted(state))
        for k, v in state.items():
            if B.is_array(v):
                worst_state = max(worst_state, float(np.abs(B.to_numpy(fast_state[k]) - B.to_numpy(v)).max()))
            else:
                assert fast_state[k] == v, k
    return worst_w, worst_state, q


def check_quantities(q, new_w):
    """The quantities list: (symbol, description, value) from g to w, the last being the new weights."""
    assert q[0][0] == "g" and q[-1][0] == "w"
    for item in q:
        assert len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)
    assert np.array_equal(B.to_numpy(q[-1][2]), B.to_numpy(new_w))
    symbols = [s for s, _, _ in q]
    assert len(symbols) == len(set(symbols)), symbols


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype (NAdam keeps mu_product in it); skips without torch."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def torch_run(torch_cls, w0, grads, **torch_hyper):
    """``torch_cls`` run on the gradients ``grads`` from ``w0`` in float64: ``(its parameter, the optimizer)``."""
    import torch

    tp = torch.tensor(np.array(w0, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    topt = torch_cls([tp], **torch_hyper)
    for g in grads:
        tp.grad = torch.tensor(np.array(g, dtype=np.float64), dtype=torch.float64)
        topt.step()
    return tp, topt


def torch_trajectory_diff(cls, torch_cls, hyper, torch_hyper, steps=100):
    """Max |w_minidl - w_torch| over ``steps`` steps on the random problem, in float64."""
    import torch

    w0, grads = random_problem(steps, seed=1)
    p = Parameter(w0.copy(), dtype=np.float64)
    opt = cls([p], convention="pytorch", **hyper)
    tp = torch.tensor(w0.copy(), dtype=torch.float64, requires_grad=True)
    topt = torch_cls([tp], **torch_hyper)
    worst = 0.0
    for g in grads:
        p.grad = g.copy()
        opt.step()
        tp.grad = torch.tensor(g.copy(), dtype=torch.float64)
        topt.step()
        worst = max(worst, float(np.abs(p.data - tp.detach().numpy()).max()))
    return worst
