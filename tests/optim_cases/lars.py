"""LARS (You, Gitman & Ginsburg 2017, Algorithm 1): momentum SGD with a local lr per tensor,
eta * ||w|| / (||g|| + beta * ||w||), the decay beta inside the rule.  No torch or Keras counterpart:
the values are worked out by hand from the algorithm box."""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# Hand-computed (Decimal, 40 digits), w0 = [1, -2] (||w0|| = sqrt(5) = 2.2360679774997897), defaults lr 1,
# momentum 0.9, eta 0.001, eps 0, weight_decay 0.01 (read as weight_decay_rate beta), g = [0.5, 1], [-1.5, 0.25], [0.1, -0.3]
# t=1: ||g|| = sqrt(1.25) = 1.1180339887498948;  local_lr = 0.001*sqrt(5)/(sqrt(1.25) + 0.01*sqrt(5))
#      = 0.001*2/(1 + 0.02) = 0.0019607843137254902  (sqrt(5)/sqrt(1.25) = 2);
#      v = 1*local_lr*(g + 0.01*w0) = 0.0019607843137254902*[0.51, 0.98] = [0.001, 0.0019215686274509804]
#      w = [0.999, -2.001921568627451]
# t=2: ||w_1|| = 2.2373401544994882;  ||g|| = sqrt(2.3125) = 1.5206906325745549;  local_lr = 0.0014499334473673236
#      v = 0.9*v + local_lr*(g + 0.01*w_1) = [-0.0012604153359117858, 0.0020628685961341232]
#      w = [1.0002604153359118, -2.0039844372235851]
# t=3: ||w_2|| = 2.2397487633934079;  ||g|| = sqrt(0.1) = 0.31622776601683793;  local_lr = 0.0066142401939794062
#      v = [-4.0679015648705337e-4, -2.602386658010453e-4];  w = [1.0006672054923988, -2.0037241985577841]
GRADS = ((0.5, 1.0), (-1.5, 0.25), (0.1, -0.3))
DEFAULTS = ((0.999, -2.001921568627451), (1.0002604153359118, -2.0039844372235851),
            (1.0006672054923988, -2.0037241985577841))
DEFAULTS_TRACE = {
    1: {"w_norm": 2.2360679774997897, "g_norm": 1.1180339887498948, "local_lr": 0.0019607843137254902,
        "v": [0.001, 0.0019215686274509804]},
    2: {"w_norm": 2.2373401544994882, "g_norm": 1.5206906325745549, "local_lr": 0.0014499334473673236,
        "v": [-0.0012604153359117858, 0.0020628685961341232]},
    3: {"w_norm": 2.2397487633934079, "g_norm": 0.31622776601683793, "local_lr": 0.0066142401939794062,
        "v": [-4.0679015648705337e-4, -2.602386658010453e-4]},
}
# the same gradients, lr 0.5, momentum 0.5, eta 0.02, eps 0.1, no decay:
# t=1: local_lr = 0.02*sqrt(5)/(sqrt(1.25) + 0.1) = 0.036716019391129371;  v = 0.5*local_lr*g
# t=2: local_lr = 0.027746724957021593;  t=3: local_lr = 0.10892890375050803
OPTIONS = {"lr": 0.5, "momentum": 0.5, "eta": 0.02, "eps": 0.1}
WITH_OPTIONS = ((0.99082099515221766, -2.0183580096955647), (1.0070415364460927, -2.0310053551629747),
                (1.0097053619055048, -2.0209896923341035))
OPTIONS_TRACE = {1: {"local_lr": 0.036716019391129371, "v": [0.0091790048477823429, 0.018358009695564686]},
                 2: {"local_lr": 0.027746724957021593, "v": [-0.016220541293875023, 0.012647345467410042]},
                 3: {"local_lr": 0.10892890375050803, "v": [-0.0026638254594121101, -0.010015662828871183]}}

# Short, on paper: w0 = [3, 4] (norm 5), lr 1, momentum 0.5, eta 0.1, no decay; g_1 = [3, 4], g_2 = [4, -3] (norm 5)
# t=1: local_lr = 0.1*5/5 = 0.1;  v = 0.1*[3, 4] = [0.3, 0.4];  w = [2.7, 3.6]  (norm 4.5: it shrank by eta = 10%)
# t=2: local_lr = 0.1*4.5/5 = 0.09;  v = 0.5*[0.3, 0.4] + 0.09*[4, -3] = [0.15 + 0.36, 0.2 - 0.27] = [0.51, -0.07]
#      w = [2.7 - 0.51, 3.6 + 0.07] = [2.19, 3.67]
# With decay 0.2, one step from [3, 4] with g = [4, -3]: local_lr = 0.1*5/(5 + 0.2*5) = 1/12;
#      v = (1/12)*([4, -3] + 0.2*[3, 4]) = (1/12)*[4.6, -2.2];  w = [3 - 4.6/12, 4 + 2.2/12] = [2.61667, 4.18333]
SHORT_HYPER = {"lr": 1.0, "momentum": 0.5, "eta": 0.1}
SHORT_TRACE = {1: {"w_norm": 5.0, "g_norm": 5.0, "local_lr": 0.1, "v": [0.3, 0.4]},
               2: {"w_norm": 4.5, "g_norm": 5.0, "local_lr": 0.09, "v": [0.51, -0.07]}}

CASES = (
    Hand("weight decay", "paper", DEFAULTS, {"weight_decay": 0.01}, grads=GRADS, trace=DEFAULTS_TRACE,
         state={"step": 3, "momentum_buffer": [-4.0679015648705337e-4, -2.602386658010453e-4]}),
    Hand("lr, momentum, eta, eps", "paper", WITH_OPTIONS, OPTIONS, grads=GRADS, trace=OPTIONS_TRACE),
    Hand("short", "paper", ((2.7, 3.6), (2.19, 3.67)), SHORT_HYPER, grads=((3.0, 4.0), (4.0, -3.0)), w0=(3.0, 4.0),
         trace=SHORT_TRACE, state={"step": 2, "momentum_buffer": [0.51, -0.07]}),
    Hand("short, decay in the local lr and the step", "paper", ((3 - 4.6 / 12, 4 + 2.2 / 12),),
         {**SHORT_HYPER, "weight_decay": 0.2}, grads=((4.0, -3.0),), w0=(3.0, 4.0),
         trace={1: {"local_lr": 1 / 12, "v": [4.6 / 12, -2.2 / 12]}}),
)


def the_step_does_not_depend_on_the_size_of_the_gradient():
    # without momentum and decay each tensor moves by lr * eta * ||w_{t-1}|| along -g/||g||, however large g is
    w0, grads = problem(4, steps=6)
    runs = [run_steps("lars", [g * scale for g in grads], w0=w0, momentum=0.0, eta=0.01)[0] for scale in (1e-6, 1.0, 1e6)]
    for weights in runs[1:]:
        np.testing.assert_allclose(np.array(weights), np.array(runs[0]), rtol=1e-12)
    before = [w0, *runs[1][:-1]]
    for a, b in zip(before, runs[1]):
        np.testing.assert_allclose(np.linalg.norm(b - a), 0.01 * np.linalg.norm(a), rtol=1e-12)


def clipping_a_tensors_norm_changes_nothing_but_clipping_values_does():
    # with momentum (0.9) and no decay, v_t sums lr * eta * ||w|| * g / ||g||: scaling a tensor's gradient by one
    # factor (clipnorm, global_clipnorm) leaves every step as it was, to rounding; clipvalue changes g's direction
    w0, grads = problem(5, steps=8)
    plain, _, _ = run_steps("lars", grads, w0=w0)
    for clipping in ({"clipnorm": 0.5}, {"global_clipnorm": 0.1}):
        clipped, _, _ = run_steps("lars", grads, w0=w0, **clipping)
        np.testing.assert_allclose(np.array(clipped), np.array(plain), rtol=1e-13, atol=0)
    by_value, _, _ = run_steps("lars", grads, w0=w0, clipvalue=0.5)
    assert np.abs(np.array(by_value) - np.array(plain)).max() > 1e-6


def each_tensor_gets_its_own_local_lr():
    # a weight and a bias with gradients a thousand times apart take steps of the same relative size
    weight, bias = parameter(np.full((3, 4), 2.0), name="layer.weight"), parameter([0.5, -0.5], name="layer.bias")
    opt = optim.LARS([weight, bias], momentum=0.0, eta=0.01)
    weight.grad = np.full((3, 4), 1000.0)
    bias.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(weight.data, 2.0 * (1 - 0.01))              # ||step|| = 0.01 ||w||, g along w
    np.testing.assert_allclose(np.linalg.norm(bias.data - [0.5, -0.5]), 0.01 * np.linalg.norm([0.5, -0.5]), rtol=1e-12)
    assert not optim.LARS.ELEMENTWISE


def a_zero_tensor_takes_a_plain_sgd_step_and_a_zero_gradient_moves_nothing():
    (w1,), _, _ = run_steps("lars", [[3.0, -4.0]], w0=(0.0, 0.0), lr=0.1)     # local lr 1
    np.testing.assert_allclose(w1, [-0.3, 0.4], rtol=1e-15)
    (w1,), _, _ = run_steps("lars", [[0.0, 0.0]], w0=(3.0, -4.0))
    np.testing.assert_array_equal(w1, [3.0, -4.0])
    # a zero gradient with decay: local lr 1 again, the weights shrink by lr * beta
    (w1,), _, _ = run_steps("lars", [[0.0, 0.0]], w0=(3.0, -4.0), lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(w1, [3.0 * 0.95, -4.0 * 0.95], rtol=1e-15)


def weight_decay_is_the_rules_own():
    p = parameter([1.0, 2.0])
    opt = optim.LARS([p], weight_decay=0.01)
    assert opt.defaults["weight_decay"] == 0.0 and opt.defaults["weight_decay_rate"] == 0.01
    opt.add_param_group({"params": [parameter([3.0])], "weight_decay": 0.2})
    assert opt.param_groups[1]["weight_decay"] == 0.0 and opt.param_groups[1]["weight_decay_rate"] == 0.2
    with pytest.raises(ValueError, match="Invalid weight_decay: 0.1 beside weight_decay_rate=0.2"):
        optim.LARS([p], weight_decay=0.1, weight_decay_rate=0.2)
    with pytest.raises(ValueError, match="Invalid weight_decay: -0.2"):          # named as the user wrote it
        opt.add_param_group({"params": [parameter([4.0])], "weight_decay": -0.2})
    saved = opt.state_dict()
    saved["param_groups"][0]["weight_decay"] = 0.5                  # a decay by the base too: refused
    with pytest.raises(ValueError, match="expected 0: under the paper convention the decay is the rule's own"):
        opt.load_state_dict(saved)


def a_float32_gradient_whose_squares_overflow_still_gets_its_ratio():
    # ||g|| = 6e38 overflows float32; summed in float64 it does not: the step is lr * eta * ||w|| = 0.001 * ||w||
    # (lr * local_lr = 0.001 * sqrt(10) / 6e38 = 5.3e-42 is a float32 subnormal, good to about 3 digits)
    p = parameter([1.0, -1.0, 2.0, -2.0], dtype=np.float32)
    opt = optim.LARS([p], momentum=0.0)
    p.grad = np.full(4, 3e38, dtype=np.float32)
    opt.step()
    assert p.data.dtype == np.float32
    np.testing.assert_allclose(np.array([1.0, -1.0, 2.0, -2.0]) - p.data, 0.001 * np.sqrt(10) / 2, rtol=2e-3)


SPEC = Spec(
    name="lars",
    defaults={"paper": {"lr": 1.0, "momentum": 0.9, "eta": 0.001, "eps": 0.0, "weight_decay_rate": 0.0,
                        "weight_decay": 0.0}},
    variants=({}, {"momentum": 0.0, "eps": 1e-8}),
    hand=CASES,
    bad=(({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"momentum": -0.1}, "momentum"),
         ({"eta": 0.0}, "eta"), ({"eta": float("inf")}, "eta"), ({"eps": -1e-8}, "eps"),
         ({"weight_decay": -0.1}, "Invalid weight_decay: -0.1"), ({"weight_decay": "0.1"}, "Invalid weight_decay"),
         ({"weight_decay_rate": -0.1}, "Invalid weight_decay_rate"), ({"weight_decay_rate": float("nan")}, "weight_decay_rate"),
         ({"convention": "keras"}, "convention"), ({"nesterov": True}, "nesterov")),
    quadratic=({}, 1e-15),              # f = 3.6e-19 after 2000 steps at the defaults
    rosenbrock=({}, 0.01),              # 0.0036: a step of about lr * eta * ||w|| whatever the curvature
    overflow_state=None,
    properties=(the_step_does_not_depend_on_the_size_of_the_gradient,
                clipping_a_tensors_norm_changes_nothing_but_clipping_values_does, each_tensor_gets_its_own_local_lr,
                a_zero_tensor_takes_a_plain_sgd_step_and_a_zero_gradient_moves_nothing, weight_decay_is_the_rules_own,
                a_float32_gradient_whose_squares_overflow_still_gets_its_ratio),
)
