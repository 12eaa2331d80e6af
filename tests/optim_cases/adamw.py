"""AdamW: decoupled weight decay, then Adam's rule of the same convention; Keras 3's AdamW transcribed."""
import numpy as np

from minidl import optim
from optim_testutil import W0, Hand, Spec, run_steps

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

# Short, on paper: Adam's short case (w0 = 1, g = 2 then -2, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15,
# steps 0.1 then -1/30) with weight_decay 0.5, the same in every convention:
# t=1: w' = 1*(1 - 0.1*0.5) = 0.95;       w = 0.95 - 0.1 = 0.85
# t=2: w' = 0.85*0.95 = 0.8075;           w = 0.8075 + 1/30 = 0.84083333
# The decay never enters the moments: m = -0.5, v = 1.75 after t=2, as in Adam's case.
SHORT = [Hand("short", c, ((0.85,), (0.8075 + 1 / 30,)),
              {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15, "weight_decay": 0.5},
              grads=((2.0,), (-2.0,)), w0=(1.0,), state={"step": 2, "exp_avg": [-0.5], "exp_avg_sq": [1.75]})
         for c in ("keras", "pytorch", "paper")]


def weight_decay_zero_is_adam_exactly():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((20, 6))
    w0 = rng.standard_normal(6)
    for convention in ("keras", "pytorch", "paper"):
        for amsgrad in (False, True):
            a, _, _ = run_steps("adam", grads, w0=w0, convention=convention, amsgrad=amsgrad)
            b, _, _ = run_steps("adamw", grads, w0=w0, convention=convention, amsgrad=amsgrad, weight_decay=0.0)
            np.testing.assert_array_equal(a, b)


def decay_is_decoupled_and_scaled_by_lr():
    # g = 0: m = v = 0 and Adam's step is 0 / (0 + eps) = 0, so only the decay moves w: w_t = w_0 (1 - lr wd)^t
    for convention in ("keras", "pytorch", "paper"):
        out, opt, p = run_steps("adamw", [[0.0, 0.0]] * 5, convention=convention, lr=0.1, weight_decay=0.5)
        np.testing.assert_allclose(out[-1], np.array(W0) * 0.95 ** 5, rtol=1e-14)
        assert not opt.state[p]["exp_avg"].any() and not opt.state[p]["exp_avg_sq"].any()  # never enters m, v
    assert optim.AdamW.DECOUPLED_WEIGHT_DECAY and issubclass(optim.AdamW, optim.Adam)


def pytorch_adamw_differs_from_adam_with_l2():
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((10, 4))
    a, _, _ = run_steps("adam", grads, w0=np.ones(4), convention="pytorch", weight_decay=0.1)
    b, _, _ = run_steps("adamw", grads, w0=np.ones(4), convention="pytorch", weight_decay=0.1)
    assert np.abs(a[-1] - b[-1]).max() > 1e-6


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


SPEC = Spec(
    name="adamw",
    defaults={c: {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7 if c == "keras" else 1e-8,
                  "amsgrad": False, "weight_decay": 0.004 if c == "keras" else 0.01}
              for c in ("keras", "pytorch", "paper")},
    variants=({}, {"amsgrad": True}),
    hand=(*[Hand("defaults", c, tuple(map(tuple, HAND[c]))) for c in HAND], *SHORT),
    bad=(({"weight_decay": -0.01}, "weight_decay"), ({"weight_decay": float("nan")}, "weight_decay"),
         ({"beta1": 1.0}, "beta1"), ({"beta2": -0.5}, "beta2"), ({"eps": 0.0}, "eps"), ({"lr": -1.0}, "lr"),
         ({"lr": float("nan")}, "lr"), ({"amsgrad": 1}, "amsgrad"), ({"convention": "optax"}, "convention")),
    torch="AdamW",
    torch_variants=({"lr": 0.01}, {"lr": 0.01, "amsgrad": True}),    # torch's default weight_decay 0.01 is ours
    keras=tuple((keras_adamw, {"lr": 0.01, "weight_decay": 0.05, "amsgrad": a},
                 {"lr": 0.01, "weight_decay": 0.05, "amsgrad": a}) for a in (False, True)),
    keras_class="AdamW",
    quadratic=({"lr": 0.1}, 1e-6),
    rosenbrock=({"lr": 0.1}, 1e-2),
    overflow_state="exp_avg_sq",
    properties=(weight_decay_zero_is_adam_exactly, decay_is_decoupled_and_scaled_by_lr,
                pytorch_adamw_differs_from_adam_with_l2),
)
