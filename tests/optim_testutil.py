"""Helpers shared by the tests of minidl.optim (imported as a sibling module by pytest)."""
import numpy as np

from minidl import backend as B
from minidl.tensor import Parameter

W0 = (1.0, -2.0)


def run_fixed(cls, grads, w0=W0, **hyper):
    """Weights after each step when the gradient sequence ``grads`` is fed to ``cls``."""
    p = Parameter(B.asarray(np.array(w0, dtype=np.float64)), dtype=np.float64)
    opt = cls([p], **hyper)
    out = []
    for g in grads:
        p.grad = B.asarray(np.array(g, dtype=np.float64))
        opt.step()
        out.append(B.to_numpy(p.data).copy())
    return np.array(out)


def run_quadratic(cls, steps, w0=W0, **hyper):
    """Weights after each step on f(w) = 0.5 * sum(w^2), whose gradient is g = w."""
    p = Parameter(B.asarray(np.array(w0, dtype=np.float64)), dtype=np.float64)
    opt = cls([p], **hyper)
    out = []
    for _ in range(steps):
        p.grad = p.data.copy()
        opt.step()
        out.append(B.to_numpy(p.data).copy())
    return np.array(out)


def random_problem(steps=100, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)
    # gradients of varying size and sign, so that every branch (sign flips, growth) is hit
    grads = [rng.standard_normal(shape) * (1.0 + (t % 3)) for t in range(steps)]
    return w0, grads


def parity(cls, convention, steps=100, **hyper):
    """Run the fast path (``step``) and the teaching path (``reference_step``) side by side.

    Returns (max |w_fast - w_ref| over all steps, max state difference, the last quantities).
    """
    w0, grads = random_problem(steps)
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
