"""Rprop: hand-computed steps (PyTorch's iRprop- and the paper's Rprop+), step-size limits, parity, torch."""
import numpy as np
import pytest

from minidl import optim
from minidl.optim import Rprop
from minidl.tensor import Parameter
from optim_testutil import check_quantities, parity, random_problem, run_fixed, torch_trajectory_diff

RTOL = 1e-12
# first component keeps its sign; the second flips at t=2, is 0*prev at t=3, flips again at t=4
GRADS = [[1.0, -2.0], [3.0, 1.0], [2.0, -1.0], [1.0, 1.0]]


def test_pytorch_defaults_by_hand(float64):
    # lr (delta_0) 0.01, etas (0.5, 1.2); g_prev starts at 0
    # t=1: s = sign([1*0, -2*0]) = [0, 0];  delta = [0.01, 0.01];  g_prev = [1, -2]
    #      w = [1 - 0.01, -2 + 0.01] = [0.99, -1.99]
    # t=2: s = sign([3*1, 1*(-2)]) = [1, -1];  delta = [0.012, 0.005];  g_prev = [3, 0]
    #      w = [0.99 - 0.012, -1.99 - 0] = [0.978, -1.99]
    # t=3: s = sign([2*3, -1*0]) = [1, 0];  delta = [0.0144, 0.005];  g_prev = [2, -1]
    #      w = [0.978 - 0.0144, -1.99 + 0.005] = [0.9636, -1.985]
    # t=4: s = sign([1*2, 1*(-1)]) = [1, -1];  delta = [0.01728, 0.0025];  g_prev = [1, 0]
    #      w = [0.9636 - 0.01728, -1.985] = [0.94632, -1.985]
    ws = run_fixed(Rprop, GRADS)
    np.testing.assert_allclose(ws, [[0.99, -1.99], [0.978, -1.99], [0.9636, -1.985], [0.94632, -1.985]],
                               rtol=RTOL)


def test_paper_rprop_plus_by_hand(float64):
    # lr (delta_0) 0.1, etas (0.5, 1.2); dw_t = -dw_{t-1} where the sign flipped (backtracking)
    # t=1: s = [0, 0];  delta = [0.1, 0.1];  dw = [-0.1, 0.1];  g_prev = [1, -2];  w = [0.9, -1.9]
    # t=2: s = [1, -1];  delta = [0.12, 0.05];  dw = [-0.12, -0.1 (undo +0.1)];  g_prev = [3, 0]
    #      w = [0.78, -2.0]
    # t=3: s = [1, 0];  delta = [0.144, 0.05];  dw = [-0.144, +0.05];  g_prev = [2, -1];  w = [0.636, -1.95]
    # t=4: s = [1, -1];  delta = [0.1728, 0.025];  dw = [-0.1728, -0.05 (undo)];  g_prev = [1, 0]
    #      w = [0.4632, -2.0]
    ws = run_fixed(Rprop, GRADS, convention="paper")
    np.testing.assert_allclose(ws, [[0.9, -1.9], [0.78, -2.0], [0.636, -1.95], [0.4632, -2.0]], rtol=RTOL)


def test_default_convention_is_pytorch_and_keras_is_refused():
    p = Parameter(np.zeros(2))
    assert Rprop([p]).convention == "pytorch"
    assert set(Rprop.DEFAULTS) == {"pytorch", "paper"}
    assert Rprop([p]).defaults["lr"] == 0.01 and Rprop([p], convention="paper").defaults["lr"] == 0.1
    with pytest.raises(ValueError, match="keras"):
        Rprop([p], convention="keras")
    with pytest.raises(ValueError, match="keras"):
        optim.create("rprop", [p], convention="keras")
    assert Rprop.__doc__ == optim.rprop.__doc__


@pytest.mark.parametrize("convention", ["pytorch", "paper"])
def test_step_sizes_stay_within_limits(convention, float64):
    limits = (1e-3, 0.05)
    w0, grads = random_problem(80)
    # a run of same-sign gradients (growth up to the cap) then random signs (shrinking to the floor)
    grads = [np.abs(g) + 0.1 for g in grads[:40]] + grads[40:] + [np.where(t % 2, 1.0, -1.0) * np.ones_like(w0)
                                                                 for t in range(30)]
    p = Parameter(w0.copy(), dtype=np.float64)
    opt = Rprop([p], lr=0.01, step_sizes=limits, convention=convention)
    seen_max = seen_min = False
    for g in grads:
        p.grad = g
        opt.step()
        s = opt.state[p]["step_size"]
        assert np.all(s >= limits[0]) and np.all(s <= limits[1])
        seen_max |= bool(np.any(s == limits[1]))
        seen_min |= bool(np.any(s == limits[0]))
    assert seen_max and seen_min


def test_lr_outside_limits_is_clipped_on_the_first_step(float64):
    ws = run_fixed(Rprop, [[1.0, -1.0]], lr=100.0)  # delta_1 = clip(1 * 100, 1e-6, 50) = 50
    np.testing.assert_allclose(ws, [[-49.0, 48.0]], rtol=RTOL)


@pytest.mark.parametrize("convention", ["pytorch", "paper"])
def test_fast_path_equals_reference(convention, backend_name, float64):
    worst_w, worst_state, q = parity(Rprop, convention, lr=0.05)
    assert worst_w == 0.0 and worst_state == 0.0   # bitwise: the same operations in the same order
    check_quantities(q, q[-1][2])


@pytest.mark.parametrize("hyper", [{}, {"lr": 0.5, "etas": (0.3, 1.5), "step_sizes": (0.01, 1.0)}])
def test_pytorch_convention_matches_torch(hyper):
    torch = pytest.importorskip("torch")
    assert torch_trajectory_diff(Rprop, torch.optim.Rprop, hyper, hyper) <= 1e-12


@pytest.mark.parametrize("bad, name", [
    ({"lr": -1.0}, "lr"), ({"etas": (1.5, 1.2)}, "etas"), ({"etas": (0.5, 0.9)}, "etas"), ({"etas": (0.0, 1.2)}, "etas"),
    ({"etas": 0.5}, "etas"), ({"etas": (0.5, float("nan"))}, "etas"), ({"step_sizes": (1.0, 0.1)}, "step_sizes"),
    ({"step_sizes": (-1.0, 1.0)}, "step_sizes"), ({"step_sizes": (0.0, 0.0)}, "step_sizes"),
    ({"step_sizes": (1e-6,)}, "step_sizes"), ({"momentum": 0.9}, "momentum"),
])
def test_bad_hyperparameters(bad, name):
    with pytest.raises(ValueError, match=name):
        Rprop([Parameter(np.zeros(2))], **bad)
