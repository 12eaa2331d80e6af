"""Ftrl (FTRL-Proximal, Keras 3's rule): the weight computed afresh from z and n, exactly 0 where |z| <= l1.

FTRL does not step from w_{t-1}: its weights are a closed form of its state, so a zero gradient can
move them (the first one sets them to 0) and the first step need not go against the gradient.  Its
Spec's ``weights_from_state`` says so; the table then runs, for each variant, the per-variant tests
that hold (state_dict resume, float32, elementwise) and checks the closed form after every step in
place of the other two.  Real Keras 3 over 100 steps: tests/test_optim_ftrl.py.
"""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}; defaults lr 0.001, lr_power -0.5, n_0 = 0.1
# t=1: n = 0.1 + [1, 4] = [1.1, 4.1];  sigma = (sqrt(n) - sqrt(0.1))/0.001 = [732.58108215331361, 1708.6179071148208]
#      z = 0 + g - sigma*w0 = [1 - 732.58108215331361, -2 + 2*1708.6179071148208]
#        = [-731.58108215331361, 3415.2358142296415]
#      q = sqrt(n)/0.001 = [1048.8088481701515, 2024.8456731316587]
#      w = -z/q = [0.69753519283299079, -1.6866647466261383]
# t=2: n = [1.5865553452405576, 6.9448379675114152];  sigma = [210.77653807428946, 610.46037503645023]
#      z = [-877.90760009080035, 4443.1911432691671];  q = [1259.585386244441, 2635.3060481681089]
# t=3: n = [2.0723384328644752, 9.7875173256159811];  sigma = [179.97650296507652, 493.19476302181006]
#      z = [-1002.6508957074597, 5273.0436810198289];  q = [1439.5618892095175, 3128.500811189919]
DEFAULTS = ((0.69753519283299079, -1.6866647466261383), (0.6969814112470415, -1.6860247204903509),
            (0.69649724907487552, -1.685485796314765))
DEFAULTS_TRACE = {1: {"n": [1.1, 4.1], "sigma": [732.58108215331361, 1708.6179071148208], "g_shrink": [1.0, -2.0],
                      "z": [-731.58108215331361, 3415.2358142296415], "q": [1048.8088481701515, 2024.8456731316587]},
                  2: {"n": [1.5865553452405576, 6.9448379675114152], "sigma": [210.77653807428946, 610.46037503645023],
                      "z": [-877.90760009080035, 4443.1911432691671], "q": [1259.585386244441, 2635.3060481681089]},
                  3: {"n": [2.0723384328644752, 9.7875173256159811], "sigma": [179.97650296507652, 493.19476302181006],
                      "z": [-1002.6508957074597, 5273.0436810198289], "q": [1439.5618892095175, 3128.500811189919]}}
# Every option: lr 0.1, lr_power -0.7, n_0 0.5, l1 0.3, l2 0.2, l2_shrinkage 0.1, beta 0.5
# (q adds 2*(0.2 + 0.5/0.2) = 5.4)
# t=1: n = [1.5, 4.5];  sigma = (n^0.7 - 0.5^0.7)/0.1 = [7.1262903327087603, 22.502468063774375]
#      g_shrink = g + 0.2*w0 = [1.2, -2.4];  z = g_shrink - sigma*w0 = [-5.9262903327087603, 42.604936127548749]
#      q = n^0.7/0.1 + 5.4 = [18.682012399433342, 34.058190130498956];  w = (clip(z, -0.3, 0.3) - z)/q
#      = [(-0.3 + 5.9262903327087603)/q0, (0.3 - 42.604936127548749)/q1] = [0.3011608285239879, -1.2421369416710393]
# t=2: z = [-5.7327042485763846, 49.273364060236507];  q = [19.239212719670353, 40.626702819379106]
# t=3: z = [-5.5299653080334134, 54.740414506577972];  q = [19.721239234423307, 46.361989256081286]
EVERY_HYPER = {"lr": 0.1, "lr_power": -0.7, "initial_accumulator_value": 0.5, "l1": 0.3, "l2": 0.2,
               "l2_shrinkage": 0.1, "beta": 0.5}
EVERY = ((0.3011608285239879, -1.2421369416710393), (0.28237664023652778, -1.2054476652453324),
         (0.26519455729255288, -1.1742467348817877))
EVERY_TRACE = {1: {"n": [1.5, 4.5], "sigma": [7.1262903327087603, 22.502468063774375], "g_shrink": [1.2, -2.4],
                   "z": [-5.9262903327087603, 42.604936127548749], "q": [18.682012399433342, 34.058190130498956]},
               2: {"g_shrink": [0.36139299422878548, -1.4905643300052472],
                   "z": [-5.7327042485763846, 49.273364060236507], "q": [19.239212719670353, 40.626702819379106]},
               3: {"z": [-5.5299653080334134, 54.740414506577972], "q": [19.721239234423307, 46.361989256081286]}}

# Short, on paper (squares chosen to have whole roots): w0 = [1, 1], lr 1, n_0 = 9, l1 = 1, lr_power -0.5;
# g_1 = [4, 0.5]: the second element's |z| stays under l1, so its weight is exactly 0
# t=1: n = 9 + [16, 0.25] = [25, 9.25];  sqrt(n) = [5, 3.0414];  sigma = (sqrt(n) - 3)/1 = [2, 0.0414]
#      z = g - sigma*w0 = [4 - 2, 0.5 - 0.0414] = [2, 0.4586];  q = sqrt(n) = [5, 3.0414]
#      w = (clip(z, -1, 1) - z)/q = [(1 - 2)/5, 0] = [-0.2, 0]             (|0.4586| <= 1: 0 exactly)
# t=2: g_2 = [-12, 0]: n = [25 + 144, 9.25] = [169, 9.25];  sigma = [(13 - 5)/1, 0] = [8, 0]
#      z = [2 - 12 - 8*(-0.2), 0.4586 - 0] = [-8.4, 0.4586];  q = [13, 3.0414]
#      w = [(-1 + 8.4)/13, 0] = [7.4/13, 0] = [0.56923077, 0]
SHORT_HYPER = {"lr": 1.0, "initial_accumulator_value": 9.0, "l1": 1.0}
Z1 = 0.5 - (9.25 ** 0.5 - 3.0)
SHORT = Hand("short", "keras", ((-0.2, 0.0), (7.4 / 13, 0.0)), SHORT_HYPER, grads=((4.0, 0.5), (-12.0, 0.0)),
             w0=(1.0, 1.0),
             trace={1: {"n": [25.0, 9.25], "sigma": [2.0, 9.25 ** 0.5 - 3.0], "z": [2.0, Z1], "q": [5.0, 9.25 ** 0.5]},
                    2: {"n": [169.0, 9.25], "sigma": [8.0, 0.0], "z": [-8.4, Z1], "q": [13.0, 9.25 ** 0.5]}},
             state={"step": 2, "accumulator": [169.0, 9.25], "linear": [-8.4, Z1]})


def a_zero_gradient_sets_every_weight_to_zero():
    # sigma = 0 and z stays 0: w_1 = (clip(0) - 0) / q = 0, whatever w_0 (FTRL's weights are a function of z, n)
    w0 = problem(0)[0]
    weights, opt, p = run_steps("ftrl", [np.zeros((3, 4))] * 2, w0=w0, lr=0.05)
    assert np.all(weights[0] == 0.0) and np.all(weights[1] == 0.0)
    np.testing.assert_array_equal(opt.state[p]["accumulator"], np.full((3, 4), 0.1))


def the_first_step_is_adagrads_from_a_shrunk_w0():
    # l1 = l2 = beta = 0: w_1 = (sigma_1 w_0 - g_1) / q_1 = w_0 (1 - sqrt(n_0 / n_1)) - lr g_1 / sqrt(n_1)
    w0, grads = problem(2)
    (w1,), _, _ = run_steps("ftrl", grads[:1], w0=w0, lr=0.05, initial_accumulator_value=0.3)
    n1 = 0.3 + grads[0] ** 2
    np.testing.assert_allclose(w1, w0 * (1 - np.sqrt(0.3 / n1)) - 0.05 * grads[0] / np.sqrt(n1), rtol=1e-12)


def l1_makes_weights_exactly_zero():
    w0, grads = problem(3, steps=30)
    weights, opt, p = run_steps("ftrl", grads, w0=w0, lr=0.5, l1=5.0)
    z = opt.state[p]["linear"]
    assert np.array_equal(weights[-1] == 0.0, np.abs(z) <= 5.0) and np.any(weights[-1] == 0.0)
    assert np.any(weights[-1] != 0.0)


def weights_of_the_state(state, group):
    """FTRL's weights are not stepped from w_{t-1}: each step computes them afresh from the state,
    w_t = (clip(z_t, -l1, l1) - z_t) / q_t with q_t = n_t^(-lr_power) / lr + 2 * (l2 + beta / (2 * lr))."""
    n, z = state["accumulator"], state["linear"]
    lr, l1 = group["lr"], group["l1"]
    q = n ** -group["lr_power"] / lr + 2 * (group["l2"] + group["beta"] / (2 * lr))
    return (np.clip(z, -l1, l1) - z) / q


def keras_long_names_are_minidls_short_ones():
    p = parameter([1.0])
    opt = optim.Ftrl([p], learning_rate=0.1, learning_rate_power=-0.7, l1_regularization_strength=0.1,
                     l2_regularization_strength=0.2, l2_shrinkage_regularization_strength=0.3)
    assert {k: opt.defaults[k] for k in ("lr", "lr_power", "l1", "l2", "l2_shrinkage")} == \
        {"lr": 0.1, "lr_power": -0.7, "l1": 0.1, "l2": 0.2, "l2_shrinkage": 0.3}
    with pytest.raises(ValueError, match="Invalid initial_accumulator_value: 0"):
        optim.Ftrl([p], initial_accumulator_value=0.0)
    optim.Ftrl([p], initial_accumulator_value=0.0, beta=1.0)           # q_t >= beta / lr > 0
    assert optim.Ftrl.ELEMENTWISE and list(optim.Ftrl.DEFAULTS) == ["keras"]


SPEC = Spec(
    name="ftrl",
    defaults={"keras": {"lr": 0.001, "lr_power": -0.5, "initial_accumulator_value": 0.1, "l1": 0.0, "l2": 0.0,
                        "l2_shrinkage": 0.0, "beta": 0.0, "weight_decay": 0.0}},
    variants=({}, {"l1": 0.01, "l2": 0.01, "l2_shrinkage": 0.01, "beta": 0.5, "lr_power": -0.7}),
    hand=(Hand("defaults", "keras", DEFAULTS, trace=DEFAULTS_TRACE),
          Hand("every option", "keras", EVERY, EVERY_HYPER, trace=EVERY_TRACE),
          SHORT),
    bad=(({"lr": 0.0}, "lr"), ({"lr": -0.1}, "lr"), ({"lr_power": 0.5}, "lr_power"),
         ({"lr_power": float("nan")}, "lr_power"), ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
         ({"l1": -1.0}, "l1"), ({"l2": -1.0}, "l2"), ({"l2_shrinkage": -0.1}, "l2_shrinkage"),
         ({"l1_regularization_strength": -1.0}, "l1"), ({"beta": -1.0}, "beta"), ({"beta": float("inf")}, "beta"),
         ({"momentum": 0.9}, "momentum"), ({"convention": "paper"}, "convention")),
    keras_class="Ftrl",
    keras_variants=({"lr": 0.05},
                    {"lr": 0.1, "learning_rate_power": -0.7, "initial_accumulator_value": 0.5,
                     "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.2,
                     "l2_shrinkage_regularization_strength": 0.1, "beta": 0.5}),
    quadratic=({"lr": 0.5}, 1e-10),
    rosenbrock=({"lr": 1.0}, 5e-3),
    overflow_state="accumulator",
    weights_from_state=weights_of_the_state,
    properties=(a_zero_gradient_sets_every_weight_to_zero, the_first_step_is_adagrads_from_a_shrunk_w0,
                l1_makes_weights_exactly_zero, keras_long_names_are_minidls_short_ones),
)
