"""Muon: momentum orthogonalized by the Newton-Schulz iteration, torch's averaged buffer and Keras's
summed one, and Keras's AdamW for the parameters that are not 2-D.

The table's tests that fit a matrix-wise rule run here; the parity with torch.optim.Muon and real
Keras 3 on a (4, 3) matrix, the Newton-Schulz quantities, the pytorch convention's 2-D-only
parameters and its state_dict round trip are in tests/test_optim_muon.py.
"""
import numpy as np

from minidl import optim
from optim_testutil import Hand, Spec, parameter, run_steps

CUBIC = (1.5, -0.5, 0.0)        # the classic Newton-Schulz step X <- 1.5 X - 0.5 X X^T X

# ------------------------------------------------------------------ short, on paper (2x2)
# w0 = I (2x2), lr 0.1, momentum 0.5, no Nesterov, ns_coefficients (1.5, -0.5, 0), ns_steps 1, weight_decay 0;
# g_1 = [[3, 0], [0, 4]], g_2 = [[0, 2], [0, -2]].
# pytorch: the buffer is an average, m = 0.5 m + 0.5 g; adjusted_lr = 0.1 * sqrt(max(1, 2/2)) = 0.1
# t=1: m = 0.5 * g_1 = [[1.5, 0], [0, 2]];  u = m;  ||u||_F = sqrt(2.25 + 4) = 2.5
#      X_0 = u / 2.5 = [[0.6, 0], [0, 0.8]]
#      one Newton-Schulz step:  A = X X^T = [[0.36, 0], [0, 0.64]];  B = -0.5 * A + 0 * A A = [[-0.18, 0], [0, -0.32]]
#      X = 1.5 * X + B X = [[0.9 - 0.108, 0], [0, 1.2 - 0.256]] = [[0.792, 0], [0, 0.944]] = O
#      (on a diagonal the iteration acts on each singular value: s -> 1.5 s - 0.5 s^3, pushing 0.6 and 0.8 towards 1)
#      step = 0.1 * O = [[0.0792, 0], [0, 0.0944]];  w_1 = [[0.9208, 0], [0, 0.9056]]
# t=2: m = 0.5 * [[1.5, 0], [0, 2]] + 0.5 * [[0, 2], [0, -2]] = [[0.75, 1], [0, 0]];  ||m||_F = sqrt(0.5625 + 1) = 1.25
#      X_0 = [[0.6, 0.8], [0, 0]] (rank one: its one singular value is already 1)
#      A = X X^T = [[0.36 + 0.64, 0], [0, 0]] = [[1, 0], [0, 0]];  B = [[-0.5, 0], [0, 0]]
#      X = 1.5 * X + B X = [[0.9 - 0.3, 1.2 - 0.4], [0, 0]] = [[0.6, 0.8], [0, 0]] = O (a fixed point)
#      step = [[0.06, 0.08], [0, 0]];  w_2 = [[0.9208 - 0.06, -0.08], [0, 0.9056]] = [[0.8608, -0.08], [0, 0.9056]]
# keras: the buffer is a sum, m = 0.5 m + g, and rms_rate False (Keras's None): adjusted_lr = lr = 0.1
# t=1: m = g_1 = [[3, 0], [0, 4]] (twice torch's), ||m|| = 5, X_0 = m / (5 + 1e-7) = [[0.6, 0], [0, 0.8]] up to 2e-8
# t=2: m = 0.5 * g_1 + g_2 = [[1.5, 2], [0, 0]] (twice torch's), X_0 = m / (2.5 + 1e-7): the same O as torch, so
#      the same weights; Keras's 1e-7 moves them by about 1e-9 (hence rtol 1e-7)
SHORT_HYPER = {"lr": 0.1, "momentum": 0.5, "nesterov": False, "ns_coefficients": CUBIC, "ns_steps": 1,
               "weight_decay": 0.0}
SHORT_GRADS = (((3.0, 0.0), (0.0, 4.0)), ((0.0, 2.0), (0.0, -2.0)))
SHORT_W = (((0.9208, 0.0), (0.0, 0.9056)), ((0.8608, -0.08), (0.0, 0.9056)))
SHORT_O = {1: [[0.792, 0.0], [0.0, 0.944]], 2: [[0.6, 0.8], [0.0, 0.0]]}
SHORT_M = {"pytorch": {1: [[1.5, 0.0], [0.0, 2.0]], 2: [[0.75, 1.0], [0.0, 0.0]]},
           "keras": {1: [[3.0, 0.0], [0.0, 4.0]], 2: [[1.5, 2.0], [0.0, 0.0]]}}
SHORT = tuple(
    Hand("short", c, SHORT_W, {**SHORT_HYPER, **({"rms_rate": False} if c == "keras" else {})}, grads=SHORT_GRADS,
         w0=((1.0, 0.0), (0.0, 1.0)), rtol=1e-7 if c == "keras" else 1e-14,
         trace={t: {"m": SHORT_M[c][t], "u": SHORT_M[c][t], "O": SHORT_O[t], "adjusted_lr": 0.1,
                    "step": [[0.1 * x for x in row] for row in SHORT_O[t]]} for t in (1, 2)},
         state={"step": 2, ("momentum_buffer" if c == "pytorch" else "momentum"): SHORT_M[c][2]})
    for c in ("pytorch", "keras"))

# ------------------------------------------------------------------ 17 digits (40-digit Decimal arithmetic)
# w0 = [[1, -0.5], [0.25, 2], [-1.5, 0.75]] (3x2: more rows than columns, so NS works on the transpose), g_t = w_{t-1},
# default ns_coefficients (3.4445, -4.775, 2.0315) and 5 steps.
# pytorch defaults (lr 0.001, momentum 0.95, Nesterov, weight_decay 0.1, "original"):
#   t=1: w' = 0.9999 w0;  m = 0.05 g = [[0.05, -0.025], [0.0125, 0.1], [-0.075, 0.0375]]
#        u = 0.05 g + 0.95 m = [[0.0975, -0.04875], [0.024375, 0.195], [-0.14625, 0.073125]]
#        O = NS(u) = [[0.44713931134379215, -0.2653307678370685], [0.04914315958818936, 0.9360397348527567], ...]
#        (singular values of O: about 0.93 and 1.11; the quintic iteration does not go all the way to 1)
#        adjusted_lr = 0.001 * sqrt(3/2) = 0.0012247448713915891;  w_1 = w' - adjusted_lr * O
# keras defaults (lr 0.001, momentum 0.95, Nesterov, weight_decay 0.004, rms_rate 0.2):
#   t=1: m = g;  u = g + 0.95 g = 1.95 g;  O = NS(u) (eps 1e-7 added to ||u|| = 6.2...: the same O to 8 digits)
#        adjusted_lr = 0.001 * sqrt(3) * 0.2 = 0.00034641016151377546
W0 = ((1.0, -0.5), (0.25, 2.0), (-1.5, 0.75))
DEFAULTS_W = {
    "pytorch": (((0.9993523684216341, -0.4996250375028692), (0.24991481216733039, 1.9986535901353204),
                 (-1.4990285526324512, 0.7494375562543037)),
                ((0.998704796728086, -0.4992501158211382), (0.24982962299637868, 1.997307310913267),
                 (-1.4980571950921289, 0.7488751737317073)),
                ((0.9980572854245382, -0.4988752346172341), (0.249744433498687, 1.9959611627540415),
                 (-1.4970859281368072, 0.7483128519258512))),
    "keras": (((0.9998411063996777, -0.499906086725643), (0.24998197631121322, 1.9996677463251595),
               (-1.4997616595995167, 0.7498591300884645)),
              ((0.9996822130447217, -0.49981217409185663), (0.24996395190693677, 1.9993354936589391),
               (-1.4995233195670825, 0.749718261137785)),
              ((0.9995233199765536, -0.49971826207087466), (0.24994592687024164, 1.9990032420357051),
               (-1.4992849799648305, 0.749577393106312))),
}
# traced runs (weight_decay 0, so the rule alone takes the same steps):
#   pytorch, lr 0.02, no Nesterov, "match_rms_adamw": u = m; adjusted_lr = 0.02 * 0.2 * sqrt(3) = 0.0069282032302755096
#   keras, rms_rate 0.5 (Nesterov): adjusted_lr = 0.001 * sqrt(3) * 0.5 = 0.0008660254037844387
TRACED_HYPER = {"pytorch": {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0},
                "keras": {"rms_rate": 0.5, "weight_decay": 0.0}}
TRACED_W = {
    "pytorch": (((0.9969021279787648, -0.49816173451717977), (0.24965952620299517, 1.993514926485327),
                 (-1.495353191968147, 0.7472426017757696)),
                ((0.993804138495612, -0.4963235496125593), (0.24931881407677303, 1.9870297573559772),
                 (-1.4907062077434179, 0.744485324418839)),
                ((0.9907060286454549, -0.4944854490473774), (0.24897785507438874, 1.9805444920155597),
                 (-1.4860590429681824, 0.7417281735710661))),
    "keras": (((0.9996127659991944, -0.4997702168141075), (0.24995744077803306, 1.999189365812899),
               (-1.4994191489987916, 0.7496553252211613)),
              ((0.9992255295594863, -0.49954043528615005), (0.24991487663026118, 1.9983787296253794),
               (-1.4988382943392293, 0.749310652929225)),
              ((0.998838290937853, -0.49931065524657925), (0.24987230806798413, 1.997568091653359),
               (-1.4982574364067796, 0.7489659828698689))),
}
TRACE = {
    "pytorch": {1: {"m": [[0.05, -0.025], [0.0125, 0.1], [-0.075, 0.0375]], "adjusted_lr": 0.0069282032302755096,
                    "O": [[0.44713931134379215, -0.2653307678370685], [0.04914315958818936, 0.9360397348527567],
                          [-0.6707089670156882, 0.39799615175560277]]},
                2: {"u": [[0.09734510639893824, -0.04865808672585899], [0.024357976310149757, 0.19467574632426635],
                          [-0.14601765959840735, 0.07298713008878847]],
                    "O": [[0.4471562655112256, -0.2653191373757305], [0.04917755944762985, 0.9360535356425689],
                          [-0.6707343982668384, 0.39797870606359576]]},
                3: {"step": [[0.003098109850157129, -0.0018381005651819052],
                             [0.000340959002384271, 0.006485265340417598],
                             [-0.004647164775235693, 0.002757150847772858]]}},
    "keras": {1: {"m": [[1.0, -0.5], [0.25, 2.0], [-1.5, 0.75]], "u": [[1.95, -0.975], [0.4875, 3.9], [-2.925, 1.4625]],
                  "adjusted_lr": 0.0008660254037844387,
                  "O": [[0.4471393092090708, -0.2653307684605606], [0.04914315651822995, 0.9360397322741668],
                        [-0.6707089638136062, 0.3979961526908409]]},
              2: {"m": [[1.9496127659991944, -0.9747702168141075], [0.48745744077803305, 3.899189365812899],
                        [-2.9244191489987914, 1.4621553252211612]],
                  "O": [[0.44714212541098, -0.2653288540421062], [0.04914884434782067, 0.9360420421585761],
                        [-0.67071318811647, 0.3979932810631593]]},
              3: {"step": [[0.00038723862163320724, -0.00022978003957075657],
                           [4.2568562277072385e-05, 0.0008106379720205675],
                           [-0.0005808579324498109, 0.00034467005935613485]]}},
}

# keras, a vector: AdamW (Keras's form), w0 = [1, -2], g_t = w_{t-1}, weight_decay 0, adam_lr_ratio 0.5:
# t=1: adam_m = 0 + 0.1 * (g - 0) = [0.1, -0.2];  adam_v = 0.001 * g^2 = [0.001, 0.004]
#      adam_alpha = 0.001 * 0.5 * sqrt(0.001) / 0.1 = 1.5811388300841897e-4
#      adam_step = adam_alpha * adam_m / (sqrt(adam_v) + 1e-7) = [4.999984188661699e-4, -4.999992094318349e-4]
VECTOR_W = ((0.9995000015811338, -1.999500000790568), (0.9990000092333684, -1.9990000046123082),
            (0.9985000275582793, -1.9985000137620936))
VECTOR_TRACE = {1: {"adam_m": [0.1, -0.2], "adam_v": [0.001, 0.004], "adam_alpha": 0.00015811388300841897,
                    "adam_step": [0.0004999984188661699, -0.0004999992094318349],
                    "step": [0.0004999984188661699, -0.0004999992094318349]},
                3: {"adam_m": [0.27085500106563887, -0.541855000532382], "adam_alpha": 0.00010100529871948392,
                    "adam_v": [0.0029940032713557958, 0.011982007271348329]}}
# the same with Keras's defaults (weight_decay 0.004, on the AdamW path as Keras's adam_weight_decay): Keras 3's
# AdamW with weight_decay 0.004, so AdamW's own keras case in tests/optim_cases/adamw.py gives the same numbers
VECTOR_DEFAULTS_W = ((0.9989960031622677, -1.9989920015811364), (0.9979920357250616, -1.9979840199038643),
                     (0.9969881157122569, -1.9969760639832277))

CASES = (
    *SHORT,
    *[Hand("defaults", c, DEFAULTS_W[c], w0=W0, rtol=1e-13) for c in DEFAULTS_W],
    *[Hand("traced", c, TRACED_W[c], TRACED_HYPER[c], w0=W0, trace=TRACE[c], rtol=1e-12) for c in TRACED_W],
    Hand("vector, AdamW", "keras", VECTOR_W, {"weight_decay": 0.0, "adam_lr_ratio": 0.5}, trace=VECTOR_TRACE),
    Hand("vector, AdamW defaults", "keras", VECTOR_DEFAULTS_W),
)


# ------------------------------------------------------------------ properties of the rule
def the_step_of_a_matrix_has_its_singular_values_near_one():
    # NS pushes every singular value of the momentum into about [0.68, 1.13] (Jordan: "S' ~ Uniform(0.5, 1.5)"): a
    # gradient with singular values 50, 5 and 0.5 gives a step whose singular values are 0.71, 0.70, 0.70 adjusted_lr
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    g = U @ np.diag([50.0, 5.0, 0.5]) @ V.T
    for convention, adjusted_lr in (("pytorch", 0.1 * np.sqrt(5 / 3)), ("keras", 0.1 * np.sqrt(5) * 0.2)):
        w0 = np.zeros((5, 3))
        (w1,), _, _ = run_steps("muon", [g], w0=w0, convention=convention, lr=0.1, weight_decay=0.0, momentum=0.0)
        singular = np.linalg.svd((w0 - w1) / adjusted_lr, compute_uv=False)
        assert np.all(singular > 0.6) and np.all(singular < 1.25), (convention, singular)


def the_buffers_differ_by_one_minus_momentum_and_the_steps_barely():
    # torch's m is (1 - momentum) times Keras's; NS scales its input by its norm: the same step up to eps
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    w0 = rng.standard_normal((4, 3))
    torch_like, opt_t, p_t = run_steps("muon", grads, w0=w0, convention="pytorch", weight_decay=0.0, lr=0.01,
                                       adjust_lr_fn="match_rms_adamw")
    keras_like, opt_k, p_k = run_steps("muon", grads, w0=w0, convention="keras", weight_decay=0.0, lr=0.01)
    np.testing.assert_allclose(opt_t.state[p_t]["momentum_buffer"], (1 - 0.95) * opt_k.state[p_k]["momentum"],
                               rtol=1e-13)
    np.testing.assert_allclose(np.array(torch_like), np.array(keras_like), rtol=1e-6)   # 0.2 sqrt(4) both


def a_matrix_quadratic_converges_under_both_conventions():
    # f(W) = 0.5 ||W - W*||_F^2, g = W - W*: Muon's steps have a size of about adjusted_lr whatever the gradient's, so a
    # decaying lr lets W settle at W* (to 3e-4 under pytorch, 6e-5 under keras after 400 steps)
    target = np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.2], [2.0, 0.1, -0.4], [-0.7, 1.5, 0.9]])
    for convention in ("pytorch", "keras"):
        p = parameter(np.zeros((4, 3)))
        opt = optim.Muon([p], convention=convention, lr=0.05, weight_decay=0.0)
        for t in range(400):
            for group in opt.param_groups:
                group["lr"] = 0.05 * (1 - t / 400)                    # a linear decay lets it settle
            p.grad = p.data - target
            opt.step()
        assert np.abs(p.data - target).max() < 1e-3, convention


def keras_names_map_to_ours():
    p = parameter(np.zeros((2, 2)))
    opt = optim.Muon([p], muon_a=2.0, muon_c=1.0, adam_beta_1=0.8, adam_beta_2=0.99, epsilon=1e-6, learning_rate=0.1)
    d = opt.defaults
    assert d["ns_coefficients"] == (2.0, -4.775, 1.0)
    assert (d["adam_beta1"], d["adam_beta2"], d["eps"], d["lr"]) == (0.8, 0.99, 1e-6, 0.1)


SPEC = Spec(
    name="muon",
    defaults={"keras": {"lr": 0.001, "momentum": 0.95, "nesterov": True, "ns_coefficients": (3.4445, -4.775, 2.0315),
                        "ns_steps": 5, "rms_rate": 0.2, "adam_beta1": 0.9, "adam_beta2": 0.999, "eps": 1e-7,
                        "adam_lr_ratio": 1.0, "adam_weight_decay": None, "exclude_layers": (),
                        "exclude_embeddings": True, "weight_decay": 0.004},
              "pytorch": {"lr": 0.001, "momentum": 0.95, "nesterov": True, "ns_coefficients": (3.4445, -4.775, 2.0315),
                          "ns_steps": 5, "eps": 1e-7, "adjust_lr_fn": "original", "weight_decay": 0.1}},
    variants=({}, {"nesterov": False}, {"adjust_lr_fn": "match_rms_adamw"}, {"rms_rate": False}),
    hand=CASES,
    bad=(({"ns_coefficients": (1.0, 2.0)}, "ns_coefficients"),
         ({"ns_coefficients": (1.0, 2.0, "c")}, "ns_coefficients"),
         ({"ns_steps": -1}, "ns_steps"), ({"ns_steps": 2.5}, "ns_steps"), ({"ns_steps": True}, "ns_steps"),
         ({"ns_steps": 100, "convention": "pytorch"}, "fewer than 100"), ({"eps": 0.0}, "eps"),
         ({"adjust_lr_fn": "sqrt", "convention": "pytorch"}, "adjust_lr_fn"),
         ({"adjust_lr_fn": "original"}, "adjust_lr_fn"),
         ({"rms_rate": 0.0}, "rms_rate"), ({"rms_rate": True}, "rms_rate"), ({"adam_beta1": 1.0}, "adam_beta1"),
         ({"adam_beta2": -0.1}, "adam_beta2"), ({"adam_lr_ratio": -1.0}, "adam_lr_ratio"),
         ({"exclude_layers": "dense"}, "exclude_layers"), ({"exclude_layers": ["("]}, "not a regular expression"),
         ({"exclude_embeddings": "yes"}, "exclude_embeddings"),
         ({"adam_weight_decay": 0.01}, "param group of their own"), ({"momentum": -0.1}, "momentum"),
         ({"nesterov": "yes"}, "nesterov"), ({"lr": -1.0}, "lr"),
         ({"muon_a": 3.0, "convention": "pytorch"}, "keras convention's names"),
         ({"muon_a": 3.0, "ns_coefficients": (1.0, 2.0, 3.0)}, "not both"),
         ({"convention": "pytorch"}, r"2-D parameters only.*shape \(2,\)"), ({"beta1": 0.9}, "beta1")),
    torch="Muon",
    torch_variants=(),          # torch runs Newton-Schulz in bfloat16: tests/test_optim_muon.py compares in float64
    keras_class="Muon",         # the table's Keras run is a vector: the AdamW path (the matrix one: test_optim_muon.py)
    keras_variants=({}, {"lr": 0.01, "adam_lr_ratio": 0.5, "weight_decay": 0.01, "adam_weight_decay": 0.01},
                    {"adam_beta_1": 0.8, "adam_beta_2": 0.99, "eps": 1e-5}),
    quadratic=({"lr": 0.1}, 1e-8),          # a vector takes the AdamW path
    rosenbrock=({"lr": 0.05}, 1e-3),
    overflow_state="velocity",
    shapes={"pytorch": ((3, 4), (4, 2))},     # 2-D parameters only, as torch (a wide and a tall matrix)
    mixes_coordinates="the step is the momentum orthogonalized, U S V^T made about U V^T: every element of it "
                      "depends on the whole matrix, so a coordinate whose gradient is 0 moves too",
    properties=(the_step_of_a_matrix_has_its_singular_values_near_one,
                the_buffers_differ_by_one_minus_momentum_and_the_steps_barely,
                a_matrix_quadratic_converges_under_both_conventions, keras_names_map_to_ours),
)
