"""Adamax: where eps sits (keras: beside u_t; pytorch: inside the max; paper: none); Keras 3's Adamax transcribed."""
import numpy as np

from optim_testutil import W0, Hand, Spec, run_steps

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults:
# keras lr 0.001, eps 1e-7; pytorch lr 0.002, eps 1e-8; paper lr 0.002, no eps; beta1 0.9, beta2 0.999.
# t=1: m = 0.1*g = [0.1, -0.2]; lr_t = lr/(1 - 0.9) = 10*lr
#   keras:   u = max(0, |g|) = [1, 2];  delta = 0.01*[0.1, -0.2]/(u + 1e-7) = [9.999999000000100e-4, -9.9999995000000261e-4]
#   pytorch: u = max(0, |g| + 1e-8) = [1.00000001, 2.00000001]; delta = 0.02*m/u = [1.999999980e-3, -1.999999990e-3]
#   paper:   u = [1, 2]; delta = 0.02*[0.1, -0.2]/[1, 2] = [0.002, -0.002]  -> w_1 = [0.998, -1.998]
# t=2: lr_t = lr/0.19
#   keras:   g = [0.9990000001, -1.99900000005]; m = [0.18990000000999999, -0.37990000000500002];
#            u = max(0.999*[1, 2], |g|) = |g| (0.9990000001 > 0.999); delta = [1.0004740581738786e-3, -1.000236910536838e-3]
#   pytorch: m = [0.189800000002, -0.379800000001]; u = max(0.999*u_1, |g| + 1e-8) = [0.99900000999, 1.99800001001]
#            (beta2*u_1 wins); delta = 0.002/0.19*m/u = [1.9998946114957064e-3, -2.0009483067182877e-3]
#   paper:   m = [0.1898, -0.3798]; u = max([0.999, 1.998], [0.998, 1.998]) = [0.999, 1.998];
#            delta = 0.002/0.19*m/u = [1.999894631473579e-3, -2.0009483167377903e-3]
# t=3: lr_t = lr/0.271
#   keras:   m = [0.27070995261318259, -0.54170997631844631]; u = [0.9980010000999, 1.9979997631394633];
#            delta = [1.0009304742648031e-3, -1.0004654348535148e-3]
#   pytorch: m = [0.27042001054265041, -0.54141990517122818]; u = [0.99800100998000996, 1.99600200999999];
#            delta = [1.9997170494257159e-3, -2.0018611390838518e-3]
#   paper:   m = [0.27042001053685266, -0.54141990516832628]; u = [0.998001, 1.996002];
#            delta = [1.9997170693800128e-3, -2.0018611491024662e-3]
HAND = {
    "keras": [[0.99900000010000001, -1.9990000000499999],
              [0.99799952604182607, -1.9979997631394633],
              [0.99699859556756132, -1.9969992977046096]],
    "pytorch": [[0.99800000002, -1.99800000001],
                [0.99600010540850425, -1.9959990517032817],
                [0.99400038835907856, -1.9939971905641978]],
    "paper": [[0.998, -1.998],
              [0.99600010536852646, -1.9959990516832622],
              [0.99400038829914639, -1.9939971905341598]],
}
# the quantities of the comment above, as the rule names them (delta is its step)
HAND_TRACE = {
    "keras": {1: {"m": [0.1, -0.2], "lr_t": 0.01, "u": [1.0, 2.0],
                  "step": [9.999999000000100e-4, -9.9999995000000261e-4]},
              2: {"m": [0.18990000000999999, -0.37990000000500002], "lr_t": 0.001 / 0.19,
                  "u": [0.9990000001, 1.99900000005], "step": [1.0004740581738786e-3, -1.000236910536838e-3]},
              3: {"m": [0.27070995261318259, -0.54170997631844631], "u": [0.9980010000999, 1.9979997631394633],
                  "step": [1.0009304742648031e-3, -1.0004654348535148e-3]}},
    "pytorch": {1: {"m": [0.1, -0.2], "lr_t": 0.02, "u": [1.00000001, 2.00000001],
                    "step": [1.999999980e-3, -1.999999990e-3]},
                2: {"m": [0.189800000002, -0.379800000001], "u": [0.99900000999, 1.99800001001],
                    "step": [1.9998946114957064e-3, -2.0009483067182877e-3]},
                3: {"m": [0.27042001054265041, -0.54141990517122818], "u": [0.99800100998000996, 1.99600200999999],
                    "step": [1.9997170494257159e-3, -2.0018611390838518e-3]}},
    "paper": {1: {"m": [0.1, -0.2], "u": [1.0, 2.0], "step": [0.002, -0.002]},
              2: {"m": [0.1898, -0.3798], "u": [0.999, 1.998], "step": [1.999894631473579e-3, -2.0009483167377903e-3]},
              3: {"m": [0.27042001053685266, -0.54141990516832628], "u": [0.998001, 1.996002],
                  "step": [1.9997170693800128e-3, -2.0018611491024662e-3]}},
}

# Short, on paper: w0 = 1, g = 2 then 1, lr 0.1, beta1 0.5, beta2 0.75; eps 1e-15 (keras, pytorch; the paper has none)
# t=1: m = 0.5*2 = 1;  lr_t = 0.1/(1 - 0.5) = 0.2;  u = max(0.75*0, 2) = 2;  step = 0.2*1/2 = 0.1;  w = 0.9
# t=2: m = 0.5*1 + 0.5*1 = 1;  lr_t = 0.1/(1 - 0.25) = 2/15;  u = max(0.75*2, 1) = 1.5 (beta2*u wins)
#      step = (2/15)*1/1.5 = 4/45;  w = 0.9 - 4/45 = 0.81111111
SHORT = [Hand("short", c, ((0.9,), (0.9 - 4 / 45,)),
              {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, **({} if c == "paper" else {"eps": 1e-15})},
              grads=((2.0,), (1.0,)), w0=(1.0,),
              trace={1: {"m": [1.0], "lr_t": 0.2, "u": [2.0], "step": [0.1]},
                     2: {"m": [1.0], "lr_t": 2 / 15, "u": [1.5], "step": [4 / 45]}},
              state={"step": 2, "exp_avg": [1.0], "exp_inf": [1.5]})
         for c in ("keras", "pytorch", "paper")]


def where_eps_sits():
    # a zero gradient: keras and paper keep u = 0, pytorch stores |g| + eps = eps in u; nobody moves
    for convention, u in [("keras", 0.0), ("paper", 0.0), ("pytorch", 1e-8)]:
        out, opt, p = run_steps("adamax", [[0.0, 0.0]] * 2, convention=convention)
        np.testing.assert_array_equal(out[-1], W0)
        np.testing.assert_allclose(opt.state[p]["exp_inf"], [u, u], rtol=1e-12, atol=0)


def paper_zero_infinity_norm_gives_no_nan():
    # paper convention, beta2 = 0: u_2 = |g_2| = 0 while m_2 != 0; the step is taken as 0 there
    out, _, _ = run_steps("adamax", [[1.0, 1.0], [0.0, 1.0]], convention="paper", beta2=0.0)
    assert np.all(np.isfinite(out[-1]))
    assert out[-1][0] == out[0][0] and out[-1][1] != out[0][1]


def keras_adamax(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Independent float64 transcription of Keras 3's Adamax.update_step (keras/src/optimizers/adamax.py)."""
    w = np.array(w0, dtype=np.float64)
    m, u = np.zeros_like(w), np.zeros_like(w)
    for iterations, g in enumerate(grads):
        beta_1_power = beta_1 ** (iterations + 1)
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - (lr * m) / ((1 - beta_1_power) * (u + epsilon))
    return w


SPEC = Spec(
    name="adamax",
    defaults={"keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
              "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999}},
    hand=(*[Hand("defaults", c, tuple(map(tuple, HAND[c])), trace=HAND_TRACE[c]) for c in HAND], *SHORT),
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.01}, "beta1"), ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
         ({"eps": -1.0}, "eps"), ({"lr": -0.1}, "lr"), ({"lr": float("nan")}, "lr"),
         ({"convention": "jax"}, "convention"), ({"amsgrad": True}, "amsgrad"),
         ({"convention": "paper", "eps": 1e-8}, "eps")),
    torch="Adamax",
    torch_variants=({"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.05}),
    keras=((keras_adamax, {"lr": 0.01}, {"lr": 0.01}),),
    keras_class="Adamax",
    quadratic=({"lr": 0.1}, 1e-10),
    rosenbrock=({"lr": 0.3}, 1e-4),
    overflow_state=None,
    properties=(where_eps_sits, paper_zero_infinity_norm_gives_no_nan),
)
