"""Lamb: Adam's direction rescaled per tensor by ||w|| / ||update||; keras (the base's decay before the
ratio) and paper (Algorithm 2: lambda * w inside the ratio).  Real Keras 3 parity: tests/test_optim_lamb.py."""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}; ||w0|| = sqrt(5) = 2.2360679774997897
# keras defaults (lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7):
# t=1: m = [0.1, -0.2]; v = [0.001, 0.004]; m_hat = [1, -2]; v_hat = [1, 4]; r = m_hat/(sqrt(v_hat)+1e-7)
#      = [0.99999990000001, -0.9999999500000025]; ||r|| = 1.4142134563070872; ratio = sqrt(5)/||r||
#      = 1.5811389486696004; step = 0.001*ratio*r = [0.0015811387905557214, -0.001581138869612657]
# t=2: m = [0.18984188612094443, -0.37984188611303873]; r = [0.99995834088596723, -0.99997925692566435];
#      ||w_1|| = 2.2339467690480984; ||r|| = 1.4141694374398777; ratio = 1.5796881971175204
# t=3: r = [0.99988914436775193, -0.99994482421860335]; ||w_2|| = 2.231827789386257; ratio = 1.578271585035114
KERAS = ((0.99841886120944428, -1.9984188611303873), (0.9968392388207375, -1.9968392057008595),
         (0.9952611421959968, -1.9952610211981924))
KERAS_TRACE = {1: {"m": [0.1, -0.2], "v": [0.001, 0.004], "m_hat": [1.0, -2.0], "v_hat": [1.0, 4.0],
                   "r": [0.99999990000001, -0.9999999500000025], "w_norm": 2.2360679774997897,
                   "r_norm": 1.4142134563070872, "ratio": 1.5811389486696004,
                   "step": [0.0015811387905557214, -0.001581138869612657]},
               2: {"m": [0.18984188612094443, -0.37984188611303873], "r": [0.99995834088596723, -0.99997925692566435],
                   "w_norm": 2.2339467690480984, "r_norm": 1.4141694374398777, "ratio": 1.5796881971175204},
               3: {"r": [0.99988914436775193, -0.99994482421860335], "w_norm": 2.231827789386257,
                   "ratio": 1.578271585035114}}
# keras, lr 0.01, weight_decay 0.1: w_decayed = w_{t-1}*(1 - 0.001) first, its norm in the ratio
# t=1: w_decayed = [0.999, -1.998], ||w_decayed|| = 2.2338319095222899; ratio = 1.5795578097209308
# t=2: ||w_decayed|| = 2.2104385440222393; ratio = 1.5635793043572032;  t=3: 2.1873119413924478, 1.5481512577526752
KERAS_DECAY = ((0.98320442348234834, -1.9822044226925696), (0.9665928911972631, -1.9645902246689263),
               (0.95016453655768571, -1.9471541355985693))
# paper defaults (eps 1e-6) with weight_decay 0.01 (read as weight_decay_rate: u = r + 0.01 * w_{t-1}):
# t=1: r = [0.999999000001, -0.99999950000025]; u = [1.009999000001, -1.01999950000025]; ||u|| = 1.4354431232214601
#      ratio = sqrt(5)/||u|| = 1.5577544949893561
#      step = 0.001*ratio*u = [0.0015733304821863124, -0.0015889088060122852]
# t=2: ||w_1|| = 2.2339433081015235; ||u|| = 1.4353768893418195; ratio = 1.5563461587610486
# t=3: ||w_2|| = 2.2318208677077635; ||u|| = 1.4352815168780409; ratio = 1.5549708133651151
PAPER = ((0.99842666951781369, -1.9984110911939877), (0.99685485029962549, -1.9968236759839227),
         (0.99528455160471809, -1.9952377420652779))
PAPER_TRACE = {1: {"r": [0.999999000001, -0.99999950000025], "u": [1.009999000001, -1.01999950000025],
                   "w_norm": 2.2360679774997897, "u_norm": 1.4354431232214601, "ratio": 1.5577544949893561,
                   "step": [0.0015733304821863124, -0.0015889088060122852]},
               2: {"w_norm": 2.2339433081015235, "u_norm": 1.4353768893418195, "ratio": 1.5563461587610486},
               3: {"w_norm": 2.2318208677077635, "u_norm": 1.4352815168780409, "ratio": 1.5549708133651151}}

# Short, on paper: one weight, w0 = 2, g = 3 then -1, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15 (every convention).
# With one element ratio * r = |w| * sign(r): the step is lr * |w_{t-1}|, whatever the size of g.
# t=1: m = 0.5*3 = 1.5;  v = 0.25*9 = 2.25;  m_hat = 1.5/0.5 = 3;  v_hat = 2.25/0.25 = 9;  r = 3/(3 + eps) = 1
#      w_norm = 2;  r_norm (u_norm) = 1;  ratio = 2;  step = 0.1*2*1 = 0.2;  w = 1.8
# t=2: m = 0.5*1.5 + 0.5*(-1) = 0.25;  v = 0.75*2.25 + 0.25*1 = 1.9375;  m_hat = 0.25/0.75 = 1/3;
#      v_hat = 1.9375/0.4375 = 31/7;  r = (1/3)/sqrt(31/7) > 0;  w_norm = 1.8;  step = 0.1*1.8 = 0.18;  w = 1.62
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15}
R2 = (1 / 3) / (31 / 7) ** 0.5
SHORT_TRACE = {1: {"m": [1.5], "v": [2.25], "m_hat": [3.0], "v_hat": [9.0], "r": [1.0], "w_norm": 2.0,
                   "ratio": 2.0, "step": [0.2]},
               2: {"m": [0.25], "v": [1.9375], "m_hat": [1 / 3], "v_hat": [31 / 7], "r": [R2], "w_norm": 1.8,
                   "ratio": 1.8 / R2, "step": [0.18]}}
SHORT_NORM = {"keras": "r_norm", "paper": "u_norm"}
SHORT = [Hand("short", c, ((1.8,), (1.62,)), SHORT_HYPER, grads=((3.0,), (-1.0,)), w0=(2.0,),
              trace={t: {**v, SHORT_NORM[c]: abs(v["r"][0])} for t, v in SHORT_TRACE.items()},
              state={"step": 2, "exp_avg": [0.25], "exp_avg_sq": [1.9375]})
         for c in ("keras", "paper")]

# The decay inside the trust ratio (paper), one step: w0 = [3, 4] (norm 5), g = [1, -1], lr 0.1, lambda 0.25,
# beta1 0.5, beta2 0.75, eps 1e-15:  r = [1, -1];  u = r + 0.25*[3, 4] = [1.75, 0];  ||u|| = 1.75;
# ratio = 5/1.75 = 20/7;  step = 0.1*(20/7)*[1.75, 0] = [0.5, 0];  w = [2.5, 4]: the second weight stays,
# its gradient and its decay cancel.  keras with weight_decay 0.25 decays first: w_decayed = [3, 4]*0.975 =
# [2.925, 3.9] (norm 4.875);  ratio = 4.875/sqrt(2);  step = 0.1*4.875/sqrt(2)*[1, -1];
# w = [2.925 - 0.34471, 3.9 + 0.34471]
DECAY_HYPER = {**SHORT_HYPER, "weight_decay": 0.25}
KERAS_STEP = 0.1 * 4.875 / 2 ** 0.5
DECAY = (Hand("decay inside the trust ratio", "paper", ((2.5, 4.0),), DECAY_HYPER, grads=((1.0, -1.0),), w0=(3.0, 4.0)),
         Hand("decay before the trust ratio", "keras", ((2.925 - KERAS_STEP, 3.9 + KERAS_STEP),), DECAY_HYPER,
              grads=((1.0, -1.0),), w0=(3.0, 4.0)))

CASES = (Hand("defaults", "keras", KERAS, trace=KERAS_TRACE),
         Hand("weight decay", "keras", KERAS_DECAY, {"lr": 0.01, "weight_decay": 0.1}),
         Hand("weight decay", "paper", PAPER, {"weight_decay": 0.01}, trace=PAPER_TRACE),
         *SHORT, *DECAY)


def each_tensor_moves_by_lr_times_its_norm():
    # paper: ||step|| = lr * ratio * ||u|| = lr * ||w_{t-1}|| exactly; keras: lr * ||w_decayed||
    w0, grads = problem(7, steps=10)
    for convention, hyper in (("paper", {"weight_decay": 0.05}), ("keras", {"weight_decay": 0.0})):
        weights, _, _ = run_steps("lamb", grads, w0=w0, convention=convention, lr=0.01, **hyper)
        before = [w0, *weights[:-1]]
        for a, b in zip(before, weights):
            np.testing.assert_allclose(np.linalg.norm(b - a), 0.01 * np.linalg.norm(a), rtol=1e-12)


def weight_decay_is_the_rules_own_under_paper():
    p = parameter([1.0, 2.0])
    opt = optim.Lamb([p], convention="paper", weight_decay=0.01)
    assert opt.defaults["weight_decay"] == 0.0 and opt.defaults["weight_decay_rate"] == 0.01
    opt.add_param_group({"params": [parameter([3.0])], "weight_decay": 0.2})
    assert opt.param_groups[1]["weight_decay"] == 0.0 and opt.param_groups[1]["weight_decay_rate"] == 0.2
    with pytest.raises(ValueError, match="Invalid weight_decay: 0.1 beside weight_decay_rate=0.2"):
        optim.Lamb([p], convention="paper", weight_decay=0.1, weight_decay_rate=0.2)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['weight_decay_rate'\] under the keras"):
        optim.Lamb([p], weight_decay_rate=0.1)
    saved = opt.state_dict()
    saved["param_groups"][0]["weight_decay"] = 0.5                  # a decay by the base too: refused
    with pytest.raises(ValueError, match="expected 0: under the paper convention the decay is the rule's own"):
        opt.load_state_dict(saved)
    assert not optim.Lamb.ELEMENTWISE


def a_zero_tensor_moves_by_lr_times_r_and_a_zero_update_not_at_all():
    for convention in ("keras", "paper"):
        (w1,), _, _ = run_steps("lamb", [[3.0, -4.0]], w0=(0.0, 0.0), convention=convention, lr=0.1, eps=1e-15)
        np.testing.assert_allclose(w1, [-0.1, 0.1], rtol=1e-12)          # ratio 1, r = sign(g)
        (w1,), _, _ = run_steps("lamb", [[0.0, 0.0]], w0=(3.0, -4.0), convention=convention, lr=0.1)
        np.testing.assert_array_equal(w1, [3.0, -4.0])


SPEC = Spec(
    name="lamb",
    defaults={"keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "weight_decay": 0.0},
              "paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay_rate": 0.0,
                        "weight_decay": 0.0}},
    hand=CASES,
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
         ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"), ({"lr": -0.001}, "lr"),
         ({"weight_decay": -0.1}, "weight_decay"),
         ({"convention": "paper", "weight_decay": -0.1}, "weight_decay_rate"),
         ({"convention": "paper", "weight_decay_rate": float("inf")}, "weight_decay_rate"),
         ({"momentum": 0.9}, "momentum"), ({"convention": "pytorch"}, "convention")),
    keras_class="Lamb",
    keras_variants=({}, {"lr": 0.01, "weight_decay": 0.05}, {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}),
    quadratic=({"lr": 0.01}, 1e-10),
    rosenbrock=({"lr": 0.02}, 0.2),        # a step of lr * ||w|| whatever the curvature: slow in the valley
    overflow_state="exp_avg_sq",
    properties=(each_tensor_moves_by_lr_times_its_norm, weight_decay_is_the_rules_own_under_paper,
                a_zero_tensor_moves_by_lr_times_r_and_a_zero_update_not_at_all),
)
