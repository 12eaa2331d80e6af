"""Lion: the sign of an interpolation between momentum and gradient, the same rule under keras and paper
(only the defaults differ); Algorithm 2's decoupled weight decay.  Real Keras 3 over 100 steps:
tests/test_optim_lion.py."""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# By hand, w0 = [1, -2], g_1 = [1, -2], g_2 = [-3, 1], g_3 = [0.01, 0.01]; beta1 0.9, beta2 0.99 (both defaults)
# t=1: c = 0.9*0 + 0.1*[1, -2] = [0.1, -0.2];  sign = [1, -1];  m = 0.99*0 + 0.01*[1, -2] = [0.01, -0.02]
# t=2: c = 0.9*[0.01, -0.02] + 0.1*[-3, 1] = [0.009 - 0.3, -0.018 + 0.1] = [-0.291, 0.082];  sign = [-1, 1]
#      m = 0.99*[0.01, -0.02] + 0.01*[-3, 1] = [0.0099 - 0.03, -0.0198 + 0.01] = [-0.0201, -0.0098]
# t=3: c = 0.9*[-0.0201, -0.0098] + 0.1*[0.01, 0.01] = [-0.01809 + 0.001, -0.00882 + 0.001] = [-0.01709, -0.00782]
#      sign = [-1, -1]: both elements move up although g_3 > 0, the momentum outweighs the small gradient
#      m = 0.99*[-0.0201, -0.0098] + 0.01*[0.01, 0.01] = [-0.019899 + 0.0001, -0.009702 + 0.0001]
#        = [-0.019799, -0.009602]
# keras (lr 0.001): w = [0.999, -1.999], [1, -2], [1.001, -1.999]
# paper (lr 1e-4):  w = [0.9999, -1.9999], [1, -2], [1.0001, -1.9999]
GRADS = ((1.0, -2.0), (-3.0, 1.0), (0.01, 0.01))
TRACE = {1: {"c": [0.1, -0.2], "m": [0.01, -0.02]},
         2: {"c": [-0.291, 0.082], "m": [-0.0201, -0.0098]},
         3: {"c": [-0.01709, -0.00782], "m": [-0.019799, -0.009602]}}
SIGNS = {1: [1.0, -1.0], 2: [-1.0, 1.0], 3: [-1.0, -1.0]}
STATE = {"step": 3, "exp_avg": [-0.019799, -0.009602]}
DEFAULTS = [Hand("defaults", c, ((1 - lr, -2 + lr), (1.0, -2.0), (1 + lr, -2 + lr)), grads=GRADS,
                 trace={t: {**TRACE[t], "step": [lr * s for s in SIGNS[t]]} for t in TRACE}, state=STATE)
            for c, lr in (("keras", 0.001), ("paper", 0.0001))]

# Short, on paper: w0 = 1, g = 2 then -0.2, lr 0.1, beta1 0.5, beta2 0.75 (every convention)
# t=1: c = 0.5*0 + 0.5*2 = 1;  step = 0.1*sign(1) = 0.1;  w = 1 - 0.1 = 0.9;  m = 0.75*0 + 0.25*2 = 0.5
# t=2: c = 0.5*0.5 + 0.5*(-0.2) = 0.25 - 0.1 = 0.15 > 0 although g < 0;  step = 0.1;  w = 0.9 - 0.1 = 0.8
#      m = 0.75*0.5 + 0.25*(-0.2) = 0.375 - 0.05 = 0.325
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75}
SHORT_GRADS = ((2.0,), (-0.2,))
SHORT = [Hand("short", c, ((0.9,), (0.8,)), SHORT_HYPER, grads=SHORT_GRADS, w0=(1.0,),
              trace={1: {"c": [1.0], "step": [0.1], "m": [0.5]}, 2: {"c": [0.15], "step": [0.1], "m": [0.325]}},
              state={"step": 2, "exp_avg": [0.325]})
         for c in ("keras", "paper")]
# The same with weight_decay 0.5, Algorithm 2: theta_t = theta_{t-1} - lr * (sign(c_t) + lambda * theta_{t-1})
# t=1: w = 1 - 0.1*(1 + 0.5*1) = 0.85;  t=2: w = 0.85 - 0.1*(1 + 0.5*0.85) = 0.85 - 0.1425 = 0.7075
# (the base's decoupled decay: w_decayed = 0.85*(1 - 0.1*0.5) = 0.8075, then 0.8075 - 0.1 = 0.7075; Keras the same)
DECAY = [Hand("algorithm 2 weight decay", c, ((0.85,), (0.7075,)), {**SHORT_HYPER, "weight_decay": 0.5},
              grads=SHORT_GRADS, w0=(1.0,), state={"exp_avg": [0.325]})
         for c in ("keras", "paper")]


def every_element_moves_by_lr_or_not_at_all():
    w0, grads = problem(4, steps=30)
    for convention in ("keras", "paper"):
        weights, _, _ = run_steps("lion", grads, w0=w0, convention=convention, lr=0.01)
        moves = np.abs(np.diff(np.array([w0, *weights]), axis=0))
        np.testing.assert_allclose(moves[:, 1:], 0.01, rtol=1e-12)     # |c| > 0 there
        assert np.all(moves.reshape(len(grads), -1)[:, 0] == 0.0)        # g = 0 and m = 0: c = 0, sign 0


def the_conventions_differ_only_in_their_defaults():
    w0, grads = problem(5, steps=20)
    hyper = {"lr": 0.003, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1}
    keras, _, _ = run_steps("lion", grads, w0=w0, convention="keras", **hyper)
    paper, _, _ = run_steps("lion", grads, w0=w0, convention="paper", **hyper)
    np.testing.assert_array_equal(keras, paper)
    assert optim.Lion.DECOUPLED_WEIGHT_DECAY and optim.Lion.ELEMENTWISE


def the_size_of_the_gradient_does_not_matter():
    # sign(c) is the same for g and 1000 g (m scales with g): the same weights
    w0, grads = problem(6, steps=10)
    small, _, _ = run_steps("lion", grads, w0=w0, lr=0.01)
    large, _, _ = run_steps("lion", [1000.0 * g for g in grads], w0=w0, lr=0.01)
    np.testing.assert_array_equal(small, large)


def beta1_in_0_1_beta2_in_0_1_as_keras():
    p = parameter([1.0])
    optim.Lion([p], beta1=1.0, beta2=0.0)                 # the ends Keras allows
    optim.Lion([p], beta1=1e-9, beta2=1.0)
    with pytest.raises(ValueError, match=r"Invalid beta1: 0.0 \(expected a number in \(0, 1\]\)"):
        optim.Lion([p], beta1=0.0)                        # Keras: "the optimizer degenerates to SignSGD"


SPEC = Spec(
    name="lion",
    defaults={"keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0},
              "paper": {"lr": 0.0001, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}},
    hand=(*DEFAULTS, *SHORT, *DECAY),
    bad=(({"beta1": 0.0}, "beta1"), ({"beta1": 1.5}, "beta1"), ({"beta1": float("nan")}, "beta1"),
         ({"beta2": -0.1}, "beta2"), ({"beta2": 1.1}, "beta2"), ({"lr": -0.001}, "lr"),
         ({"lr": float("inf")}, "lr"), ({"eps": 1e-8}, "eps"), ({"momentum": 0.9}, "momentum"),
         ({"weight_decay": -0.1}, "weight_decay"), ({"convention": "pytorch"}, "convention")),
    keras_class="Lion",
    keras_variants=({}, {"lr": 0.01, "weight_decay": 0.05}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.95}),
    quadratic=({"lr": 0.01}, 1e-3),
    rosenbrock=({"lr": 0.001}, 2e-3),
    overflow_state=None,
    properties=(every_element_moves_by_lr_or_not_at_all, the_conventions_differ_only_in_their_defaults,
                the_size_of_the_gradient_does_not_matter, beta1_in_0_1_beta2_in_0_1_as_keras),
)
