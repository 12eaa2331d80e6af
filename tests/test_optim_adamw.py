"""AdamW: hand-computed steps per convention (decay then Adam), equality with Adam at weight_decay 0,
torch.optim.AdamW and an independent transcription of Keras 3's AdamW."""
import numpy as np
import pytest

from minidl.optim import Adam, AdamW
from minidl.tensor import Parameter
from optim_testutil import W0, normal_problem, parity, resumed_run, run_reference, run_steps, torch_run

CONVENTIONS = ["keras", "pytorch", "paper"]


# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults: lr 0.001, beta1 0.9, beta2 0.999,
# keras: eps 1e-7, weight_decay 0.004; pytorch/paper: eps 1e-8, weight_decay 0.01.
# t=1 keras:   w' = [1, -2] * (1 - 0.001*0.004) = [0.999996, -1.999992]; Adam's delta as in Adam's keras test
#              = [9.9999683773233984e-4, -9.9999841886366987e-4]; w_1 = w' - delta = [0.99899600316226767, -1.9989920015811364]
# t=1 pytorch: w' = [1, -2] * (1 - 0.001*0.01) = [0.99999, -1.99998]; delta = [9.9999999e-4, -9.99999995e-4]
#              w_1 = [0.99899000001, -1.998980000005]
# t=2 keras:   w' = w_1 * 0.999996 = [0.99899200717825498, -1.9989840056131301]; g = w_1;
#              m = [0.18989960031622677, -0.37989920015811363]; v = [0.0019969930143341856, 0.0079919690223853573];
#              alpha = 2.3531672532745428e-4; delta = [9.9997145319349781e-4, -9.999857092656164e-4]
# t=2 pytorch: w' = w_1 * 0.99999 = [0.99898001010999993, -1.998960010205]; m = [0.189899000001, -0.3798980000005];
#              denom = [0.99949488495560534, 1.9994898199165134]; delta = [9.9997352272822109e-4, -9.9998666558895203e-4]
# t=3 keras:   w' = [0.99798804375691863, -1.9979760279677847]; delta = [9.9992804466179008e-4, -9.9996398455701858e-4]
# t=3 pytorch: w' = [0.99797005678690576, -1.9979400439391757]; delta = [9.9992944150405065e-4, -9.9996447425935997e-4]
HAND = {
    "keras": [[0.99899600316226767, -1.9989920015811364],
              [0.99799203572506157, -1.9979840199038643],
              [0.99698811571225687, -1.9969760639832277]],
    "pytorch": [[0.99899000001000005, -1.998980000005],
                [0.99798003658727164, -1.997960023539411],
                [0.9969701273454018, -1.9969400794649161]],
    "paper": [[0.99899000001000005, -1.998980000005],
              [0.99798003658727164, -1.997960023539411],
              [0.9969701273454018, -1.9969400794649161]],
}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_three_steps_match_hand_computation(convention):
    fast, _, _ = run_steps(AdamW, 3, convention=convention)
    ref, _ = run_reference(AdamW, 3, convention=convention)
    for t in range(3):
        np.testing.assert_allclose(fast[t], HAND[convention][t], rtol=1e-12, atol=0)
        np.testing.assert_allclose(ref[t], HAND[convention][t], rtol=1e-12, atol=0)


def test_defaults_per_convention():
    p = [Parameter(np.zeros(2))]
    assert AdamW(p).defaults["weight_decay"] == 0.004          # Keras 3 AdamW
    assert AdamW(p, convention="pytorch").defaults["weight_decay"] == 0.01
    assert AdamW(p, convention="paper").defaults["weight_decay"] == 0.01
    assert AdamW(p).defaults["eps"] == 1e-7 and AdamW(p, convention="pytorch").defaults["eps"] == 1e-8
    assert AdamW(p, weight_decay=0.0).defaults["weight_decay"] == 0.0
    assert AdamW.DECOUPLED_WEIGHT_DECAY and issubclass(AdamW, Adam)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_weight_decay_zero_is_adam_exactly(convention, amsgrad):
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((20, 6))
    w0 = rng.standard_normal(6)
    a, _, _ = run_steps(Adam, 20, grads=grads, w0=w0, convention=convention, amsgrad=amsgrad)
    b, _, _ = run_steps(AdamW, 20, grads=grads, w0=w0, convention=convention, amsgrad=amsgrad, weight_decay=0.0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_decay_is_decoupled_and_scaled_by_lr(convention):
    # g = 0: m = v = 0 and Adam's step is 0 / (0 + eps) = 0, so only the decay moves w: w_t = w_0 (1 - lr wd)^t
    out, opt, _ = run_steps(AdamW, 5, grads=[[0.0, 0.0]] * 5, convention=convention, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(out[-1], np.array(W0) * 0.95 ** 5, rtol=1e-14)
    p = next(iter(opt.state))
    assert not opt.state[p]["exp_avg"].any() and not opt.state[p]["exp_avg_sq"].any()  # decay never enters m, v


def test_pytorch_adamw_differs_from_adam_with_l2():
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((10, 4))
    a, _, _ = run_steps(Adam, 10, grads=grads, w0=np.ones(4), convention="pytorch", weight_decay=0.1)
    b, _, _ = run_steps(AdamW, 10, grads=grads, w0=np.ones(4), convention="pytorch", weight_decay=0.1)
    assert np.abs(a[-1] - b[-1]).max() > 1e-6


def test_reference_step_shows_the_decay_first():
    opt = AdamW([Parameter(np.zeros(2), dtype="float64")], convention="pytorch", weight_decay=0.5, lr=0.1)
    group = opt.param_groups[0]
    w = np.array(W0)
    _, _, q = opt.reference_step(w, w.copy(), opt.initial_state(w, group), group)
    assert q[0][0] == "w'"
    np.testing.assert_allclose(q[0][2], [0.95, -1.9], rtol=1e-15)
    for s, _, _ in q:
        assert s in AdamW.__doc__ or s in Adam.__doc__, s


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_fast_path_equals_reference_path(backend_name, convention, amsgrad):
    # the two paths run the same operations in the same order: bitwise equal weights and state
    worst_w, worst_state, _ = parity(AdamW, convention, problem=normal_problem(2, (3, 5)), amsgrad=amsgrad,
                                     lr=0.01, weight_decay=0.1)
    assert worst_w == 0.0 and worst_state == 0.0


@pytest.mark.parametrize("kwargs, fragment", [
    ({"weight_decay": -0.01}, "weight_decay"), ({"weight_decay": float("nan")}, "weight_decay"),
    ({"beta1": 1.0}, "beta1"), ({"beta2": -0.5}, "beta2"), ({"eps": 0.0}, "eps"), ({"lr": -1.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"amsgrad": 1}, "amsgrad"), ({"convention": "optax"}, "convention"),
])
def test_bad_hyperparameters_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        AdamW([Parameter(np.zeros(2))], **kwargs)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_state_dict_round_trip_is_bitwise(convention):
    w0, grads = normal_problem(3, (4,), steps=10)
    kw = dict(convention=convention, amsgrad=True, lr=0.01)
    full, _, _ = run_steps(AdamW, 10, grads=grads, w0=w0, **kw)
    _, _, q = resumed_run(AdamW, grads, w0, 5, **kw)
    assert np.array_equal(full[-1], q.data)


def keras_adamw(w0, grads, lr=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    """Independent float64 transcription of Keras 3's AdamW: the base optimizer's weight decay
    (variable - variable * wd * lr, applied before the step) then Adam.update_step."""
    w = np.array(w0, dtype=np.float64)
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for iterations, g in enumerate(grads):
        w = w - w * weight_decay * lr
        t = iterations + 1
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (np.square(g) - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
        w = w - (m * alpha) / (np.sqrt(v_hat if amsgrad else v) + epsilon)
    return w


@pytest.mark.parametrize("amsgrad", [False, True])
def test_keras_convention_matches_keras_transcription(amsgrad):
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30))
    out, _, _ = run_steps(AdamW, 100, grads=grads, w0=w0, convention="keras", lr=0.01, weight_decay=0.05,
                          amsgrad=amsgrad)
    assert np.abs(out[-1] - keras_adamw(w0, grads, lr=0.01, weight_decay=0.05, amsgrad=amsgrad)).max() <= 1e-12


@pytest.mark.parametrize("amsgrad", [False, True])
def test_pytorch_convention_matches_torch(amsgrad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal(30)
    grads = rng.standard_normal((100, 30))
    out, _, _ = run_steps(AdamW, 100, grads=grads, w0=w0, convention="pytorch", lr=0.01, amsgrad=amsgrad)
    tp, _ = torch_run(torch.optim.AdamW, w0, grads, lr=0.01, amsgrad=amsgrad)   # torch's default weight_decay 0.01
    assert np.abs(out[-1] - tp.detach().numpy()).max() <= 1e-12
