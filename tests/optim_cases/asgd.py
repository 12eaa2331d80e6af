"""ASGD: SGD with a decaying step eta_t and the weight decay lambd inside the rule, and the running
average ax_t of the weights from step t0 + 2 on; the averaged point through ``averaged(p)``."""
import copy

import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, run_steps

# Hand-computed (Decimal arithmetic, 40 digits, the hyperparameters as the binary numbers the code holds),
# w0 = [1, -2], g_t = w_{t-1}, defaults lr 0.01, lambd 1e-4, alpha 0.75, t0 1e6 (eta_0 = lr, mu_0 = 1):
# t=1: shrink = 1 - 1e-4*0.01 = 0.999999; w = [1, -2]*0.999999 - 0.01*[1, -2] = [0.989999, -1.979998];
#      ax = w (mu_0 = 1); eta_1 = 0.01/(1 + 1e-4*0.01*1)^0.75 = 0.009999992500006563; mu_1 = 1/max(1, 1 - 1e6) = 1
# t=2: shrink = 1 - 1e-4*eta_1 = 0.99999900000075; w = w_1*shrink - eta_1*w_1 = [0.9800980274267285, ...];
#      eta_2 = 0.01/(1 + 2e-6)^0.75 = 0.009999985000026251
# t=3: shrink = 0.9999990000015; w = [0.9702960817573486, -1.9405921635146972]; eta_3 = 0.009999977500059062
DEFAULTS_HAND = Hand(
    "defaults", "pytorch",
    ((0.989999, -1.979998), (0.9800980274267285, -1.960196054853457), (0.9702960817573486, -1.9405921635146972)),
    trace={1: {"shrink": 0.999999, "ax": [0.989999, -1.979998], "eta": 0.009999992500006563, "mu": 1.0},
           2: {"shrink": 0.99999900000075, "eta": 0.009999985000026251},
           3: {"shrink": 0.9999990000015, "w": [0.9702960817573486, -1.9405921635146972],
               "ax": [0.9702960817573486, -1.9405921635146972], "eta": 0.009999977500059062}},
    state={"step": 3, "eta": 0.009999977500059062, "mu": 1.0, "ax": [0.9702960817573486, -1.9405921635146972]})

# Averaging, the same problem with lr 0.1, lambd 0.01, t0 = 1 (Decimal, 40 digits):
# mu_1 = 1/max(1, 0) = 1, mu_2 = 1/max(1, 1) = 1, mu_3 = 1/2, mu_4 = 1/3: ax_t = w_t up to t = t0 + 2 = 3, then
# ax_4 = (w_3 + w_4)/2 = [0.690137283725064, -1.380274567450128], ax_5 = (w_3 + w_4 + w_5)/3
# eta_1 = 0.1/(1 + 0.001)^0.75 = 0.09992506556490009, eta_2 = 0.09985026201965064, eta_3 = 0.0997755890053364,
# eta_4 = 0.09970104616438286
AVERAGING_HAND = Hand(
    "averaging from t0 + 2", "pytorch",
    ((0.899, -1.798), (0.8082690397177263, -1.6165380794354527), (0.7267561055655581, -1.4535122111311163),
     (0.6535184618845699, -1.3070369237691397), (0.5877104228035636, -1.1754208456071271)),
    {"lr": 0.1, "lambd": 0.01, "t0": 1.0},
    trace={2: {"shrink": 0.999000749344351, "mu": 1.0}, 3: {"ax": [0.7267561055655581, -1.4535122111311163],
                                                             "mu": 0.5},
           4: {"shrink": 0.9990022441099466, "ax": [0.690137283725064, -1.380274567450128], "mu": 1 / 3,
               "eta": 0.09970104616438286}},
    state={"step": 5, "eta": 0.09962663314054993, "mu": 0.25, "ax": [0.6559949967512305, -1.311989993502461]})

# Short, on paper: w0 = 1, g = 1, 1, -1, lr 0.5, lambd 0.5, alpha 1, t0 0 (eta_t = 0.5/(1 + 0.25 t))
# t=1: shrink = 1 - 0.5*0.5 = 0.75;   w = 1*0.75 - 0.5*1 = 0.25;    ax = w = 0.25 (mu_0 = 1)
#      eta_1 = 0.5/1.25 = 0.4;  mu_1 = 1/max(1, 1) = 1
# t=2: shrink = 1 - 0.5*0.4 = 0.8;    w = 0.25*0.8 - 0.4*1 = -0.2;   ax = w = -0.2 (mu_1 = 1)
#      eta_2 = 0.5/1.5 = 1/3;  mu_2 = 1/2
# t=3: shrink = 1 - 0.5/3 = 5/6;      w = -0.2*5/6 + 1/3 = 1/6;      ax = -0.2 + (1/6 + 0.2)/2 = -1/60 (the mean
#      of w_2 and w_3);  eta_3 = 0.5/1.75 = 2/7;  mu_3 = 1/3
SHORT = Hand("short", "pytorch", ((0.25,), (-0.2,), (1 / 6,)), {"lr": 0.5, "lambd": 0.5, "alpha": 1.0, "t0": 0.0},
             grads=((1.0,), (1.0,), (-1.0,)), w0=(1.0,),
             trace={1: {"shrink": 0.75, "w": [0.25], "ax": [0.25], "eta": 0.4, "mu": 1.0},
                    2: {"shrink": 0.8, "ax": [-0.2], "eta": 1 / 3, "mu": 0.5},
                    3: {"shrink": 5 / 6, "w": [1 / 6], "ax": [-1 / 60], "eta": 2 / 7, "mu": 1 / 3}},
             state={"step": 3, "eta": 2 / 7, "mu": 1 / 3, "ax": [-1 / 60]}, rtol=1e-14)

# weight_decay is L2 before the rule, lambd inside it: w0 = 1, g = 0, lr 0.5, lambd 0.5, alpha 1, weight_decay 0.2
# t=1: the rule sees g = 0.2*1 = 0.2: w = 1*0.75 - 0.5*0.2 = 0.65
L2_HAND = Hand("weight decay and lambd", "pytorch", ((0.65,),),
               {"lr": 0.5, "lambd": 0.5, "alpha": 1.0, "weight_decay": 0.2}, grads=((0.0,),), w0=(1.0,))

CASES = (DEFAULTS_HAND, AVERAGING_HAND, SHORT, L2_HAND)


def a_zero_gradient_still_shrinks_the_weights_by_lambd():
    # why the shared tests run ASGD with lambd = 0: w_t = w_{t-1} * (1 - lambd * eta_{t-1}) when g = 0
    weights, opt, p = run_steps("asgd", [[0.0, 0.0]] * 2, lr=0.5, lambd=0.5, alpha=1.0)
    np.testing.assert_allclose(weights, [[0.75, -1.5], [0.6, -1.2]], rtol=1e-15)   # 0.75, then 0.75 * 0.8


def the_average_is_the_mean_of_the_weights_from_t0_plus_2():
    rng = np.random.default_rng(5)
    grads = list(rng.standard_normal((30, 5)))
    weights, opt, p = run_steps("asgd", grads, w0=rng.standard_normal(5), lr=0.05, t0=9.0)
    np.testing.assert_allclose(opt.averaged(p), np.mean(weights[10:], axis=0), rtol=1e-13)   # w_11 ... w_30
    assert opt.averaged(p) is not opt.state[p]["ax"]
    np.testing.assert_array_equal(opt.averaged(p), opt.state[p]["ax"])


def averaged_before_any_step_is_the_parameter_and_a_stranger_is_refused():
    p, stranger = parameter([1.0, -2.0]), parameter([3.0], name="other.weight")
    opt = optim.ASGD([p])
    np.testing.assert_array_equal(opt.averaged(p), [1.0, -2.0])
    with pytest.raises(ValueError, match="other.weight is not a parameter of this optimizer"):
        opt.averaged(stranger)


def resume_with_lambd_and_averaging_is_bit_identical():
    # the shared resume test runs lambd = 0; here the decay and the average on, resumed in the middle
    rng = np.random.default_rng(6)
    grads = list(rng.standard_normal((10, 3, 4)))
    hyper = {"lr": 0.05, "lambd": 0.01, "t0": 2.0}
    whole, opt_whole, p_whole = run_steps("asgd", grads, w0=np.ones((3, 4)), **hyper)
    _, opt_a, p_a = run_steps("asgd", grads[:5], w0=np.ones((3, 4)), **hyper)
    p_b = parameter(p_a.data.copy())
    opt_b = optim.ASGD([p_b], **hyper)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    for g in grads[5:]:
        p_b.grad = g.copy()
        opt_b.step()
    np.testing.assert_array_equal(p_b.data, whole[-1])
    np.testing.assert_array_equal(opt_b.averaged(p_b), opt_whole.averaged(p_whole))
    assert opt_b.state[p_b]["eta"] == opt_whole.state[p_whole]["eta"] and type(opt_b.state[p_b]["step"]) is int


SPEC = Spec(
    name="asgd",
    defaults={"pytorch": {"lr": 0.01, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6}},
    # lambd = 0: the shared tests check that a zero gradient moves nothing (lambd's decay moves w: see
    # a_zero_gradient_still_shrinks_the_weights_by_lambd); t0 = 2: the average's running-mean branch
    variants=({"lambd": 0.0}, {"lambd": 0.0, "t0": 2.0}),
    hand=CASES,
    bad=(({"lr": -0.01}, "lr"), ({"lr": float("nan")}, "lr"), ({"lambd": -1e-4}, "lambd"),
         ({"lambd": "0.1"}, "lambd"), ({"alpha": -0.75}, "alpha"), ({"alpha": float("inf")}, "alpha"),
         ({"t0": -1.0}, "t0"), ({"t0": None, "momentum": 0.9}, "momentum"), ({"convention": "keras"}, "convention"),
         ({"weight_decay": -1.0}, "weight_decay")),
    torch="ASGD",
    torch_variants=({"lr": 0.01}, {"lr": 0.05, "lambd": 1e-3, "t0": 10.0}, {"lr": 0.05, "t0": 10.0, "weight_decay": 0.05},
                    {"lr": 0.02, "alpha": 1.0, "t0": 0.0}),
    quadratic=({"lr": 0.1}, 1e-10),
    rosenbrock=({"lr": 0.002}, 3e-3),    # plain SGD steps: lr 0.01 throws w out of the valley (overflow)
    overflow_state=None,
    properties=(a_zero_gradient_still_shrinks_the_weights_by_lambd, the_average_is_the_mean_of_the_weights_from_t0_plus_2,
                averaged_before_any_step_is_the_parameter_and_a_stranger_is_refused,
                resume_with_lambd_and_averaging_is_bit_identical),
)
