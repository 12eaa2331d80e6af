"""SGD: hand-computed steps per convention, momentum forms, parity of the fast and teaching paths."""
import numpy as np
import pytest

from minidl import optim
from minidl.optim import SGD
from minidl.tensor import Parameter
from optim_testutil import check_quantities, parity, run_fixed, run_quadratic, torch_trajectory_diff

RTOL = 1e-12


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
def test_plain_gradient_descent_by_hand(convention, float64):
    # f(w) = 0.5*|w|^2, g = w, lr 0.1: w_t = w_{t-1} - 0.1*w_{t-1} = 0.9*w_{t-1}
    # w0 = [1, -2] -> [0.9, -1.8] -> [0.81, -1.62] -> [0.729, -1.458]
    ws = run_quadratic(SGD, 3, lr=0.1, convention=convention)
    np.testing.assert_allclose(ws, [[0.9, -1.8], [0.81, -1.62], [0.729, -1.458]], rtol=RTOL)


@pytest.mark.parametrize("convention", ["keras", "paper"])
def test_keras_heavy_ball_by_hand(convention, float64):
    # g = w, lr 0.1, mu 0.9; v = mu*v - lr*g; w = w + v   (first component; the second is -2x)
    # t=1: v = -0.1*1 = -0.1;                w = 0.9
    # t=2: v = 0.9*(-0.1) - 0.1*0.9 = -0.18;  w = 0.72
    # t=3: v = 0.9*(-0.18) - 0.1*0.72 = -0.162 - 0.072 = -0.234;  w = 0.486
    ws = run_quadratic(SGD, 3, lr=0.1, momentum=0.9, convention=convention)
    np.testing.assert_allclose(ws, [[0.9, -1.8], [0.72, -1.44], [0.486, -0.972]], rtol=RTOL)


@pytest.mark.parametrize("convention", ["keras", "paper"])
def test_keras_nesterov_by_hand(convention, float64):
    # v = mu*v - lr*g; w = w + mu*v - lr*g   (g = w, lr 0.1, mu 0.9; first component)
    # t=1: v = -0.1;                          w = 1 + 0.9*(-0.1) - 0.1 = 0.81
    # t=2: v = -0.09 - 0.081 = -0.171;        w = 0.81 - 0.1539 - 0.081 = 0.5751
    # t=3: v = -0.1539 - 0.05751 = -0.21141;  w = 0.5751 - 0.190269 - 0.05751 = 0.327321
    ws = run_quadratic(SGD, 3, lr=0.1, momentum=0.9, nesterov=True, convention=convention)
    np.testing.assert_allclose(ws, [[0.81, -1.62], [0.5751, -1.1502], [0.327321, -0.654642]], rtol=RTOL)


def test_pytorch_heavy_ball_by_hand(float64):
    # b_1 = g_1; b = mu*b + g; w = w - lr*b   (g = w, lr 0.1, mu 0.9; first component)
    # t=1: b = 1;                    w = 1 - 0.1 = 0.9
    # t=2: b = 0.9 + 0.9 = 1.8;      w = 0.9 - 0.18 = 0.72
    # t=3: b = 1.62 + 0.72 = 2.34;   w = 0.72 - 0.234 = 0.486   (= Keras's with a constant lr)
    ws = run_quadratic(SGD, 3, lr=0.1, momentum=0.9, convention="pytorch")
    np.testing.assert_allclose(ws, [[0.9, -1.8], [0.72, -1.44], [0.486, -0.972]], rtol=RTOL)


def test_pytorch_nesterov_by_hand(float64):
    # w = w - lr*(g + mu*b)
    # t=1: b = 1;                        w = 1 - 0.1*(1 + 0.9) = 0.81
    # t=2: b = 0.9 + 0.81 = 1.71;        w = 0.81 - 0.1*(0.81 + 1.539) = 0.5751
    # t=3: b = 1.539 + 0.5751 = 2.1141;  w = 0.5751 - 0.1*(0.5751 + 1.90269) = 0.327321
    ws = run_quadratic(SGD, 3, lr=0.1, momentum=0.9, nesterov=True, convention="pytorch")
    np.testing.assert_allclose(ws, [[0.81, -1.62], [0.5751, -1.1502], [0.327321, -0.654642]], rtol=RTOL)


def test_pytorch_dampening_by_hand(float64):
    # b_1 = g_1 (no dampening on the first step); b = 0.9*b + (1 - 0.5)*g; w = w - 0.1*b
    # t=1: b = 1;                            w = 0.9
    # t=2: b = 0.9 + 0.45 = 1.35;            w = 0.9 - 0.135 = 0.765
    # t=3: b = 1.215 + 0.3825 = 1.5975;      w = 0.765 - 0.15975 = 0.60525
    ws = run_quadratic(SGD, 3, lr=0.1, momentum=0.9, dampening=0.5, convention="pytorch")
    np.testing.assert_allclose(ws, [[0.9, -1.8], [0.765, -1.53], [0.60525, -1.2105]], rtol=RTOL)


def test_momentum_forms_differ_when_lr_changes(float64):
    # fixed g = 1, w0 = 1, mu 0.9; lr 0.1 at step 1, 0.2 at step 2
    # keras:   v1 = -0.1, w1 = 0.9;  v2 = 0.9*(-0.1) - 0.2*1 = -0.29, w2 = 0.61
    # pytorch: b1 = 1,    w1 = 0.9;  b2 = 0.9*1 + 1 = 1.9,   w2 = 0.9 - 0.2*1.9 = 0.52
    for convention, expected in [("keras", 0.61), ("pytorch", 0.52)]:
        p = Parameter(np.array([1.0]), dtype=np.float64)
        opt = SGD([p], lr=0.1, momentum=0.9, convention=convention)
        p.grad = np.array([1.0])
        opt.step()
        opt.param_groups[0]["lr"] = 0.2
        p.grad = np.array([1.0])
        opt.step()
        np.testing.assert_allclose(p.data, [expected], rtol=RTOL)


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
def test_momentum_zero_is_plain_sgd(convention, float64):
    grads = [[0.5, -1.0], [2.0, 3.0], [-1.5, 0.25], [1.0, 1.0]]
    a = run_fixed(SGD, grads, lr=0.05, momentum=0.0, convention=convention)
    b = run_fixed(SGD, grads, lr=0.05, convention=convention)
    # plain: w_t = w0 - 0.05 * sum(g_1..g_t)
    expected = np.array([1.0, -2.0]) - 0.05 * np.cumsum(np.array(grads), axis=0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, expected, rtol=RTOL)


def test_defaults_per_convention():
    p = Parameter(np.zeros(2))
    assert SGD([p]).defaults["lr"] == 0.01
    assert SGD([p], convention="pytorch").defaults["lr"] == 0.001
    assert SGD([p], convention="paper").defaults["lr"] == 0.01
    assert SGD([p], lr=0.5, convention="pytorch").defaults["lr"] == 0.5
    assert SGD.__doc__ == optim.sgd.__doc__


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
@pytest.mark.parametrize("hyper", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_fast_path_equals_reference(convention, hyper, backend_name, float64):
    worst_w, worst_state, q = parity(SGD, convention, lr=0.01, **hyper)
    assert worst_w == 0.0 and worst_state == 0.0   # bitwise: the same operations in the same order
    check_quantities(q, q[-1][2])


@pytest.mark.parametrize("hyper", [
    {"lr": 0.01}, {"lr": 0.01, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    {"lr": 0.01, "momentum": 0.9, "dampening": 0.3}, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1},
])
def test_pytorch_convention_matches_torch(hyper):
    torch = pytest.importorskip("torch")
    assert torch_trajectory_diff(SGD, torch.optim.SGD, hyper, hyper) <= 1e-12


@pytest.mark.parametrize("bad, name", [
    ({"lr": -0.1}, "lr"), ({"lr": float("nan")}, "lr"), ({"lr": float("inf")}, "lr"),
    ({"momentum": -0.5}, "momentum"), ({"nesterov": True}, "nesterov"), ({"nesterov": 1}, "nesterov"),
    ({"momentum": 0.9, "nesterov": True, "dampening": 0.1, "convention": "pytorch"}, "dampening"),
    ({"dampening": 1.5, "convention": "pytorch"}, "dampening"), ({"dampening": 0.1}, "dampening"),
    ({"convention": "tensorflow"}, "convention"),
])
def test_bad_hyperparameters(bad, name):
    with pytest.raises(ValueError, match=name):
        SGD([Parameter(np.zeros(2))], **bad)
