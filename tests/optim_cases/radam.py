"""RAdam: SGD-with-momentum steps until the SMA length rho_t passes 5 (torch) or 4 (the paper), then
Adam's step times the rectification r_t; torch's decoupled_weight_decay."""
import numpy as np

from minidl import optim
from minidl.optim.trace import trace_update
from optim_testutil import Hand, Spec, parameter, run_steps

# Hand-computed (Decimal arithmetic, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults lr 0.001, beta1 0.9,
# beta2 0.999, eps 1e-8; rho_inf = 2/(1 - 0.999) - 1 = 1999; rho_t = 1999 - 2t*0.999^t/(1 - 0.999^t).
# t=1: m = 0.1*g = [0.1, -0.2]; v = 0.001*g^2 = [0.001, 0.004]; bias1 = 0.1, bias2 = 0.001; m_hat = [1, -2];
#      rho_1 = 1999 - 2*0.999/0.001 = 1; not rectified: step = m_hat*lr = [0.001, -0.002]; w_1 = [0.999, -1.998]
# t=2..4: rho = 1.9994997498749374, 2.998665999777778, 3.997498749875438: step = m_hat*lr
#      (m_hat_2 = [0.9994736842105263, -1.9989473684210526]); w_4 = [0.9960032269185484, -1.9920064538370967]
# t=5: rho_5 = 4.995998000401602 (bias2 = 0.004990009995001)
#      pytorch: 4.996 <= 5, not rectified: step = m_hat*lr = [9.977915288621494e-4, -1.995583057724299e-3]
#      paper:   4.996 > 4, rectified: l = sqrt(bias2)/(sqrt(v) + eps) = [1.0020037947062326, 0.5010019328858044];
#               r = sqrt(0.996*2.996*1999/(1995*1997*4.996)) = 0.017311503166379555;
#               step = m_hat*lr*l*r = [1.7307883300696287e-5, -1.7307884528227805e-5]
# t=6: rho_6 = 5.994163751656718 (bias2 = 0.005985019985005999): rectified in both,
#      r = sqrt(1.994*3.994*1999/(1995*1997*5.994)) = 0.025821112801865217
#      pytorch: m = [0.46724559162487356, -0.9344911832497471]; l = [1.0025057927088552, 0.5012529288318097];
#               step = [2.581325514656476e-5, -2.581325681906772e-5]
# t=7: rho_7 = 6.991996004008002, r = 0.03273881441005947
# rtol 1e-10 for these: in float64, bias2_t = 1 - 0.999^t holds about 2e-14 of relative rounding, and
# rho_5 = 1999 - 1994.004 cancels three digits of it (torch computes it the same way): the code's rho_5 is
# 6.6e-12 from the 40-digit value, and r_5 about 3e-12 relative.
HAND = {
    "pytorch": [[0.999, -1.998], [0.9980005263157895, -1.996001052631579],
                [0.9970015962322781, -1.9940031924645563], [0.9960032269185484, -1.9920064538370967],
                [0.9950054353896862, -1.9900108707793724], [0.9949796221345397, -1.9899850575225535],
                [0.9949468953946644, -1.989952330760053]],
    "paper": [[0.999, -1.998], [0.9980005263157895, -1.996001052631579],
              [0.9970015962322781, -1.9940031924645563], [0.9960032269185484, -1.9920064538370967],
              [0.9959859190352477, -1.9919891459525685], [0.9959601045940901, -1.991963331499288],
              [0.9959273753315893, -1.991930602191985]],
}
FIRST = {"m": [0.1, -0.2], "v": [0.001, 0.004], "bias1": 0.1, "bias2": 0.001, "m_hat": [1.0, -2.0],
         "rho_inf": 1999.0, "rho": 1.0, "rectified": False, "step": [0.001, -0.002]}
HAND_TRACE = {
    "pytorch": {1: FIRST,
                5: {"rho": 4.995998000401602, "rectified": False,
                    "step": [9.977915288621494e-4, -1.995583057724299e-3]},
                6: {"m": [0.46724559162487356, -0.9344911832497471], "bias2": 0.005985019985005999,
                    "rho": 5.994163751656718, "rectified": True, "l_t": [1.0025057927088552, 0.5012529288318097],
                    "r_t": 0.025821112801865217, "step": [2.581325514656476e-5, -2.581325681906772e-5]},
                7: {"rho": 6.991996004008002, "r_t": 0.03273881441005947}},
    "paper": {1: FIRST,
              5: {"rho": 4.995998000401602, "rectified": True, "l_t": [1.0020037947062326, 0.5010019328858044],
                  "r_t": 0.017311503166379555, "step": [1.7307883300696287e-5, -1.7307884528227805e-5]},
              6: {"m": [0.4673436399894297, -0.9346890107670667], "r_t": 0.025821112801865217,
                  "l_t": [1.0023415189862925, 0.5011700668234178],
                  "step": [2.5814441157618934e-5, -2.5814453280697892e-5]}},
}

# Short, on paper: w0 = 0, g = 1 at every step, lr 0.1, beta1 0.5, beta2 0.9, eps 1e-15 (it moves nothing
# before the 15th digit).  With a constant g = 1: m_t = 1 - 0.5^t = bias1_t, so m_hat_t = 1, and
# v_t = 1 - 0.9^t = bias2_t, so l_t = sqrt(bias2_t)/sqrt(v_t) = 1: the step is lr, or lr * r_t once rectified.
# rho_inf = 2/(1 - 0.9) - 1 = 19;  rho_t = 19 - 2t*0.9^t/(1 - 0.9^t):
#   t=1: 19 - 2*0.9/0.1 = 1;    t=2: 19 - 4*0.81/0.19 = 1.947368;   t=3: 19 - 6*0.729/0.271 = 2.859779
#   t=4: 19 - 8*0.6561/0.3439 = 3.737424;   t=5: 19 - 10*0.59049/0.40951 = 4.580572
#   t=6: 19 - 12*0.531441/0.468559 = 5.389565
# t=1..4: not rectified (rho <= 4): w = -0.1, -0.2, -0.3, -0.4
# t=5, paper (4.580572 > 4): r_5 = sqrt(0.580572*2.580572*19/(15*17*4.580572)) = sqrt(0.0243706) = 0.1561108;
#   w_5 = -0.4 - 0.01561108 = -0.41561108
#   pytorch (4.580572 <= 5): w_5 = -0.5
# t=6, both (5.389565 > 5): r_6 = sqrt(1.389565*3.389565*19/(15*17*5.389565)) = sqrt(0.0651152) = 0.2551768;
#   paper w_6 = -0.41561108 - 0.02551768 = -0.44112876;  pytorch w_6 = -0.5 - 0.02551768 = -0.52551768
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 1e-15}
R5, R6 = 0.15611076327512505, 0.2551768065466865
SHORT = [
    Hand("short", "pytorch", ((-0.1,), (-0.2,), (-0.3,), (-0.4,), (-0.5,), (-0.5 - 0.1 * R6,)), SHORT_HYPER,
         grads=((1.0,),) * 6, w0=(0.0,),
         trace={5: {"m_hat": [1.0], "rho": 4.580571903006032, "rectified": False, "step": [0.1]},
                6: {"m_hat": [1.0], "rho": 5.3895646012561915, "rectified": True, "l_t": [1.0], "r_t": R6}},
         state={"step": 6, "exp_avg": [1 - 0.5 ** 6], "exp_avg_sq": [1 - 0.9 ** 6]}),
    Hand("short", "paper", ((-0.1,), (-0.2,), (-0.3,), (-0.4,), (-0.4 - 0.1 * R5,), (-0.4 - 0.1 * R5 - 0.1 * R6,)),
         SHORT_HYPER, grads=((1.0,),) * 6, w0=(0.0,),
         trace={5: {"rho": 4.580571903006032, "rectified": True, "l_t": [1.0], "r_t": R5, "step": [0.1 * R5]}}),
]

# Two steps, on paper (never rectified: rho_2 = (1 + 3*beta2)/(1 + beta2) <= 2): w0 = 1, g = 2 then -2,
# lr 0.1, beta1 0.5, beta2 0.75
# t=1: m = 0.5*2 = 1; m_hat = 1/0.5 = 2; step = 2*0.1 = 0.2; w = 0.8
# t=2: m = 0.5*1 + 0.5*(-2) = -0.5; m_hat = -0.5/0.75 = -2/3; step = -1/15; w = 0.8 + 1/15 = 0.8666667
#      rho_2 = (1 + 2.25)/1.75 = 13/7 = 1.857143 (rho_inf = 7)
TWO_STEPS = [Hand("two steps", c, ((0.8,), (0.8 + 1 / 15,)), {"lr": 0.1, "beta1": 0.5, "beta2": 0.75},
                  grads=((2.0,), (-2.0,)), w0=(1.0,),
                  trace={1: {"m_hat": [2.0], "rho": 1.0, "step": [0.2]},
                         2: {"m": [-0.5], "m_hat": [-2 / 3], "rho_inf": 7.0, "rho": 13 / 7, "rectified": False}})
             for c in ("pytorch", "paper")]

# decoupled_weight_decay, on paper: w0 = 1, g = 0 at both steps, lr 0.1, weight_decay 0.5
# decoupled: w = w*(1 - 0.1*0.5) = 0.95*w, the moments stay 0 (step 0): w = 0.95, 0.9025
# coupled (L2): the rule sees g = 0.5*w: t=1: m = 0.1*0.5 = 0.05, m_hat = 0.5, step = 0.05, w = 0.95;
#      t=2: g = 0.475, m = 0.045 + 0.0475 = 0.0925, m_hat = 0.0925/0.19 = 0.48684211, step = 0.048684211,
#      w = 0.95 - 0.048684211 = 0.90131579
DECAY = [Hand("decoupled weight decay", "pytorch", ((0.95,), (0.9025,)),
              {"lr": 0.1, "weight_decay": 0.5, "decoupled_weight_decay": True}, grads=((0.0,), (0.0,)), w0=(1.0,),
              state={"exp_avg": [0.0], "exp_avg_sq": [0.0]}),
         Hand("coupled weight decay", "pytorch", ((0.95,), (0.95 - 0.1 * 0.0925 / 0.19,)),
              {"lr": 0.1, "weight_decay": 0.5}, grads=((0.0,), (0.0,)), w0=(1.0,),
              state={"exp_avg": [0.0925]})]

CASES = (*[Hand("defaults", c, tuple(map(tuple, HAND[c])), trace=HAND_TRACE[c], rtol=1e-10) for c in HAND],
         *SHORT, *TWO_STEPS, *DECAY)


def rectified_flags(convention, beta2, steps):
    p = parameter([1.0, -2.0])
    opt = optim.RAdam([p], convention=convention, beta2=beta2)
    group = opt.param_groups[0]
    state = opt.state_for(p, group)
    return [trace_update(opt, p.data, p.data.copy(), state, group)["update"]["rectified"] for _ in range(steps)]


def rectification_starts_at_step_5_for_the_paper_and_6_for_torch():
    # beta2 = 0.999: rho_t = 1, 2.0, 3.0, 4.0, 4.996, 5.994, 6.992
    assert rectified_flags("paper", 0.999, 7) == [False] * 4 + [True] * 3
    assert rectified_flags("pytorch", 0.999, 7) == [False] * 5 + [True] * 2
    # beta2 = 0.6: rho_inf = 4, rho_t < 4 forever: never rectified, SGD with momentum throughout
    assert rectified_flags("paper", 0.6, 200) == [False] * 200


def unrectified_steps_are_lr_times_m_hat():
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((4, 6))
    w0 = rng.standard_normal(6)
    for convention in ("pytorch", "paper"):
        weights, _, _ = run_steps("radam", list(grads), w0=w0, convention=convention, lr=0.01)
        m, w = np.zeros(6), w0.copy()
        for t, (g, got) in enumerate(zip(grads, weights), start=1):
            m = 0.9 * m + 0.1 * g
            w = w - 0.01 * m / (1 - 0.9 ** t)
            np.testing.assert_allclose(got, w, rtol=1e-13)


def r_t_grows_towards_1_and_the_step_becomes_adams():
    p = parameter([0.5, -1.5, 2.0])
    opt = optim.RAdam([p], beta2=0.9, lr=0.01)
    group = opt.param_groups[0]
    state = opt.state_for(p, group)
    rng = np.random.default_rng(4)
    r_values = []
    for _ in range(300):
        local = trace_update(opt, p.data, rng.standard_normal(3), state, group)["update"]
        if local["rectified"]:
            r_values.append(local["r_t"])
    assert len(r_values) == 300 - 5 and np.all(np.diff(r_values) > 0) and 0.999 < r_values[-1] < 1
    # then the step is Adam's (pytorch), up to the factor r_t
    g = rng.standard_normal(3)
    adam = optim.Adam([parameter([0.0, 0.0, 0.0])], convention="pytorch", beta2=0.9, lr=0.01)
    adam_state = {"step": state["step"], "exp_avg": state["exp_avg"].copy(), "exp_avg_sq": state["exp_avg_sq"].copy()}
    ours = trace_update(opt, p.data.copy(), g, state, group)["update"]
    theirs = trace_update(adam, np.zeros(3), g, adam_state, adam.param_groups[0])["update"]
    np.testing.assert_allclose(ours["step"], ours["r_t"] * theirs["step"], rtol=1e-12)


SPEC = Spec(
    name="radam",
    defaults={c: {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decoupled_weight_decay": False}
              for c in ("pytorch", "paper")},
    variants=({}, {"decoupled_weight_decay": True}),
    hand=CASES,
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
         ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"), ({"lr": -0.001}, "lr"),
         ({"lr": float("inf")}, "lr"), ({"decoupled_weight_decay": "yes"}, "decoupled_weight_decay"),
         ({"decoupled_weight_decay": 1}, "decoupled_weight_decay"), ({"convention": "keras"}, "convention"),
         ({"amsgrad": True}, "amsgrad"), ({"weight_decay": -1.0}, "weight_decay")),
    torch="RAdam",
    torch_variants=tuple({"lr": 0.01, "weight_decay": wd, "decoupled_weight_decay": d}
                         for wd in (0.0, 0.05) for d in (False, True)),
    quadratic=({"lr": 0.1}, 1e-10),
    # the first five steps are SGD with momentum, lr * m_hat_t, on Rosenbrock's gradient (|g_1| = 232): above
    # lr 0.006 they throw w far up the walls (lr 0.007: f = 4e4 after 3000 steps, 0.01 overflows); lr 0.005
    # reaches f = 0.22 (Adam's lr 0.1 is not an option here)
    rosenbrock=({"lr": 0.005}, 0.3),
    overflow_state="exp_avg_sq",
    properties=(rectification_starts_at_step_5_for_the_paper_and_6_for_torch, unrectified_steps_are_lr_times_m_hat,
                r_t_grows_towards_1_and_the_step_becomes_adams),
)
