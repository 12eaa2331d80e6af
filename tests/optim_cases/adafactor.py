"""Adafactor: the factored second moment (row and column means of g^2), relative steps and update
clipping, under torch's rule (eps1 after the factors) and Keras 3's (eps1 added to g^2).

Parity with torch.optim.Adafactor runs in the table (tests/test_optimizers.py); parity with real
Keras 3 and torch on a factored (3, 4) and an unfactored (5,) parameter in tests/test_optim_adafactor.py.
"""
import numpy as np

from minidl import optim
from minidl.optim.trace import trace_update
from optim_testutil import Hand, Spec, parameter, run_steps

# ------------------------------------------------------------------ short, on paper (2x2, factored)
# pytorch: w0 = [[1, 1], [1, 1]], lr 0.5, beta2_decay -1 (so t^beta2_decay = 1/t), eps2 1e-3, d 1;
#          g_1 = [[3, 1], [3, 1]], g_2 = [[-3, 1], [3, -1]] (the same squares: a rank-1 g^2, which the
#          factors rebuild exactly).
# t=1: rho = min(0.5, 1/sqrt(1)) = 0.5;  rms = sqrt(mean(w0^2)) = 1;  alpha = max(0.001, 1) * 0.5 = 0.5
#      beta2_t = 1 - 1^-1 = 0, so the factors are this step's means:
#      g^2 = [[9, 1], [9, 1]];  row_var = mean over each row = [[5], [5]];  col_var = mean over each column = [[9, 1]]
#      v_hat = row_var * col_var / mean(row_var) = [[5*9, 5*1], [5*9, 5*1]] / 5 = [[9, 1], [9, 1]]  (= g^2)
#      u = g / sqrt(v_hat) = [[3/3, 1/1], [3/3, 1/1]] = [[1, 1], [1, 1]];  denom = max(1, sqrt(mean(u^2)) / 1) = 1
#      step = 0.5 * u / 1 = 0.5 everywhere;  w_1 = [[0.5, 0.5], [0.5, 0.5]]
# t=2: rho = min(0.5, 1/sqrt(2) = 0.707) = 0.5;  rms = 0.5;  alpha = 0.25;  beta2_t = 1 - 2^-1 = 0.5
#      row_var = 0.5*[[5], [5]] + 0.5*[[5], [5]] = [[5], [5]];  col_var = 0.5*[[9, 1]] + 0.5*[[9, 1]] = [[9, 1]]
#      v_hat = [[9, 1], [9, 1]];  u = [[-1, 1], [1, -1]];  denom = 1;  step = 0.25 * u
#      w_2 = [[0.5 + 0.25, 0.5 - 0.25], [0.5 - 0.25, 0.5 + 0.25]] = [[0.75, 0.25], [0.25, 0.75]]
# keras: the same with eps1 0 (so g2 = g^2) and clip_threshold 0.5: the update is clipped to RMS 0.5.
# t=1: lr_t = min(0.5, 1) = 0.5;  rho = 0.5;  rms = 1;  alpha = 0.5;  beta2_t = 0;  g2 = [[9, 1], [9, 1]]
#      row_var = [[5], [5]];  col_var = [[9, 1]];  v_hat = row_var / mean(row_var) * col_var = [[9, 1], [9, 1]]
#      u = [[1, 1], [1, 1]];  denom = max(1, sqrt(mean(u^2)) / 0.5) = max(1, 1 / 0.5) = 2
#      step = 0.5 * 1 / 2 = 0.25;  w_1 = [[0.75, 0.75], [0.75, 0.75]]
# t=2: rms = 0.75;  alpha = max(0.001, 0.75) * 0.5 = 0.375;  beta2_t = 0.5;  factors unchanged, v_hat = [[9, 1], [9, 1]]
#      u = [[-1, 1], [1, -1]];  denom = 2;  step = 0.375 * u / 2 = 0.1875 * u
#      w_2 = [[0.75 + 0.1875, 0.75 - 0.1875], [0.75 - 0.1875, 0.75 + 0.1875]] = [[0.9375, 0.5625], [0.5625, 0.9375]]
SHORT_W0 = ((1.0, 1.0), (1.0, 1.0))
SHORT_GRADS = (((3.0, 1.0), (3.0, 1.0)), ((-3.0, 1.0), (3.0, -1.0)))
SHORT_FACTORS = {"row_var": [[5.0], [5.0]], "col_var": [[9.0, 1.0]],
                 "v_hat": [[9.0, 1.0], [9.0, 1.0]]}
SHORT = (
    Hand("short", "pytorch", (((0.5, 0.5), (0.5, 0.5)), ((0.75, 0.25), (0.25, 0.75))),
         {"lr": 0.5, "beta2_decay": -1.0}, grads=SHORT_GRADS, w0=SHORT_W0,
         trace={1: {**SHORT_FACTORS, "beta2_t": 0.0, "rho": 0.5, "rms": 1.0, "alpha": 0.5,
                    "u": [[1.0, 1.0], [1.0, 1.0]], "denom": 1.0, "step": [[0.5, 0.5], [0.5, 0.5]]},
                2: {**SHORT_FACTORS, "beta2_t": 0.5, "rho": 0.5, "rms": 0.5, "alpha": 0.25,
                    "u": [[-1.0, 1.0], [1.0, -1.0]], "denom": 1.0, "step": [[-0.25, 0.25], [0.25, -0.25]]}},
         state={"step": 2, "row_var": [[5.0], [5.0]], "col_var": [[9.0, 1.0]]}),
    Hand("short", "keras", (((0.75, 0.75), (0.75, 0.75)), ((0.9375, 0.5625), (0.5625, 0.9375))),
         {"lr": 0.5, "beta2_decay": -1.0, "eps1": 0.0, "clip_threshold": 0.5}, grads=SHORT_GRADS, w0=SHORT_W0,
         trace={1: {**SHORT_FACTORS, "beta2_t": 0.0, "lr_t": 0.5, "rho": 0.5, "rms": 1.0, "alpha": 0.5,
                    "g2": [[9.0, 1.0], [9.0, 1.0]], "u": [[1.0, 1.0], [1.0, 1.0]], "denom": 2.0,
                    "step": [[0.25, 0.25], [0.25, 0.25]]},
                2: {**SHORT_FACTORS, "beta2_t": 0.5, "lr_t": 0.5, "rho": 0.5, "rms": 0.75, "alpha": 0.375,
                    "u": [[-1.0, 1.0], [1.0, -1.0]], "denom": 2.0, "step": [[-0.1875, 0.1875], [0.1875, -0.1875]]}},
         state={"step": 2, "row_var": [[5.0], [5.0]], "col_var": [[9.0, 1.0]]}),
)

# ------------------------------------------------------------------ 17 digits (40-digit Decimal arithmetic)
# w0 = [[1, -2, 0.5], [0.25, 1.5, -1]] (factored), g_t = w_{t-1}, default hyperparameters; beta2_t = 1 - t^-0.8:
# t=1: 0, t=2: 1 - 2^-0.8 = 0.42565082250148251, t=3: 1 - 3^-0.8 = 0.58475635346149420.
# t=1 (both): rms = sqrt((1 + 4 + 0.25 + 0.0625 + 2.25 + 1) / 6) = sqrt(8.5625 / 6) = 1.1946059322359543
#      g^2 = [[1, 4, 0.25], [0.0625, 2.25, 1]]: row_var = [[5.25/3], [3.3125/3]] = [[1.75], [1.1041666666666667]]
#      col_var = [[1.0625/2, 6.25/2, 1.25/2]] = [[0.53125, 3.125, 0.625]];  mean(row_var) = 1.4270833333333333
#      v_hat = row_var * col_var / 1.4270833333333333 = [[0.65145985401459854, 3.8321167883211679, ...], ...]
#      u = g / sqrt(v_hat) = [[1.23895682152456, -1.021669968145058, 0.5711308748355985], ...]
#      sqrt(mean(u^2)) = 1.004619152198137 > 1: denom = 1.004619152198137 (the update is clipped)
#   pytorch: rho = min(0.01, 1) = 0.01; alpha = 0.011946059322359542;
#            step = alpha * u / denom = [[0.014732599568095181, -0.012148812831837111, ...], ...]
#   keras:   rho = min(0.001, 1) = 0.001 (eps1 = 1e-30 moves nothing at 17 digits); alpha = 0.0011946059322359543
# t=2, t=3: the same lines from w_1 and w_2 (pytorch: denom = 1 from t=2 on; keras: 1.004072721220429,
#      1.003549330595943)
MATRIX_W0 = ((1.0, -2.0, 0.5), (0.25, 1.5, -1.0))
MATRIX = {
    "pytorch": (((0.9852674004319049, -1.9878511871681628, 0.4932086071655226),
                 (0.24536317076726558, 1.4885291179832905, -0.9829002186991719)),
                ((0.9707010200839288, -1.9757917160929732, 0.4864804313835433),
                 (0.2407895147909546, 1.4771434553226572, -0.9659945364845599)),
                ((0.9563622816381983, -1.9638745528288997, 0.47984400669321126),
                 (0.2362979908177985, 1.465892611471709, -0.9493537381064204))),
    "keras": (((0.9985267400431905, -1.9987851187168162, 0.49932086071655224),
               (0.24953631707672655, 1.4988529117983291, -0.9982900218699172)),
              ((0.9970550106981697, -1.99757102742405, 0.4986422927815627),
               (0.24907322302120652, 1.4977065770733007, -0.996581826466804)),
              ((0.9955848083675188, -1.9963577409674023, 0.4979642930493148),
               (0.24861071452221084, 1.496561004659575, -0.9948753980868843))),
}
MATRIX_T1 = {"rms": 1.1946059322359543, "beta2_t": 0.0, "row_var": [[1.75], [1.1041666666666667]],
             "col_var": [[0.53125, 3.125, 0.625]],
             "v_hat": [[0.6514598540145985, 3.832116788321168, 0.7664233576642335],
                       [0.41104014598540145, 2.417883211678832, 0.4835766423357664]],
             "u": [[1.23895682152456, -1.021669968145058, 0.5711308748355985],
                   [0.38994009044960304, 0.9646585083519706, -1.43802799983237]],
             "denom": 1.004619152198137}
MATRIX_TRACE = {
    "pytorch": {1: {**MATRIX_T1, "rho": 0.01, "alpha": 0.011946059322359542,
                    "step": [[0.014732599568095181, -0.012148812831837111, 0.0067913928344773755],
                             [0.004636829232734433, 0.011470882016709457, -0.01709978130082815]]},
                2: {"beta2_t": 0.4256508225014825, "rms": 1.1837492543773669, "denom": 1.0,
                    "row_var": [[1.733833778932876], [1.0906723060478787]],
                    "col_var": [[0.5221910591965638, 3.1012424131124616, 0.6133256551621066]]},
                3: {"beta2_t": 0.5847563534614942, "alpha": 0.01173012816670997,
                    "row_var": [[1.7173867046444755], [1.0769776957685695]],
                    "col_var": [[0.5130262047214634, 3.0769965165492144, 0.6015238793488896]]}},
    "keras": {1: {**MATRIX_T1, "rho": 0.001, "lr_t": 0.001, "alpha": 0.0011946059322359543,
                  "step": [[0.001473259956809518, -0.0012148812831837112, 0.0006791392834477375],
                           [0.00046368292327344325, 0.0011470882016709457, -0.0017099781300828148]]},
              2: {"beta2_t": 0.4256508225014825, "rms": 1.1935193278593763, "denom": 1.004072721220429,
                  "row_var": [[1.7483763001971053], [1.1028095547064731]],
                  "col_var": [[0.5303379404332136, 3.122617025839816, 0.6238238160823381]]},
              3: {"denom": 1.003549330595943, "alpha": 0.0011924338303368914,
                  "row_var": [[1.7467047977341263], [1.1014128320636636]],
                  "col_var": [[0.5293995487396242, 3.1201631329079658, 0.6226137630490945]]}},
}

# A vector is not factored: w0 = [1, -2], g_t = w_{t-1}, defaults.
# t=1: variance = g^2 = [1, 4] (beta2_t = 0);  u = g / sqrt(variance) = [1, -1];  denom = 1;
#      rms = sqrt(5/2) = 1.5811388300841898;  pytorch alpha = 0.01 * rms, keras alpha = 0.001 * rms
# t=2: variance = 0.42565082250148251 * [1, 4] + 0.57434917749851749 * w_1^2
#      (pytorch: [0.98198107156297816, 3.9638185558315821])
VECTOR = {
    "pytorch": ((0.9841886116991581, -1.984188611699158),
                (0.9686339973568475, -1.9685802061713877),
                (0.9533273771943804, -1.9531689779240413)),
    "keras": ((0.9984188611699158, -1.9984188611699158),
              (0.9968402868278858, -1.9968397541817149),
              (0.9952642285067322, -1.9952626533717066)),
}
VECTOR_TRACE = {
    "pytorch": {1: {"variance": [1.0, 4.0], "v_hat": [1.0, 4.0], "u": [1.0, -1.0], "rms": 1.5811388300841898,
                    "alpha": 0.015811388300841896},
                2: {"variance": [0.9819810715629782, 3.963818555831582],
                    "u": [0.9931772825082738, -0.9966119021151656]}},
    "keras": {1: {"variance": [1.0, 4.0], "u": [1.0, -1.0], "alpha": 0.0015811388300841897},
              2: {"variance": [0.9981851842998041, 3.9963689327266643],
                  "u": [0.9993260692807854, -0.9996632641724716]}},
}

# Weight decay 0.5 with lr 0.05 (d / clip_threshold 2 for pytorch, 0.5 for keras), the matrix above, two steps.
# Both decay w by (1 - 0.05 * 0.5) = 0.975 before the update; they differ in the weights RMS(w) is taken of:
#   pytorch: rms_1 = RMS(w0) = 1.1946059322359543 (before the decay); alpha_1 = 0.05 * rms_1 = 0.05973029661179771
#            (minidl: RMS(0.975 * w0) / 0.975); denom_1 = max(1, 1.0046 / 2) = 1
#   keras:   rms_1 = RMS(0.975 * w0) = 1.1647407839300554; alpha_1 = 0.05823703919650277;
#            denom_1 = 1.004619152198137 / 0.5 = 2.009238304396274
DECAY = {
    "pytorch": (((0.9009967415611279, -1.8889753497633297, 0.45338618344191417),
                 (0.22045876273661397, 1.4048806611670424, -0.8891061610339424)),
                ((0.8129936896825153, -1.7865035107064084, 0.41154668024988905),
                 (0.19462397005672474, 1.3176368068667728, -0.7909948050538143))),
    "keras": (((0.939089288552768, -1.920387268722397, 0.4709459799659614),
               (0.23244772874520983, 1.4345397250842706, -0.9333192830792314)),
              ((0.8815083094046858, -1.84395788078687, 0.44337234582214635),
               (0.21597001588135956, 1.3718508715414295, -0.8704206760403652))),
}
DECAY_HYPER = {"pytorch": {"lr": 0.05, "weight_decay": 0.5, "clip_threshold": 2.0},
               "keras": {"lr": 0.05, "weight_decay": 0.5, "clip_threshold": 0.5}}

CASES = (
    *SHORT,
    *[Hand("defaults, factored", c, MATRIX[c], w0=MATRIX_W0, trace=MATRIX_TRACE[c], rtol=1e-13) for c in MATRIX],
    *[Hand("defaults, vector", c, VECTOR[c], trace=VECTOR_TRACE[c]) for c in VECTOR],
    *[Hand("weight decay", c, DECAY[c], DECAY_HYPER[c], w0=MATRIX_W0, rtol=1e-13) for c in DECAY],
)


# ------------------------------------------------------------------ properties of the rule
def the_state_is_factored_for_two_or_more_dimensions():
    # (n, m) keeps n + m numbers; a (2, 3, 4) kernel is factored over its last two axes; vectors and
    # scalars keep the full average (torch's state names and shapes)
    for convention in ("keras", "pytorch"):
        for shape, expected in (((3, 4), {"row_var": (3, 1), "col_var": (1, 4)}),
                                ((2, 3, 4), {"row_var": (2, 3, 1), "col_var": (2, 1, 4)}),
                                ((5,), {"variance": (5,)}), ((), {"variance": ()})):
            p = parameter(np.ones(shape))
            opt = optim.Adafactor([p], convention=convention)
            p.grad = np.ones(shape)
            opt.step()
            arrays = {k: v.shape for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
            assert arrays == expected, (convention, shape, arrays)
    assert not optim.Adafactor.ELEMENTWISE and optim.Adafactor.DECOUPLED_WEIGHT_DECAY


def a_rank_one_square_is_rebuilt_exactly_and_another_is_not():
    # g^2 = a b^T (rank one): v_hat = g^2 at t = 1; g = [[1, 0], [0, 1]]: v_hat = [[0.5, 0.5], [0.5, 0.5]]
    # (row means 0.5, column means 0.5, mean of the row factor 0.5: 0.5 * 0.5 / 0.5)
    for convention in ("keras", "pytorch"):
        p = parameter(np.ones((2, 2)))
        opt = optim.Adafactor([p], convention=convention)
        group = opt.param_groups[0]
        rank_one = np.array([[2.0, -6.0], [1.0, 3.0]])            # g^2 = [[4, 36], [1, 9]] = [2, 1]^T [2, 18]
        local = trace_update(opt, p.data, rank_one, opt.state_for(p, group), group)["update"]
        np.testing.assert_allclose(local["v_hat"], rank_one ** 2, rtol=1e-14)
        q = parameter(np.ones((2, 2)))
        opt = optim.Adafactor([q], convention=convention)
        local = trace_update(opt, q.data, np.eye(2), opt.state_for(q, opt.param_groups[0]), opt.param_groups[0])
        np.testing.assert_allclose(local["update"]["v_hat"], np.full((2, 2), 0.5), rtol=1e-14)


def relative_step_false_takes_the_same_steps_under_keras():
    # Keras 3 takes rho_t = min(lr_t, 1 / sqrt(t)) in either case (tests/test_optim_adafactor.py shows Keras does)
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal((3, 4)) for _ in range(10)]
    w0 = rng.standard_normal((3, 4))
    a, _, _ = run_steps("adafactor", grads, w0=w0, lr=2.0, relative_step=True)
    b, _, _ = run_steps("adafactor", grads, w0=w0, lr=2.0, relative_step=False)
    np.testing.assert_array_equal(a, b)


def the_frameworks_spellings_map_to_ours():
    p = parameter(np.zeros((2, 2)))
    torch_style = optim.Adafactor([p], convention="pytorch", eps=(1e-20, 1e-2), d=1.5).defaults
    assert (torch_style["eps1"], torch_style["eps2"], torch_style["clip_threshold"]) == (1e-20, 1e-2, 1.5)
    assert optim.Adafactor([p], convention="pytorch", eps=(None, 1e-2)).defaults["eps1"] is None
    keras_style = optim.Adafactor([p], learning_rate=0.1, epsilon_1=1e-20, epsilon_2=1e-2, beta_2_decay=-0.5).defaults
    assert (keras_style["lr"], keras_style["eps1"], keras_style["eps2"], keras_style["beta2_decay"]) == \
        (0.1, 1e-20, 1e-2, -0.5)


SPEC = Spec(
    name="adafactor",
    defaults={"keras": {"lr": 0.001, "beta2_decay": -0.8, "eps1": 1e-30, "eps2": 1e-3, "clip_threshold": 1.0,
                        "relative_step": True, "weight_decay": 0.0},
              "pytorch": {"lr": 0.01, "beta2_decay": -0.8, "eps1": None, "eps2": 1e-3, "clip_threshold": 1.0,
                          "weight_decay": 0.0}},
    variants=({}, {"relative_step": False}, {"eps1": 1e-20}),
    hand=CASES,
    bad=(({"beta2_decay": 0.5}, "beta2_decay"), ({"beta2_decay": float("nan")}, "beta2_decay"),
         ({"eps1": -1e-30}, "eps1"), ({"eps1": "tiny"}, "eps1"), ({"eps2": -1e-3}, "eps2"),
         ({"clip_threshold": 0.0}, "clip_threshold"),
         ({"clip_threshold": 0.5, "convention": "pytorch"}, "clip_threshold"),
         ({"d": 0.5, "convention": "pytorch"}, "clip_threshold"), ({"relative_step": "yes"}, "relative_step"),
         ({"lr": -0.01}, "lr"), ({"weight_decay": -0.1}, "weight_decay"),
         ({"lr": 0.5, "weight_decay": 2.0, "convention": "pytorch"}, r"lr \* weight_decay < 1"),
         ({"eps": (1e-30,), "convention": "pytorch"}, "eps"), ({"eps": (1e-30, 1e-3)}, "pytorch convention's name"),
         ({"d": 1.0}, "pytorch convention's name"), ({"momentum": 0.9}, "momentum"),
         ({"beta1": 0.9}, "beta1")),
    torch="Adafactor",
    torch_variants=({}, {"lr": 0.05, "weight_decay": 0.1}, {"beta2_decay": -0.5, "clip_threshold": 1.5}),
    torch_names={"clip_threshold": "d"},
    keras_class="Adafactor",          # Keras's own spellings run under the keras convention too
    keras_variants=({}, {"lr": 0.05, "weight_decay": 0.1, "clip_threshold": 0.5}, {"lr": 2.0, "relative_step": False},
                    {"beta_2_decay": -0.5, "epsilon_1": 1e-20, "epsilon_2": 1e-2}),
    quadratic=({"lr": 0.1}, 1e-12),
    rosenbrock=({"lr": 0.01}, 0.1),     # relative steps stall in the valley near f = 0.04
    overflow_state="variance",
    properties=(the_state_is_factored_for_two_or_more_dimensions,
                a_rank_one_square_is_rebuilt_exactly_and_another_is_not,
                relative_step_false_takes_the_same_steps_under_keras, the_frameworks_spellings_map_to_ours),
)
