"""Adagrad: hand-computed steps per convention, the never-increasing rate, path parity, torch."""
import numpy as np
import pytest

from minidl import optim
from minidl.optim import Adagrad
from minidl.tensor import Parameter
from optim_testutil import check_quantities, parity, random_problem, run_fixed, torch_trajectory_diff

RTOL = 1e-12


def test_keras_defaults_by_hand(float64):
    # lr 0.001, a_0 = 0.1, eps 1e-7 inside the sqrt; w0 = [1, -2], g = [1, -2] every step
    # a_t = 0.1 + t*g^2 = [1.1, 4.1], [2.1, 8.1], [3.1, 12.1]
    # t=1: w = 1 - 0.001*1/sqrt(1.1000001) = 1 - 0.001/1.048808896... = 0.99904653745409...
    #      w = -2 + 0.001*2/sqrt(4.1000001) = -2 + 0.002/2.024845673... = -1.99901227041539...
    # t=2: w = 0.999046537... - 0.001/sqrt(2.1000001) = 0.999046537... - 0.000690065... = 0.99835647191118...
    #      w = -1.999012270... + 0.002/sqrt(8.1000001) = ... + 0.000702728... = -1.99830954205080...
    # t=3: w = 0.998356471... - 0.001/sqrt(3.1000001) = ... - 0.000567961... = 0.99778851008609...
    #      w = -1.998309542... + 0.002/sqrt(12.1000001) = ... + 0.000574959... = -1.99773458247860...
    ws = run_fixed(Adagrad, [[1.0, -2.0]] * 3)
    np.testing.assert_allclose(ws, [[0.9990465374540937, -1.9990122704153959],
                                    [0.9983564719111814, -1.9983095420508075],
                                    [0.997788510086095, -1.9977345824786072]], rtol=RTOL)


GRADS = [[3.0, 4.0], [4.0, 3.0], [12.0, 0.0]]  # a_t = [9, 16], [25, 25], [169, 25]: perfect squares


def test_pytorch_lr_decay_by_hand(float64):
    # lr 0.01, lr_decay 0.5: lr_t = 0.01/(1 + 0.5*(t-1)) = 0.01, 0.01/1.5, 0.005; eps 1e-10 outside sqrt
    # t=1: w = 1 - 0.01*3/(3 + 1e-10) = 0.99000000000033...;  w = -2 - 0.01*4/(4 + 1e-10) = -2.00999999999975
    # t=2: w -= (0.01/1.5)*4/(5 + 1e-10) = 0.00533333333322 -> 0.98466666666711
    #      w -= (0.01/1.5)*3/(5 + 1e-10) = 0.004                -> -2.01399999999967
    # t=3: w -= 0.005*12/(13 + 1e-10) = 0.00461538461535      -> 0.98005128205176
    #      w -= 0.005*0/(5 + 1e-10) = 0                        -> -2.01399999999967
    ws = run_fixed(Adagrad, GRADS, convention="pytorch", lr_decay=0.5)
    np.testing.assert_allclose(ws, [[0.9900000000003333, -2.00999999999975],
                                    [0.9846666666671067, -2.01399999999967],
                                    [0.9800512820517575, -2.01399999999967]], rtol=RTOL)


def test_paper_defaults_by_hand(float64):
    # lr 0.01, a_0 = 0, eps 1e-10 outside the sqrt (Duchi et al.'s delta + ||g_1:t||)
    # t=1: w = 1 - 0.01*3/(3 + 1e-10) = 0.99000000000033;   w = -2 - 0.01*4/(4 + 1e-10) = -2.00999999999975
    # t=2: w -= 0.01*4/(5 + 1e-10) = 0.008 -> 0.98200000000049; w -= 0.01*3/(5 + 1e-10) = 0.006 -> -2.01599999999963
    # t=3: w -= 0.01*12/(13 + 1e-10) = 0.00923076923... -> 0.97276923076980;  second unchanged (g = 0)
    ws = run_fixed(Adagrad, GRADS, convention="paper")
    np.testing.assert_allclose(ws, [[0.9900000000003333, -2.00999999999975],
                                    [0.9820000000004934, -2.01599999999963],
                                    [0.9727692307697952, -2.01599999999963]], rtol=RTOL)


def test_defaults_per_convention():
    p = Parameter(np.zeros(2))
    k, t, pa = (Adagrad([p], convention=c).defaults for c in ("keras", "pytorch", "paper"))
    assert (k["lr"], k["initial_accumulator_value"], k["eps"]) == (0.001, 0.1, 1e-7)
    assert (t["lr"], t["initial_accumulator_value"], t["eps"], t["lr_decay"]) == (0.01, 0.0, 1e-10, 0.0)
    assert (pa["lr"], pa["initial_accumulator_value"], pa["eps"]) == (0.01, 0.0, 1e-10)
    assert "lr_decay" not in k and "lr_decay" not in pa
    assert Adagrad.__doc__ == optim.adagrad.__doc__


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
def test_effective_rate_never_increases(convention, float64):
    w0, grads = random_problem(60)
    p = Parameter(w0.copy(), dtype=np.float64)
    opt = Adagrad([p], lr=0.1, convention=convention)
    eps = opt.defaults["eps"]
    previous = None
    for g in grads[:30] + [np.zeros_like(w0)] * 5 + grads[30:]:
        p.grad = g
        opt.step()
        a = opt.state[p]["sum"]
        rate = 0.1 / np.sqrt(a + eps) if convention == "keras" else 0.1 / (np.sqrt(a) + eps)
        if previous is not None:
            assert np.all(rate <= previous)
        previous = rate


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
def test_fast_path_equals_reference(convention, backend_name, float64):
    extra = {"lr_decay": 0.01} if convention == "pytorch" else {}
    worst_w, worst_state, q = parity(Adagrad, convention, lr=0.1, **extra)
    assert worst_w == 0.0 and worst_state == 0.0   # bitwise: the same operations in the same order
    check_quantities(q, q[-1][2])
    assert [s for s, _, _ in q] == (["g", "a", "lr_t", "step", "w"] if convention == "pytorch"
                                    else ["g", "a", "step", "w"])


@pytest.mark.parametrize("hyper", [{}, {"lr_decay": 0.01, "initial_accumulator_value": 0.1},
                                   {"weight_decay": 0.1, "eps": 1e-6}])
def test_pytorch_convention_matches_torch(hyper):
    torch = pytest.importorskip("torch")
    assert torch_trajectory_diff(Adagrad, torch.optim.Adagrad, hyper, hyper) <= 1e-12


@pytest.mark.parametrize("bad, name", [
    ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"eps": 0.0}, "eps"), ({"eps": -1e-8}, "eps"),
    ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ({"lr_decay": -0.1, "convention": "pytorch"}, "lr_decay"), ({"lr_decay": 0.1}, "lr_decay"),
    ({"rho": 0.9}, "rho"), ({"convention": "chainer"}, "convention"),
])
def test_bad_hyperparameters(bad, name):
    with pytest.raises(ValueError, match=name):
        Adagrad([Parameter(np.zeros(2))], **bad)
