"""Adamax: hand-computed steps per convention (where eps sits), parity of the fast path with the
teaching path, with torch.optim.Adamax and with an independent transcription of Keras 3's Adamax."""
import numpy as np
import pytest

from minidl.optim import Adamax
from minidl.tensor import Parameter
from optim_testutil import W0, normal_problem, parity, resumed_run, run_reference, run_steps, torch_run

CONVENTIONS = ["keras", "pytorch", "paper"]


# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults:
# keras lr 0.001, eps 1e-7; pytorch lr 0.002, eps 1e-8; paper lr 0.002, no eps; beta1 0.9, beta2 0.999.
# t=1: m = 0.1*g = [0.1, -0.2]; lr_t = lr/(1 - 0.9) = 10*lr
#   keras:   u = max(0, |g|) = [1, 2];  delta = 0.01*[0.1, -0.2]/(u + 1e-7) = [9.999999000000100e-4, -9.9999995000000261e-4]
#   pytorch: u = max(0, |g| + 1e-8) = [1.00000001, 2.00000001]; delta = 0.02*m/u = [1.999999980e-3, -1.999999990e-3]
#   paper:   u = [1, 2]; delta = 0.02*[0.1, -0.2]/[1, 2] = [0.002, -0.002]  -> w_1 = [0.998, -1.998]
# t=2: lr_t = lr/0.19
#   keras:   g = [0.9990000001, -1.99900000005]; m = [0.18990000000999999, -0.37990000000500002];
#            u = max(0.999*[1, 2], |g|) = |g| (0.9990000001 > 0.999); delta = [1.0004740581738786e-3, -1.000236910536838e-3]
#   pytorch: m = [0.189800000002, -0.379800000001]; u = max(0.999*u_1, |g| + 1e-8) = [0.99900000999, 1.99800001001]
#            (beta2*u_1 wins); delta = 0.002/0.19*m/u = [1.9998946114957064e-3, -2.0009483067182877e-3]
#   paper:   m = [0.1898, -0.3798]; u = max([0.999, 1.998], [0.998, 1.998]) = [0.999, 1.998];
#            delta = 0.002/0.19*m/u = [1.999894631473579e-3, -2.0009483167377903e-3]
# t=3: lr_t = lr/0.271
#   keras:   m = [0.27070995261318259, -0.54170997631844631]; u = [0.9980010000999, 1.9979997631394633];
#            delta = [1.0009304742648031e-3, -1.0004654348535148e-3]
#   pytorch: m = [0.27042001054265041, -0.54141990517122818]; u = [0.99800100998000996, 1.99600200999999];
#            delta = [1.9997170494257159e-3, -2.0018611390838518e-3]
#   paper:   m = [0.27042001053685266, -0.54141990516832628]; u = [0.998001, 1.996002];
#            delta = [1.9997170693800128e-3, -2.0018611491024662e-3]
HAND = {
    "keras": [[0.99900000010000001, -1.9990000000499999],
              [0.99799952604182607, -1.9979997631394633],
              [0.99699859556756132, -1.9969992977046096]],
    "pytorch": [[0.99800000002, -1.99800000001],
                [0.99600010540850425, -1.9959990517032817],
                [0.99400038835907856, -1.9939971905641978]],
    "paper": [[0.998, -1.998],
              [0.99600010536852646, -1.9959990516832622],
              [0.99400038829914639, -1.9939971905341598]],
}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_three_steps_match_hand_computation(convention):
    fast, _, _ = run_steps(Adamax, 3, convention=convention)
    ref, _ = run_reference(Adamax, 3, convention=convention)
    for t in range(3):
        np.testing.assert_allclose(fast[t], HAND[convention][t], rtol=1e-12, atol=0)
        np.testing.assert_allclose(ref[t], HAND[convention][t], rtol=1e-12, atol=0)


def test_where_eps_sits():
    # a zero gradient: keras and paper keep u = 0, pytorch stores |g| + eps = eps in u; nobody moves
    for convention, u in [("keras", 0.0), ("paper", 0.0), ("pytorch", 1e-8)]:
        out, opt, p = run_steps(Adamax, 2, grads=[[0.0, 0.0]] * 2, convention=convention)
        assert np.array_equal(out[-1], W0)
        np.testing.assert_allclose(opt.state[p]["exp_inf"], [u, u], rtol=1e-12)


def test_paper_zero_infinity_norm_gives_no_nan():
    # paper convention, beta2 = 0: u_2 = |g_2| = 0 while m_2 != 0; the step is taken as 0 there
    out, _, _ = run_steps(Adamax, 2, grads=[[1.0, 1.0], [0.0, 1.0]], convention="paper", beta2=0.0)
    assert np.all(np.isfinite(out[-1]))
    assert out[-1][0] == out[0][0]


def test_defaults_per_convention():
    p = [Parameter(np.zeros(2))]
    assert Adamax(p).defaults["lr"] == 0.001 and Adamax(p).defaults["eps"] == 1e-7
    assert Adamax(p, convention="pytorch").defaults["lr"] == 0.002
    assert Adamax(p, convention="pytorch").defaults["eps"] == 1e-8
    assert "eps" not in Adamax(p, convention="paper").defaults
    with pytest.raises(ValueError, match="eps"):
        Adamax(p, convention="paper", eps=1e-8)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_fast_path_equals_reference_path(backend_name, convention):
    # the two paths run the same operations in the same order: bitwise equal weights and state
    worst_w, worst_state, q = parity(Adamax, convention, problem=normal_problem(0, (4, 5), zero_first=True), lr=0.01)
    assert worst_w == 0.0 and worst_state == 0.0
    assert [s for s, _, _ in q] == ["g", "m", "lr_t", "u", "step", "w"]
    assert all(s in Adamax.__doc__ for s, _, _ in q)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"beta1": 1.0}, "beta1"), ({"beta1": -0.01}, "beta1"), ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
    ({"eps": -1.0}, "eps"), ({"lr": -0.1}, "lr"), ({"lr": float("nan")}, "lr"), ({"convention": "jax"}, "convention"),
    ({"amsgrad": True}, "amsgrad"),
])
def test_bad_hyperparameters_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Adamax([Parameter(np.zeros(2))], **kwargs)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_state_dict_round_trip_is_bitwise(convention):
    w0, grads = normal_problem(1, (4,), steps=10)
    kw = dict(convention=convention, lr=0.01, weight_decay=0.1)
    full, ref_opt, ref_p = run_steps(Adamax, 10, grads=grads, w0=w0, **kw)
    saved, resumed, q = resumed_run(Adamax, grads, w0, 5, **kw)
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_inf"}
    assert np.array_equal(full[-1], q.data)
    assert np.array_equal(ref_opt.state[ref_p]["exp_inf"], resumed.state[q]["exp_inf"])


def keras_adamax(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Independent float64 transcription of Keras 3's Adamax.update_step (keras/src/optimizers/adamax.py)."""
    w = np.array(w0, dtype=np.float64)
    m, u = np.zeros_like(w), np.zeros_like(w)
    for iterations, g in enumerate(grads):
        beta_1_power = beta_1 ** (iterations + 1)
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - (lr * m) / ((1 - beta_1_power) * (u + epsilon))
    return w


def test_keras_convention_matches_keras_transcription():
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    out, _, _ = run_steps(Adamax, 100, grads=grads, w0=w0, convention="keras", lr=0.01)
    assert np.abs(out[-1] - keras_adamax(w0, grads, lr=0.01)).max() <= 1e-12


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_pytorch_convention_matches_torch(weight_decay):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    grads[:, 0] = 0.0
    out, opt, p = run_steps(Adamax, 100, grads=grads, w0=w0, convention="pytorch", lr=0.01, weight_decay=weight_decay)
    tp, topt = torch_run(torch.optim.Adamax, w0, grads, lr=0.01, weight_decay=weight_decay)
    assert np.abs(out[-1] - tp.detach().numpy()).max() <= 1e-12
    np.testing.assert_allclose(opt.state[p]["exp_inf"], topt.state[tp]["exp_inf"].numpy(), rtol=1e-12)
