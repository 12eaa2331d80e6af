"""Adam (and AMSGrad): hand-computed steps per convention, parity of the fast path with the
teaching path, with torch.optim.Adam and with an independent transcription of Keras 3's Adam."""
import math

import numpy as np
import pytest

from minidl import backend as B
from minidl.optim import Adam
from minidl.tensor import Parameter
from optim_testutil import W0, normal_problem, parity, resumed_run, run_reference, run_steps, torch64, torch_run  # noqa: F401

# Hand-computed (Decimal arithmetic, 40 digits), w0 = [1, -2], g_t = w_{t-1}, default hyperparameters:
# lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7 (keras) / 1e-8 (pytorch, paper).
# t=1 (all): m = 0.1*g = [0.1, -0.2]; v = 0.001*g^2 = [0.001, 0.004]; 1-b1 = 0.1; 1-b2 = 0.001
#   keras:   alpha = 0.001*sqrt(0.001)/0.1 = 3.1622776601683794e-4;
#            delta = alpha*m/(sqrt(v)+1e-7) = [3.16227766e-5/(0.0316227766+1e-7), ...]
#                  = [9.9999683773233984e-4, -9.9999841886366987e-4]
#   pytorch: step_size = 0.001/0.1 = 0.01; denom = sqrt(v)/sqrt(0.001)+1e-8 = [1.00000001, 2.00000001];
#            delta = 0.01*[0.1, -0.2]/denom = [9.9999999e-4, -9.99999995e-4]
#   paper:   m_hat = [1, -2], v_hat = [1, 4]; delta = 0.001*m_hat/(sqrt(v_hat)+1e-8) = the same as pytorch
# t=2: 1-b1^2 = 0.19, 1-b2^2 = 0.001999
#   keras:   g = [0.99900000316226767, -1.9990000015811362]; m = [0.18990000031622675, -0.37990000015811365];
#            v = [0.0019970010063182107, 0.007992001006321383]; alpha = 0.001*sqrt(0.001999)/0.19
#            = 2.3531672532745428e-4; delta = [9.9997155856846416e-4, -9.9998581408514836e-4]
#   pytorch: g = [0.99900000001, -1.999000000005]; m = [0.189900000001, -0.3799000000005];
#            step_size = 0.001/0.19 = 5.263157894736842e-3; denom = [0.99949988494246089, 1.9994998223930582];
#            delta = [9.9997378616339407e-4, -9.9998692764079926e-4]
# t=3: 1-b1^3 = 0.271, 1-b2^3 = 0.002997001
#   keras:   m = [0.27071000344497403, -0.54171000171900741]; v = [0.0029910080683928772, 0.011976013068320199];
#            alpha = 2.0201059743896784e-4; delta = [9.9992832553372733e-4, -9.9996426388160959e-4]
#   pytorch: m = [0.27071000262328365, -0.54171000130818592]; step_size = 3.6900369003690036e-3;
#            denom = [0.99899968541149275, 1.9989995141128625]; delta = [9.9993014368912679e-4, -9.9996517258447363e-4]
HAND = {
    "keras": [[0.99900000316226767, -1.9990000015811362],
              [0.99800003160369921, -1.9980000157670512],
              [0.99700010327816546, -1.9970000515031696]],
    "pytorch": [[0.99900000001, -1.9990000000050001],
                [0.99800002622383666, -1.9980000130773592],
                [0.9970000960801475, -1.9970000479047747]],
    "paper": [[0.99900000001, -1.9990000000050001],
              [0.99800002622383666, -1.9980000130773592],
              [0.9970000960801475, -1.9970000479047747]],
}

# AMSGrad, g_1 = [1, -2], g_2 = g_3 = [0, 0]: v_2 = 0.999*v_1 < v_1, so v_max_2 = v_1 = [0.001, 0.004].
# t=2: m = 0.9*[0.1, -0.2] = [0.09, -0.18]
#   keras:   alpha = 2.3531672532745428e-4; delta = alpha*0.09/(sqrt(0.001)+1e-7) = 6.6972102336645782e-4
#            (plain Adam divides by sqrt(0.000999)+1e-7 instead: 6.7005613417275226e-4)
#   pytorch: delta = 0.001/0.19*0.09/(sqrt(0.001)/sqrt(0.001999)+1e-8) = 6.6972313174134136e-4
# t=3: m = [0.081, -0.162]; keras delta = 2.0201059743896784e-4*0.081/(sqrt(0.001)+1e-7) = 5.1743737923213282e-4
#   pytorch: delta = 0.001/0.271*0.081/(sqrt(0.001)/sqrt(0.002997001)+1e-8) = 5.1743900655497202e-4
AMS_GRADS = [[1.0, -2.0], [0.0, 0.0], [0.0, 0.0]]
AMS_HAND = {
    "keras": [[0.99900000316226767, -1.9990000015811362],
              [0.99833028213890118, -1.9983302794988496],
              [0.99781284475966903, -1.9978128413014784]],
    "pytorch": [[0.99900000001, -1.9990000000050001],
                [0.9983302768782587, -1.9983302768685243],
                [0.99781283787170372, -1.9978128378574902]],
    "paper": [[0.99900000001, -1.9990000000050001],
              [0.9983302768782587, -1.9983302768685243],
              [0.99781283787170372, -1.9978128378574902]],
}
# plain Adam (keras) on the same gradients, to show amsgrad changes the result
AMS_PLAIN_KERAS_T2 = [0.99832994702809486, -1.9983299443869833]

CONVENTIONS = ["keras", "pytorch", "paper"]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_three_steps_match_hand_computation(convention):
    fast, _, _ = run_steps(Adam, 3, convention=convention)
    ref, _ = run_reference(Adam, 3, convention=convention)
    for t in range(3):
        np.testing.assert_allclose(fast[t], HAND[convention][t], rtol=1e-12, atol=0)
        np.testing.assert_allclose(ref[t], HAND[convention][t], rtol=1e-12, atol=0)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_amsgrad_three_steps_match_hand_computation(convention):
    fast, _, _ = run_steps(Adam, 3, grads=AMS_GRADS, convention=convention, amsgrad=True)
    ref, _ = run_reference(Adam, 3, grads=AMS_GRADS, convention=convention, amsgrad=True)
    for t in range(3):
        np.testing.assert_allclose(fast[t], AMS_HAND[convention][t], rtol=1e-12, atol=0)
        np.testing.assert_allclose(ref[t], AMS_HAND[convention][t], rtol=1e-12, atol=0)
    plain, _, _ = run_steps(Adam, 2, grads=AMS_GRADS, convention="keras")
    np.testing.assert_allclose(plain[1], AMS_PLAIN_KERAS_T2, rtol=1e-12, atol=0)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_first_step_moves_each_coordinate_by_about_lr(convention):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(50)
    g = rng.choice([-1.0, 1.0], 50) * 10.0 ** rng.uniform(-2, 3, 50)     # |g| from 0.01 to 1000
    (w1,), _, _ = run_steps(Adam, 1, grads=[g], w0=w0, convention=convention, lr=0.01)
    # m_hat_1 = g, v_hat_1 = g^2: |delta_1| = lr * |g| / (|g| + eps'), eps' = eps (pytorch, paper)
    # or 1e-7 / sqrt(0.001) = 3.2e-6 (keras): within 1e-3 relative of lr for |g| >= 0.01
    np.testing.assert_allclose(np.abs(w1 - w0), 0.01, rtol=1e-3)
    assert np.all(np.sign(w0 - w1) == np.sign(g))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_amsgrad_v_max_never_decreases(convention):
    rng = np.random.default_rng(2)
    p = Parameter(rng.standard_normal(20), dtype="float64")
    opt = Adam([p], convention=convention, amsgrad=True, lr=0.01)
    previous = np.zeros(20)
    saw_v_fall = False
    for t in range(60):
        p.grad = rng.standard_normal(20) * (3.0 if t % 10 == 0 else 0.1)  # bursts, then small gradients
        opt.step()
        state = opt.state[p]
        assert np.all(state["max_exp_avg_sq"] >= previous)
        assert np.all(state["max_exp_avg_sq"] >= state["exp_avg_sq"])
        saw_v_fall |= bool(np.any(state["exp_avg_sq"] < state["max_exp_avg_sq"]))
        previous = state["max_exp_avg_sq"].copy()
    assert saw_v_fall


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_fast_path_equals_reference_path(backend_name, convention, amsgrad):
    # the two paths run the same operations in the same order: bitwise equal weights and state
    worst_w, worst_state, _ = parity(Adam, convention, problem=normal_problem(3, (4, 5), zero_first=True),
                                     amsgrad=amsgrad, lr=0.01)
    assert worst_w == 0.0 and worst_state == 0.0


def test_reference_step_does_not_modify_its_arguments():
    opt = Adam([Parameter(np.zeros(2), dtype="float64")], convention="pytorch", amsgrad=True)
    group = opt.param_groups[0]
    w, g = np.array(W0), np.array([0.5, 0.25])
    state = opt.initial_state(w, group)
    w1, s1, _ = opt.reference_step(w, g, state, group)
    copies = (w1.copy(), {k: (v.copy() if B.is_array(v) else v) for k, v in s1.items()}, g.copy())
    opt.reference_step(w1, g, s1, group)
    assert np.array_equal(w1, copies[0]) and np.array_equal(g, copies[2])
    assert all(np.array_equal(s1[k], copies[1][k]) for k in s1)


def test_quantities_follow_the_docstring():
    for convention, middle in [("keras", ["alpha"]), ("pytorch", ["step_size", "denom"]),
                               ("paper", ["m_hat", "v_hat"])]:
        opt = Adam([Parameter(np.zeros(2), dtype="float64")], convention=convention, amsgrad=True)
        group = opt.param_groups[0]
        w = np.array(W0)
        _, _, q = opt.reference_step(w, w.copy(), opt.initial_state(w, group), group)
        symbols = [s for s, _, _ in q]
        assert symbols == ["g", "m", "v", "v_max", "1 - beta1^t", "1 - beta2^t", *middle, "step", "w"]
        for s in symbols:
            assert s in Adam.__doc__, s
        assert math.isclose(dict((s, v) for s, _, v in q)["1 - beta1^t"], 0.1)


def test_float32_stays_float32():
    p = Parameter(np.array(W0, dtype=np.float32))
    opt = Adam([p], amsgrad=True)
    p.grad = np.array([0.5, -0.5], dtype=np.float32)
    opt.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if B.is_array(v))


def test_defaults_per_convention():
    p = [Parameter(np.zeros(2))]
    assert Adam(p).defaults["eps"] == 1e-7
    assert Adam(p, convention="pytorch").defaults["eps"] == 1e-8
    assert Adam(p, convention="paper").defaults["eps"] == 1e-8
    for c in CONVENTIONS:
        d = Adam(p, convention=c).defaults
        assert (d["lr"], d["beta1"], d["beta2"], d["amsgrad"]) == (0.001, 0.9, 0.999, False)
    assert Adam(p, lr=0.1, beta1=0.5, eps=1e-3).defaults["beta1"] == 0.5


@pytest.mark.parametrize("kwargs, fragment", [
    ({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
    ({"beta2": 1.5}, "beta2"), ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"),
    ({"eps": -1e-8}, "eps"), ({"lr": -0.001}, "lr"), ({"lr": float("nan")}, "lr"),
    ({"lr": float("inf")}, "lr"), ({"amsgrad": "yes"}, "amsgrad"), ({"convention": "tf"}, "convention"),
    ({"momentum": 0.9}, "momentum"), ({"weight_decay": -1.0}, "weight_decay"),
])
def test_bad_hyperparameters_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Adam([Parameter(np.zeros(2))], **kwargs)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_state_dict_round_trip_is_bitwise(convention, amsgrad):
    w0, grads = normal_problem(4, (3, 2), steps=10)
    kw = dict(convention=convention, amsgrad=amsgrad, lr=0.01, weight_decay=0.1)
    _, opt, p = run_steps(Adam, 10, grads=grads, w0=w0, **kw)
    saved, resumed, q = resumed_run(Adam, grads, w0, 5, **kw)
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if amsgrad else set())
    assert np.array_equal(p.data, q.data)
    for k, v in opt.state[p].items():
        assert np.array_equal(v, resumed.state[q][k])


def keras_adam(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None):
    """An independent float64 transcription of Keras 3's Adam.update_step (keras/src/optimizers/adam.py)
    and of its base optimizer's decoupled weight decay (variable - variable * wd * lr, before the step)."""
    w = np.array(w0, dtype=np.float64)
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for iterations, g in enumerate(grads):
        if weight_decay:
            w = w - w * weight_decay * lr
        local_step = iterations + 1
        alpha = lr * np.sqrt(1 - beta_2 ** local_step) / (1 - beta_1 ** local_step)
        m = m + (g - m) * (1 - beta_1)
        v = v + (np.square(g) - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
            v_used = v_hat
        else:
            v_used = v
        w = w - (m * alpha) / (np.sqrt(v_used) + epsilon)
    return w


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_keras_convention_matches_keras_transcription(amsgrad, weight_decay):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    p = Parameter(w0.copy(), dtype="float64")
    opt = Adam([p], convention="keras", amsgrad=amsgrad, lr=0.01, weight_decay=weight_decay)
    for g in grads:
        p.grad = g.copy()
        opt.step()
    expected = keras_adam(w0, grads, lr=0.01, amsgrad=amsgrad, weight_decay=weight_decay)
    assert np.abs(p.data - expected).max() <= 1e-12


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_pytorch_convention_matches_torch(torch64, amsgrad, weight_decay):
    torch = torch64
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30)) * np.linspace(2.0, 0.01, 100)[:, None]
    _, opt, p = run_steps(Adam, 100, grads=grads, w0=w0, convention="pytorch", amsgrad=amsgrad, lr=0.01,
                          weight_decay=weight_decay)
    tp, topt = torch_run(torch.optim.Adam, w0, grads, lr=0.01, amsgrad=amsgrad, weight_decay=weight_decay)
    assert np.abs(p.data - tp.detach().numpy()).max() <= 1e-12
    torch_state = topt.state[tp]
    np.testing.assert_allclose(opt.state[p]["exp_avg"], torch_state["exp_avg"].numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], torch_state["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-15)
    assert opt.state[p]["step"] == int(torch_state["step"])
