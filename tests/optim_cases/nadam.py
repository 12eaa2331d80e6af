"""Nadam: Keras 3's 0.96^t momentum schedule vs PyTorch's 0.96^(0.004 t); Keras 3's Nadam transcribed."""
import numpy as np

from minidl import optim
from minidl.optim.trace import trace_update
from optim_testutil import Hand, Spec, parameter

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults:
# keras lr 0.001, eps 1e-7, psi 1; pytorch/paper lr 0.002, eps 1e-8, psi 0.004; beta1 0.9, beta2 0.999.
# keras schedule: mu_1 = 0.9*(1 - 0.5*0.96) = 0.468, mu_2 = 0.9*(1 - 0.5*0.9216) = 0.48528,
#   mu_3 = 0.9*(1 - 0.5*0.884736) = 0.5018688, mu_4 = 0.9*(1 - 0.5*0.84934656) = 0.517794048
# pytorch schedule: mu_1 = 0.9*(1 - 0.5*0.96^0.004) = 0.45007347359129612, mu_2 = 0.45014693518621757,
#   mu_3 = 0.45022038478672294, mu_4 = 0.45029382239477078
# t=1: m = [0.1, -0.2]; v = [0.001, 0.004]; v_hat = v/0.001 = [1, 4]
#   keras:   m_bar = (1-0.468)*g/(1-0.468) + 0.48528*m/(1-0.468*0.48528)
#                  = g + 0.48528*m/0.77288896 = [1.0627878033087703, -2.1255756066175406]
#            delta = 0.001*m_bar/(sqrt(v_hat)+1e-7) = [1.0627876970300005e-3, -1.0627877501693827e-3]
#   pytorch: m_bar = g + mu_2*m/(1 - mu_1*mu_2) = [1.0564517783553882, -2.1129035567107763];
#            delta = 0.002*m_bar/(sqrt(v_hat)+1e-8) = [2.112903535581741e-3, -2.1129035461462586e-3]
# t=2: keras   mu_prod = 0.468*0.48528 = 0.22711104; m = [0.18989372123029699, -0.37989372122498305];
#              v_hat = [0.9989372456846568, 3.9978739262216729]; m_bar = [0.77282270202928005, -1.5464133870979662];
#              delta = [7.7323361260902223e-4, -7.7341222362896009e-4]
#      pytorch mu_prod = 0.20259919474573698; m_bar = [0.78212271492202778, -1.5658070717054473];
#              delta = [1.5658996644493744e-3, -1.5666347962231557e-3]
# t=3: keras   mu_prod = 0.113979945111552; m_bar = [0.71014936490027725, -1.4214845174734498];
#              delta = [7.1083638718672415e-4, -7.110859620997887e-4]
#      pytorch mu_prod = 0.091214287415905912; m_bar = [0.72972955450875276, -1.4619462067877804];
#              delta = [1.4622822607048389e-3, -1.4633594185588651e-3]
HAND = {
    "keras": [[0.99893721230296995, -1.9989372122498306],
              [0.998163978690361, -1.9981638000262016],
              [0.99745314230317428, -1.9974527140641019]],
    "pytorch": [[0.99788709646441831, -1.9978870964538538],
                [0.99632119679996889, -1.9963204616576307],
                [0.99485891453926401, -1.9948571022390718]],
    "paper": [[0.99788709646441831, -1.9978870964538538],
              [0.99632119679996889, -1.9963204616576307],
              [0.99485891453926401, -1.9948571022390718]],
}
MU = {"keras": [0.468, 0.48528, 0.5018688, 0.517794048],
      "pytorch": [0.45007347359129612, 0.45014693518621757, 0.45022038478672294, 0.45029382239477078]}
# the quantities of the comment above, as the rule names them (delta is its step; the paper's m_bar is pytorch's)
KERAS_TRACE = {1: {"m_bar": [1.0627878033087703, -2.1255756066175406], "v_hat": [1.0, 4.0],
                   "step": [1.0627876970300005e-3, -1.0627877501693827e-3]},
               2: {"mu_prod": 0.22711104, "m": [0.18989372123029699, -0.37989372122498305],
                   "v_hat": [0.9989372456846568, 3.9978739262216729],
                   "m_bar": [0.77282270202928005, -1.5464133870979662],
                   "step": [7.7323361260902223e-4, -7.7341222362896009e-4]},
               3: {"mu_prod": 0.113979945111552, "m_bar": [0.71014936490027725, -1.4214845174734498],
                   "step": [7.1083638718672415e-4, -7.110859620997887e-4]}}
PYTORCH_TRACE = {1: {"v_hat": [1.0, 4.0], "step": [2.112903535581741e-3, -2.1129035461462586e-3]},
                 2: {"mu_prod": 0.20259919474573698, "step": [1.5658996644493744e-3, -1.5666347962231557e-3]},
                 3: {"mu_prod": 0.091214287415905912, "step": [1.4622822607048389e-3, -1.4633594185588651e-3]}}
PAPER_TRACE = {1: {"m_bar": [1.0564517783553882, -2.1129035567107763], **PYTORCH_TRACE[1]},
               2: {"m_bar": [0.78212271492202778, -1.5658070717054473], **PYTORCH_TRACE[2]},
               3: {"m_bar": [0.72972955450875276, -1.4619462067877804], **PYTORCH_TRACE[3]}}


def defaults_case(convention, trace):
    mus = MU["keras" if convention == "keras" else "pytorch"]
    trace = {t: {**trace[t], "mu": mus[t - 1], "mu_next": mus[t]} for t in (1, 2, 3)}
    return Hand("defaults", convention, tuple(map(tuple, HAND[convention])), trace=trace,
                state={"step": 3, "mu_product": mus[0] * mus[1] * mus[2]})


# Short, on paper: w0 = 1, g = 2 then -2, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15.
# Both steps: m = 1 then 0.5*1 + 0.5*(-2) = -0.5;  v = 1 then 0.75 + 0.25*4 = 1.75;  v_hat = 1/0.25 = 1.75/0.4375 = 4.
# pytorch, paper with momentum_decay 0 (psi = 0): mu_t = 0.5*(1 - 0.5*0.96^0) = 0.25 at every step.
#   t=1: mu_prod = 0.25;  m_bar = 0.75*2/0.75 + 0.25*1/(1 - 0.25*0.25) = 2 + 0.25/0.9375 = 2 + 4/15
#        step = 0.1*m_bar/sqrt(4) = 0.1 + 1/75;  w = 0.9 - 1/75 = 0.88666667
#   t=2: mu_prod = 0.0625;  m_bar = 0.75*(-2)/0.9375 + 0.25*(-0.5)/(1 - 0.0625*0.25) = -1.6 - 0.125/0.984375
#        = -1.6 - 8/63;  step = 0.1*m_bar/2 = -0.08 - 2/315;  w = 0.9 - 1/75 + 0.08 + 2/315 = 0.97301587
#   (pytorch divides each term by denom = sqrt(v_hat) + eps = 2 on its own: the same numbers)
# keras (psi = 1): mu_1 = 0.5*(1 - 0.5*0.96) = 0.26, mu_2 = 0.5*(1 - 0.5*0.9216) = 0.2696,
#                  mu_3 = 0.5*(1 - 0.5*0.884736) = 0.278816
#   t=1: mu_prod = 0.26;  m_bar = 0.74*2/0.74 + 0.2696*1/(1 - 0.26*0.2696) = 2 + 0.2696/0.929904 = 2.28992240
#        w = 1 - 0.1*m_bar/2 = 0.88550388
#   t=2: mu_prod = 0.26*0.2696 = 0.070096;  m_bar = 0.7304*(-2)/0.929904 - 0.278816*0.5/(1 - 0.070096*0.278816)
#        = -1.5709148 - 0.1421869 = -1.7131017;  w = 0.88550388 + 0.1*1.7131017/2 = 0.97115897
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15}
M_BAR_1 = 2 + 0.2696 / 0.929904
M_BAR_2 = -1.4608 / 0.929904 - 0.139408 / (1 - 0.070096 * 0.278816)
SHORT = [
    *[Hand("short", c, ((0.9 - 1 / 75,), (0.9 - 1 / 75 + 0.08 + 2 / 315,)), {**SHORT_HYPER, "momentum_decay": 0.0},
           grads=((2.0,), (-2.0,)), w0=(1.0,),
           trace={1: {"mu": 0.25, "mu_next": 0.25, "mu_prod": 0.25, "m": [1.0], "v_hat": [4.0],
                      "step": [0.1 + 1 / 75], **({"m_bar": [2 + 4 / 15]} if c == "paper" else {"denom": [2.0]})},
                  2: {"mu": 0.25, "mu_next": 0.25, "mu_prod": 0.0625, "m": [-0.5], "v_hat": [4.0],
                      "step": [-0.08 - 2 / 315], **({"m_bar": [-1.6 - 8 / 63]} if c == "paper" else {"denom": [2.0]})}},
           state={"step": 2, "mu_product": 0.0625, "exp_avg": [-0.5], "exp_avg_sq": [1.75]})
      for c in ("pytorch", "paper")],
    Hand("short", "keras", ((1 - 0.05 * M_BAR_1,), (1 - 0.05 * M_BAR_1 - 0.05 * M_BAR_2,)), SHORT_HYPER,
         grads=((2.0,), (-2.0,)), w0=(1.0,),
         trace={1: {"mu": 0.26, "mu_next": 0.2696, "mu_prod": 0.26, "m_bar": [M_BAR_1], "v_hat": [4.0]},
                2: {"mu": 0.2696, "mu_next": 0.278816, "mu_prod": 0.070096, "m_bar": [M_BAR_2], "v_hat": [4.0]}}),
]


def keras_schedule_is_096_to_the_t_not_0004_t():
    # Keras 3 runs mu_t = beta1 (1 - 0.5 * 0.96^t): after 200 steps mu_t = 0.9 - 1.3e-4;
    # PyTorch's 0.96^(0.004 t) leaves it near beta1 / 2.
    mus = {}
    for convention in ("keras", "pytorch"):
        p = parameter([1.0, -2.0])
        opt = optim.Nadam([p], convention=convention)
        group = opt.param_groups[0]
        for _ in range(200):
            local = trace_update(opt, p.data, p.data.copy(), opt.state_for(p, group), group)["update"]
        assert opt.state[p]["step"] == 200
        mus[convention] = local["mu"]
    assert abs(mus["keras"] - 0.9) < 2e-4
    assert abs(mus["pytorch"] - 0.9 * (1 - 0.5 * 0.96 ** 0.8)) < 1e-15


def keras_nadam(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Independent float64 transcription of Keras 3's Nadam (keras/src/optimizers/nadam.py): the
    u_product variable is multiplied by u_t in _backend_update_step before update_step runs."""
    w = np.array(w0, dtype=np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    u_product = 1.0
    for iterations, g in enumerate(grads):
        u_product = u_product * beta_1 * (1.0 - 0.5 * 0.96 ** (iterations + 1))
        local_step, next_step = iterations + 1, iterations + 2
        u_t = beta_1 * (1.0 - 0.5 * 0.96 ** local_step)
        u_t_1 = beta_1 * (1.0 - 0.5 * 0.96 ** next_step)
        u_product_t_1 = u_product * u_t_1
        beta_2_power = beta_2 ** local_step
        m = m + (g - m) * (1 - beta_1)
        v = v + (np.square(g) - v) * (1 - beta_2)
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2_power)
        w = w - (m_hat * lr) / (np.sqrt(v_hat) + epsilon)
    return w


SPEC = Spec(
    name="nadam",
    defaults={"keras": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
              "pytorch": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004},
              "paper": {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004}},
    variants=({}, {"momentum_decay": 0.1}),
    hand=(defaults_case("keras", KERAS_TRACE), defaults_case("pytorch", PYTORCH_TRACE),
          defaults_case("paper", PAPER_TRACE), *SHORT),
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.5}, "beta1"), ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
         ({"eps": -1e-8}, "eps"), ({"lr": -1e-3}, "lr"), ({"lr": float("nan")}, "lr"),
         ({"convention": "lasagne"}, "convention"),
         ({"convention": "pytorch", "momentum_decay": -0.004}, "momentum_decay"),
         ({"momentum_decay": 0.004}, "momentum_decay")),                     # Keras 3 has no such argument
    torch="NAdam",
    torch_variants=tuple({"lr": 0.01, "weight_decay": wd, "momentum_decay": md}
                         for wd in (0.0, 0.05) for md in (0.004, 0.1)),
    keras=((keras_nadam, {"lr": 0.01}, {"lr": 0.01}),),
    keras_class="Nadam",
    quadratic=({"lr": 0.1}, 1e-10),
    rosenbrock=({"lr": 0.03}, 1e-3),
    overflow_state="exp_avg_sq",
    properties=(keras_schedule_is_096_to_the_t_not_0004_t,),
)
