"""Rprop: PyTorch's iRprop- and the paper's Rprop+ (weight backtracking); no Keras convention."""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem

# first component keeps its sign; the second flips at t=2, is 0*prev at t=3, flips again at t=4
GRADS = ((1.0, -2.0), (3.0, 1.0), (2.0, -1.0), (1.0, 1.0))

# lr (delta_0) 0.01, etas (0.5, 1.2); g_prev starts at 0
# t=1: s = sign([1*0, -2*0]) = [0, 0];  delta = [0.01, 0.01];  g_prev = [1, -2]
#      w = [1 - 0.01, -2 + 0.01] = [0.99, -1.99]
# t=2: s = sign([3*1, 1*(-2)]) = [1, -1];  delta = [0.012, 0.005];  g_prev = [3, 0]
#      w = [0.99 - 0.012, -1.99 - 0] = [0.978, -1.99]
# t=3: s = sign([2*3, -1*0]) = [1, 0];  delta = [0.0144, 0.005];  g_prev = [2, -1]
#      w = [0.978 - 0.0144, -1.99 + 0.005] = [0.9636, -1.985]
# t=4: s = sign([1*2, 1*(-1)]) = [1, -1];  delta = [0.01728, 0.0025];  g_prev = [1, 0]
#      w = [0.9636 - 0.01728, -1.985] = [0.94632, -1.985]
PYTORCH = Hand("pytorch defaults", "pytorch", ((0.99, -1.99), (0.978, -1.99), (0.9636, -1.985), (0.94632, -1.985)),
               grads=GRADS)

# lr (delta_0) 0.1, etas (0.5, 1.2); dw_t = -dw_{t-1} where the sign flipped (backtracking)
# t=1: s = [0, 0];  delta = [0.1, 0.1];  dw = [-0.1, 0.1];  g_prev = [1, -2];  w = [0.9, -1.9]
# t=2: s = [1, -1];  delta = [0.12, 0.05];  dw = [-0.12, -0.1 (undo +0.1)];  g_prev = [3, 0]
#      w = [0.78, -2.0]
# t=3: s = [1, 0];  delta = [0.144, 0.05];  dw = [-0.144, +0.05];  g_prev = [2, -1];  w = [0.636, -1.95]
# t=4: s = [1, -1];  delta = [0.1728, 0.025];  dw = [-0.1728, -0.05 (undo)];  g_prev = [1, 0]
#      w = [0.4632, -2.0]
PAPER = Hand("paper rprop+", "paper", ((0.9, -1.9), (0.78, -2.0), (0.636, -1.95), (0.4632, -2.0)), grads=GRADS)

# lr 100 lies outside the step-size limits: delta_1 = clip(1 * 100, 1e-6, 50) = 50, g = [1, -1]
# w = [1 - 50, -2 + 50] = [-49, 48]
LR_CLIPPED = Hand("lr outside the limits", "pytorch", ((-49.0, 48.0),), {"lr": 100.0}, grads=((1.0, -1.0),))

# Short, on paper: w0 = 1, g = 1, 1, -1, delta_0 = lr = 0.5, etas (0.5, 2)
# pytorch: t=1: s = sign(1*0) = 0, delta = 0.5, g_prev = 1, w = 1 - 0.5 = 0.5
#          t=2: s = 1, delta = 2*0.5 = 1, w = 0.5 - 1 = -0.5
#          t=3: s = -1, delta = 0.5*1 = 0.5, g_prev = 0 (so sign(g_prev) = 0): w stays -0.5
# paper:   t=1, t=2 as pytorch (dw = -0.5, then -1); t=3: s = -1, dw = -dw_2 = +1 (backtrack): w = 0.5
SHORT_HYPER = {"lr": 0.5, "etas": (0.5, 2.0)}
SHORT_TRACE = {1: {"s": [0.0], "delta": [0.5]}, 2: {"s": [1.0], "eta": [2.0], "delta": [1.0]},
               3: {"s": [-1.0], "eta": [0.5], "delta": [0.5], "g_prev": [0.0]}}
SHORT = [
    Hand("short", "pytorch", ((0.5,), (-0.5,), (-0.5,)), SHORT_HYPER, grads=((1.0,), (1.0,), (-1.0,)), w0=(1.0,),
         trace=SHORT_TRACE, state={"step": 3, "prev_grad": [0.0], "step_size": [0.5]}),
    Hand("short", "paper", ((0.5,), (-0.5,), (0.5,)), SHORT_HYPER, grads=((1.0,), (1.0,), (-1.0,)), w0=(1.0,),
         trace={**SHORT_TRACE, 3: {**SHORT_TRACE[3], "dw": [1.0]}},
         state={"step": 3, "prev_grad": [0.0], "step_size": [0.5], "prev_delta": [1.0]}),
]


def default_convention_is_pytorch_and_keras_is_refused():
    p = parameter([0.0, 0.0])
    assert optim.Rprop([p]).convention == "pytorch"
    assert set(optim.Rprop.DEFAULTS) == {"pytorch", "paper"}
    with pytest.raises(ValueError, match="keras"):
        optim.Rprop([p], convention="keras")
    with pytest.raises(ValueError, match="keras"):
        optim.create("rprop", [p], convention="keras")


def step_sizes_stay_within_limits():
    limits = (1e-3, 0.05)
    w0, grads = problem(0, steps=80)
    # a run of same-sign gradients (growth up to the cap), random signs, then alternating signs (shrinking
    # to the floor)
    grads = ([np.abs(g) + 0.1 for g in grads[:40]] + grads[40:]
             + [np.where(t % 2, 1.0, -1.0) * np.ones_like(w0) for t in range(30)])
    for convention in ("pytorch", "paper"):
        p = parameter(w0)
        opt = optim.Rprop([p], lr=0.01, step_sizes=limits, convention=convention)
        seen_max = seen_min = False
        for g in grads:
            p.grad = g
            opt.step()
            s = opt.state[p]["step_size"]
            assert np.all(s >= limits[0]) and np.all(s <= limits[1])
            seen_max |= bool(np.any(s == limits[1]))
            seen_min |= bool(np.any(s == limits[0]))
        assert seen_max and seen_min, convention


SPEC = Spec(
    name="rprop",
    defaults={"pytorch": {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)},
              "paper": {"lr": 0.1, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)}},
    hand=(PYTORCH, PAPER, LR_CLIPPED, *SHORT),
    bad=(({"lr": -1.0}, "lr"), ({"etas": (1.5, 1.2)}, "etas"), ({"etas": (0.5, 0.9)}, "etas"),
         ({"etas": (0.0, 1.2)}, "etas"), ({"etas": 0.5}, "etas"), ({"etas": (0.5, float("nan"))}, "etas"),
         ({"step_sizes": (1.0, 0.1)}, "step_sizes"), ({"step_sizes": (-1.0, 1.0)}, "step_sizes"),
         ({"step_sizes": (0.0, 0.0)}, "step_sizes"), ({"step_sizes": (1e-6,)}, "step_sizes"),
         ({"momentum": 0.9}, "momentum"), ({"convention": "keras"}, "convention")),
    torch="Rprop",
    torch_variants=({}, {"lr": 0.5, "etas": (0.3, 1.5), "step_sizes": (0.01, 1.0)}),
    torch_names={"prev_grad": "prev"},
    quadratic=({"lr": 0.01}, 1e-10),
    rosenbrock=({"lr": 0.01}, 1e-3),
    overflow_state=None,
    properties=(default_convention_is_pytorch_and_keras_is_refused, step_sizes_stay_within_limits),
)
