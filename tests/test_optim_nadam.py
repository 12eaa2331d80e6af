"""Nadam: hand-computed steps per convention (Keras 3's 0.96^t schedule vs PyTorch's 0.96^(0.004 t)),
parity of the fast path with the teaching path, with torch.optim.NAdam and with an independent
transcription of Keras 3's Nadam."""
import numpy as np
import pytest

from minidl.optim import Nadam
from minidl.tensor import Parameter
from optim_testutil import normal_problem, parity, resumed_run, run_reference, run_steps, torch64, torch_run  # noqa: F401

CONVENTIONS = ["keras", "pytorch", "paper"]


# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults:
# keras lr 0.001, eps 1e-7, psi 1; pytorch/paper lr 0.002, eps 1e-8, psi 0.004; beta1 0.9, beta2 0.999.
# keras schedule: mu_1 = 0.9*(1 - 0.5*0.96) = 0.468, mu_2 = 0.9*(1 - 0.5*0.9216) = 0.48528,
#   mu_3 = 0.9*(1 - 0.5*0.884736) = 0.5018688, mu_4 = 0.9*(1 - 0.5*0.84934656) = 0.517794048
# pytorch schedule: mu_1 = 0.9*(1 - 0.5*0.96^0.004) = 0.45007347359129612, mu_2 = 0.45014693518621757,
#   mu_3 = 0.45022038478672294, mu_4 = 0.45029382239477078
# t=1: m = [0.1, -0.2]; v = [0.001, 0.004]; v_hat = v/0.001 = [1, 4]
#   keras:   m_bar = (1-0.468)*g/(1-0.468) + 0.48528*m/(1-0.468*0.48528)
#                  = g + 0.48528*m/0.77288896 = [1.0627878033087703, -2.1255756066175406]
#            delta = 0.001*m_bar/(sqrt(v_hat)+1e-7) = [1.0627876970300005e-3, -1.0627877501693827e-3]
#   pytorch: m_bar = g + mu_2*m/(1 - mu_1*mu_2) = [1.0564517783553882, -2.1129035567107763];
#            delta = 0.002*m_bar/(sqrt(v_hat)+1e-8) = [2.112903535581741e-3, -2.1129035461462586e-3]
# t=2: keras   mu_prod = 0.468*0.48528 = 0.22711104; m = [0.18989372123029699, -0.37989372122498305];
#              v_hat = [0.9989372456846568, 3.9978739262216729]; m_bar = [0.77282270202928005, -1.5464133870979662];
#              delta = [7.7323361260902223e-4, -7.7341222362896009e-4]
#      pytorch mu_prod = 0.20259919474573698; m_bar = [0.78212271492202778, -1.5658070717054473];
#              delta = [1.5658996644493744e-3, -1.5666347962231557e-3]
# t=3: keras   mu_prod = 0.113979945111552; m_bar = [0.71014936490027725, -1.4214845174734498];
#              delta = [7.1083638718672415e-4, -7.110859620997887e-4]
#      pytorch mu_prod = 0.091214287415905912; m_bar = [0.72972955450875276, -1.4619462067877804];
#              delta = [1.4622822607048389e-3, -1.4633594185588651e-3]
HAND = {
    "keras": [[0.99893721230296995, -1.9989372122498306],
              [0.998163978690361, -1.9981638000262016],
              [0.99745314230317428, -1.9974527140641019]],
    "pytorch": [[0.99788709646441831, -1.9978870964538538],
                [0.99632119679996889, -1.9963204616576307],
                [0.99485891453926401, -1.9948571022390718]],
    "paper": [[0.99788709646441831, -1.9978870964538538],
              [0.99632119679996889, -1.9963204616576307],
              [0.99485891453926401, -1.9948571022390718]],
}
MU = {"keras": [0.468, 0.48528, 0.5018688],
      "pytorch": [0.45007347359129612, 0.45014693518621757, 0.45022038478672294]}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_three_steps_match_hand_computation(convention):
    fast, opt, p = run_steps(Nadam, 3, convention=convention)
    ref, quantities = run_reference(Nadam, 3, convention=convention)
    for t in range(3):
        np.testing.assert_allclose(fast[t], HAND[convention][t], rtol=1e-12, atol=0)
        np.testing.assert_allclose(ref[t], HAND[convention][t], rtol=1e-12, atol=0)
        mu = MU["keras" if convention == "keras" else "pytorch"][t]
        assert abs(quantities[t]["mu"] - mu) <= 1e-15
    mus = MU["keras" if convention == "keras" else "pytorch"]
    assert abs(opt.state[p]["mu_product"] - mus[0] * mus[1] * mus[2]) <= 1e-15


def test_keras_schedule_is_096_to_the_t_not_0004_t():
    # Keras 3 runs mu_t = beta1 (1 - 0.5 * 0.96^t): after 200 steps mu_t = 0.9 - 1.3e-4;
    # PyTorch's 0.96^(0.004 t) leaves it near beta1 / 2.
    _, qk = run_reference(Nadam, 200, convention="keras")
    _, qp = run_reference(Nadam, 200, convention="pytorch")
    assert abs(qk[-1]["mu"] - 0.9) < 2e-4
    assert abs(qp[-1]["mu"] - 0.9 * (1 - 0.5 * 0.96 ** 0.8)) < 1e-15


def test_defaults_per_convention():
    p = [Parameter(np.zeros(2))]
    k, t, pa = Nadam(p).defaults, Nadam(p, convention="pytorch").defaults, Nadam(p, convention="paper").defaults
    assert (k["lr"], k["eps"]) == (0.001, 1e-7) and "momentum_decay" not in k
    assert (t["lr"], t["eps"], t["momentum_decay"]) == (0.002, 1e-8, 0.004)
    assert (pa["lr"], pa["eps"], pa["momentum_decay"]) == (0.002, 1e-8, 0.004)
    with pytest.raises(ValueError, match="momentum_decay"):
        Nadam(p, momentum_decay=0.004)                      # Keras 3 has no such argument


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_fast_path_equals_reference_path(backend_name, convention):
    # the two paths run the same operations in the same order: bitwise equal weights and state;
    # parity also checks mu_product (non-array state) is equal at every step
    worst_w, worst_state, q = parity(Nadam, convention, problem=normal_problem(0, (4, 5)), lr=0.01)
    assert worst_w == 0.0 and worst_state == 0.0
    assert all(s in Nadam.__doc__ for s, _, _ in q)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"beta1": 1.0}, "beta1"), ({"beta1": -0.5}, "beta1"), ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
    ({"eps": -1e-8}, "eps"), ({"lr": -1e-3}, "lr"), ({"lr": float("nan")}, "lr"), ({"convention": "lasagne"}, "convention"),
    ({"convention": "pytorch", "momentum_decay": -0.004}, "momentum_decay"),
])
def test_bad_hyperparameters_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Nadam([Parameter(np.zeros(2))], **kwargs)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_state_dict_round_trip_is_bitwise(convention):
    w0, grads = normal_problem(1, (4,), steps=10)
    kw = dict(convention=convention, lr=0.01, weight_decay=0.1)
    full, ref_opt, ref_p = run_steps(Nadam, 10, grads=grads, w0=w0, **kw)
    saved, resumed, q = resumed_run(Nadam, grads, w0, 5, **kw)
    assert set(saved["state"][0]) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert np.array_equal(full[-1], q.data)
    assert ref_opt.state[ref_p]["mu_product"] == resumed.state[q]["mu_product"]


def keras_nadam(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Independent float64 transcription of Keras 3's Nadam (keras/src/optimizers/nadam.py): the
    u_product variable is multiplied by u_t in _backend_update_step before update_step runs."""
    w = np.array(w0, dtype=np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    u_product = 1.0
    for iterations, g in enumerate(grads):
        u_product = u_product * beta_1 * (1.0 - 0.5 * 0.96 ** (iterations + 1))
        local_step, next_step = iterations + 1, iterations + 2
        u_t = beta_1 * (1.0 - 0.5 * 0.96 ** local_step)
        u_t_1 = beta_1 * (1.0 - 0.5 * 0.96 ** next_step)
        u_product_t_1 = u_product * u_t_1
        beta_2_power = beta_2 ** local_step
        m = m + (g - m) * (1 - beta_1)
        v = v + (np.square(g) - v) * (1 - beta_2)
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2_power)
        w = w - (m_hat * lr) / (np.sqrt(v_hat) + epsilon)
    return w


def test_keras_convention_matches_keras_transcription():
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    out, _, _ = run_steps(Nadam, 100, grads=grads, w0=w0, convention="keras", lr=0.01)
    assert np.abs(out[-1] - keras_nadam(w0, grads, lr=0.01)).max() <= 1e-12


@pytest.mark.parametrize("momentum_decay", [0.004, 0.1])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_pytorch_convention_matches_torch(torch64, weight_decay, momentum_decay):
    torch = torch64  # NAdam keeps mu_product in the default dtype
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    out, opt, p = run_steps(Nadam, 100, grads=grads, w0=w0, convention="pytorch", lr=0.01,
                            weight_decay=weight_decay, momentum_decay=momentum_decay)
    tp, topt = torch_run(torch.optim.NAdam, w0, grads, lr=0.01, weight_decay=weight_decay,
                         momentum_decay=momentum_decay)
    assert np.abs(out[-1] - tp.detach().numpy()).max() <= 1e-12
    assert abs(opt.state[p]["mu_product"] - float(topt.state[tp]["mu_product"])) <= 1e-15
