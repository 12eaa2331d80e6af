"""Adadelta: hand-computed steps per convention, path parity, torch."""
import numpy as np
import pytest

from minidl import optim
from minidl.optim import Adadelta
from minidl.tensor import Parameter
from optim_testutil import check_quantities, parity, run_fixed, torch_trajectory_diff

RTOL = 1e-12
CONST = [[1.0, -2.0]] * 3  # g = [1, -2] at every step; first component worked out below


def test_keras_defaults_by_hand(float64):
    # lr 0.001, rho 0.95, eps 1e-7; v = E[g^2], u = E[dx^2] start at 0
    # t=1: v = 0.05;  dx = sqrt(0 + 1e-7)/sqrt(0.0500001) = 3.16228e-4/0.223607 = 1.414213e-3
    #      u = 0.05*dx^2 = 1.0e-7;  w = 1 - 0.001*1.414213e-3 = 0.99999858579
    # t=2: v = 0.0475 + 0.05 = 0.0975;  dx = sqrt(2.0e-7)/sqrt(0.0975001) = 4.47214e-4/0.31225 = 1.432228e-3
    #      u = 9.5e-8 + 0.05*2.05128e-6 = 1.97564e-7;  w = 0.99999858579 - 1.432228e-6 = 0.99999715356
    # t=3: v = 0.092625 + 0.05 = 0.142625;  dx = sqrt(2.97564e-7)/sqrt(0.1426251) = 5.45495e-4/0.377657 = 1.444419e-3
    #      w = 0.99999715356 - 1.444419e-6 = 0.99999570914
    # (second component, g = -2: the same with 4x the squares, dx nearly the same size, opposite sign)
    ws = run_fixed(Adadelta, CONST)
    np.testing.assert_allclose(ws, [[0.9999985857878518, -1.9999985857867912],
                                    [0.9999971535595543, -1.9999971535574057],
                                    [0.9999957091445284, -1.999995709141276]], rtol=RTOL)


def test_pytorch_defaults_by_hand(float64):
    # lr 1.0, rho 0.9, eps 1e-6
    # t=1: v = 0.1;  dx = sqrt(1e-6)/sqrt(0.100001) = 1e-3/0.3162293 = 3.162262e-3;  u = 0.1*dx^2 = 0.99999e-6
    #      w = 1 - 3.162262e-3 = 0.99683774
    # t=2: v = 0.09 + 0.1 = 0.19;  dx = sqrt(1.99999e-6)/sqrt(0.190001) = 1.41421e-3/0.4358911 = 3.244412e-3
    #      u = 0.9e-6 + 0.1*1.052621e-5 = 1.95261e-6;  w = 0.99683774 - 3.244412e-3 = 0.99359333
    # t=3: v = 0.171 + 0.1 = 0.271;  dx = sqrt(2.95261e-6)/sqrt(0.271001) = 1.718316e-3/0.5205776 = 3.300789e-3
    #      w = 0.99359333 - 3.300789e-3 = 0.99029254
    ws = run_fixed(Adadelta, CONST, convention="pytorch")
    np.testing.assert_allclose(ws, [[0.9968377381511013, -1.9968377262926713],
                                    [0.9935933263774006, -1.9935933020323082],
                                    [0.9902925376532413, -1.9902925004387857]], rtol=RTOL)


def test_paper_defaults_by_hand(float64):
    # Zeiler 2012: lr 1 (none in the paper), rho 0.95, eps 1e-6
    # t=1: v = 0.05;  dx = 1e-3/sqrt(0.050001) = 1e-3/0.223609 = 4.472091e-3;  u = 0.05*2.0e-5 = 1.0e-6
    #      w = 1 - 4.472091e-3 = 0.99552791
    # t=2: v = 0.0975;  dx = sqrt(2.0e-6)/sqrt(0.097501) = 1.414214e-3/0.3122515 = 4.529062e-3
    #      u = 0.95e-6 + 0.05*2.051240e-5 = 1.97562e-6;  w = 0.99552791 - 4.529062e-3 = 0.99099885
    # t=3: v = 0.142625;  dx = sqrt(2.97562e-6)/sqrt(0.142626) = 1.724999e-3/0.3776586 = 4.567669e-3
    #      w = 0.99099885 - 4.567669e-3 = 0.98643118
    ws = run_fixed(Adadelta, CONST, convention="paper")
    np.testing.assert_allclose(ws, [[0.9955279087656892, -1.9955278752252983],
                                    [0.9909988465001559, -1.9909987785566108],
                                    [0.98643124701773, -1.9864311441691227]], rtol=RTOL)


def test_defaults_per_convention():
    p = Parameter(np.zeros(2))
    got = {c: tuple(Adadelta([p], convention=c).defaults[k] for k in ("lr", "rho", "eps"))
           for c in ("keras", "pytorch", "paper")}
    assert got == {"keras": (0.001, 0.95, 1e-7), "pytorch": (1.0, 0.9, 1e-6), "paper": (1.0, 0.95, 1e-6)}
    assert Adadelta.__doc__ == optim.adadelta.__doc__


def test_keras_with_paper_hyperparameters_is_the_paper(float64):
    a = run_fixed(Adadelta, [[0.3, -1.0], [0.5, 2.0], [-1.0, 0.1]], lr=1.0, eps=1e-6)
    b = run_fixed(Adadelta, [[0.3, -1.0], [0.5, 2.0], [-1.0, 0.1]], convention="paper")
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("convention", ["keras", "pytorch", "paper"])
def test_fast_path_equals_reference(convention, backend_name, float64):
    worst_w, worst_state, q = parity(Adadelta, convention)
    assert worst_w == 0.0 and worst_state == 0.0   # bitwise: the same operations in the same order
    check_quantities(q, q[-1][2])
    assert [s for s, _, _ in q] == ["g", "v", "dx", "u", "w"]


@pytest.mark.parametrize("hyper", [{}, {"rho": 0.5, "lr": 0.5}, {"weight_decay": 0.1, "eps": 1e-4}])
def test_pytorch_convention_matches_torch(hyper):
    torch = pytest.importorskip("torch")
    assert torch_trajectory_diff(Adadelta, torch.optim.Adadelta, hyper, hyper) <= 1e-12


@pytest.mark.parametrize("bad, name", [
    ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"rho": -0.01}, "rho"), ({"rho": 1.01}, "rho"),
    ({"rho": float("nan")}, "rho"), ({"eps": 0.0}, "eps"), ({"eps": -1.0}, "eps"),
    ({"momentum": 0.9}, "momentum"), ({"convention": "zeiler"}, "convention"),
])
def test_bad_hyperparameters(bad, name):
    with pytest.raises(ValueError, match=name):
        Adadelta([Parameter(np.zeros(2))], **bad)
