"""AdaBelief (Zhuang et al. 2020, Algorithm 2): Adam's second moment replaced by the moving average of
(g_t - m_t)^2 + eps; amsgrad; L2 or decoupled weight decay.  No torch or Keras counterpart: the
values are worked out by hand from the algorithm box."""
import numpy as np

from minidl import optim
from optim_testutil import Hand, Spec, parameter, run_steps

# Hand-computed (Decimal arithmetic, 40 digits), w0 = [1, -2], g_t = w_{t-1}, defaults lr 0.001,
# beta1 0.9, beta2 0.999, eps 1e-16.
# t=1: m = 0.1*g = [0.1, -0.2];  g - m = [0.9, -1.8];  s = 0.001*(g - m)^2 + 1e-16 = [8.1e-4 + 1e-16, 3.24e-3 + 1e-16]
#      m_hat = m/0.1 = [1, -2];  s_hat = s/0.001 = [0.81 + 1e-13, 3.24 + 1e-13];  sqrt(s_hat) = [0.9, 1.8] (to 1e-13)
#      step = 0.001*m_hat/(sqrt(s_hat) + 1e-16) = [0.0011111111111110424, -0.0011111111111110939]  (lr/0.9 each)
# t=2: g = w_1 = [0.99888888888888896, -1.9988888888888889];  m = 0.9*m + 0.1*g = [0.1898888888888889, -0.37988888888888889]
#      s = 0.999*s + 0.001*(g - m)^2 + 1e-16 = [0.0014636710000002, 0.0058579210000002]
#      m_hat = m/0.19 = [0.99941520467836261, -1.9994152046783626];  s_hat = s/0.001999 = [0.73220160080050025, 2.9304257128565282]
#      step = [0.0011679671156772645, -0.0011679859867167853]
# t=3: m = [0.27067209217732118, -0.54167209029021721];  s = [0.001990807329617054, 0.0079721412237089835]
#      m_hat = m/0.271 = [0.99879000803439548, -1.9987900010709122];  s_hat = s/0.002997001 = [0.66426648827179372, 2.6600395607839248]
#      step = [0.0012254709407343132, -0.0012255276677447592]
# The steps grow (lr/0.9, then 1.168 lr, 1.225 lr) while Adam's stay at about lr: g_t follows its prediction
# m_t more closely each step, so s_t grows more slowly than Adam's v_t would.
DEFAULTS = ((0.99888888888888896, -1.9988888888888889), (0.99772092177321169, -1.9977209029021721),
            (0.99649545083247738, -1.9964953752344274))
DEFAULTS_TRACE = {
    1: {"m": [0.1, -0.2], "s": [8.1e-4 + 1e-16, 3.24e-3 + 1e-16], "m_hat": [1.0, -2.0],
        "s_hat": [0.8100000000001, 3.2400000000001], "step": [0.0011111111111110424, -0.0011111111111110939]},
    2: {"m": [0.1898888888888889, -0.37988888888888889], "s": [0.0014636710000002, 0.0058579210000002],
        "m_hat": [0.99941520467836261, -1.9994152046783626], "s_hat": [0.73220160080050025, 2.9304257128565282],
        "step": [0.0011679671156772645, -0.0011679859867167853]},
    3: {"m": [0.27067209217732118, -0.54167209029021721], "s": [0.001990807329617054, 0.0079721412237089835],
        "m_hat": [0.99879000803439548, -1.9987900010709122], "s_hat": [0.66426648827179372, 2.6600395607839248],
        "step": [0.0012254709407343132, -0.0012255276677447592]},
}
DEFAULTS_STATE = {"step": 3, "exp_avg": [0.27067209217732118, -0.54167209029021721],
                  "exp_avg_var": [0.001990807329617054, 0.0079721412237089835]}

# amsgrad, defaults, g_1 = [1, -2], then g_2 = g_3 = [0.1, -0.2] = m_1: the gradient lands exactly on its
# prediction, g - m = 0, so s only shrinks: s_2 = 0.999*s_1 + 1e-16 < s_1, and s_max stays s_1.
# t=2: m = 0.9*[0.1, -0.2] + 0.1*[0.1, -0.2] = [0.1, -0.2];  m_hat = m/0.19 = [0.52631578947368421, -1.0526315789473684]
#      s_hat = s_max/0.001999 = [0.40520260130070035, 1.6208104052026513];  step = [8.2681869285215699e-4, -8.2681869285219534e-4]
#      (plain AdaBelief divides by sqrt(s_2/0.001999) = sqrt(0.40479739869944967): step 8.272324125141489e-4)
# t=3: m = [0.1, -0.2];  m_hat = m/0.271;  s_hat = s_max/0.002997001 = [0.27027018009006337, 1.0810807203601534]
#      step = [7.0979288822052901e-4, -7.0979288822056193e-4]
AMS_GRADS = ((1.0, -2.0), (0.1, -0.2), (0.1, -0.2))
AMS = ((0.99888888888888896, -1.9988888888888889), (0.9980620701960368, -1.9980620701960367),
       (0.99735227730781627, -1.9973522773078161))
AMS_TRACE = {1: {"s_max": [8.1e-4 + 1e-16, 3.24e-3 + 1e-16]},
             2: {"m": [0.1, -0.2], "s": [0.0008091900000001999, 0.0032367600000001999],
                 "s_max": [8.1e-4 + 1e-16, 3.24e-3 + 1e-16], "s_hat": [0.40520260130070035, 1.6208104052026513],
                 "step": [8.2681869285215699e-4, -8.2681869285219534e-4]},
             3: {"s_max": [8.1e-4 + 1e-16, 3.24e-3 + 1e-16], "s_hat": [0.27027018009006337, 1.0810807203601534],
                 "step": [7.0979288822052901e-4, -7.0979288822056193e-4]}}
PLAIN_ON_AMS = ((0.99888888888888896, -1.9988888888888889), (0.99806165647637481, -1.9980616564763747),
                (0.99735115308476276, -1.9973511530847625))

# Weight decay 0.1, lr 0.01, the other defaults, g_t = w_{t-1} (before the decay):
#   L2 (the paper's): g' = g + 0.1*w = 1.1*w at t=1, so m_hat_1 = [1.1, -2.2] and the step is lr/0.9 as before:
#     w = [0.98888888888888946, -1.988888888888889], [0.97721282282028101, -1.9772107710431896],
#         [0.96496905277948334, -1.9649607516789812]
#   decoupled: w_decayed = w*(1 - 0.001) first, the rule sees g = w_{t-1}:
#     w = [0.98788888888888958, -1.9868888888888891], [0.97522531637970225, -1.9732242423975196],
#         [0.96200745636129002, -1.9590020608387362]
L2 = ((0.98888888888888946, -1.988888888888889), (0.97721282282028101, -1.9772107710431896),
      (0.96496905277948334, -1.9649607516789812))
DECOUPLED = ((0.98788888888888958, -1.9868888888888891), (0.97522531637970225, -1.9732242423975196),
             (0.96200745636129002, -1.9590020608387362))

# Short, on paper: w0 = 1, g = 2 then 3, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15 (it moves nothing before
# the 14th digit).
# t=1: m = 0.5*0 + 0.5*2 = 1;  g - m = 1;  s = 0.75*0 + 0.25*1^2 + eps = 0.25;  m_hat = 1/(1 - 0.5) = 2;
#      s_hat = 0.25/(1 - 0.75) = 1;  step = 0.1*2/(sqrt(1) + eps) = 0.2;  w = 1 - 0.2 = 0.8
# t=2: m = 0.5*1 + 0.5*3 = 2;  g - m = 1;  s = 0.75*0.25 + 0.25*1 = 0.4375;  m_hat = 2/(1 - 0.25) = 8/3;
#      s_hat = 0.4375/(1 - 0.5625) = 1;  step = 0.1*(8/3)/1 = 4/15;  w = 0.8 - 4/15 = 8/15
# With weight decay 0.5, decoupled: w_decayed = w*(1 - 0.1*0.5) = 0.95*w first: w_1 = 0.95 - 0.2 = 0.75,
#      w_2 = 0.75*0.95 - 4/15 = 0.7125 - 0.26667 = 0.44583
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15}
SHORT_TRACE = {1: {"m": [1.0], "s": [0.25], "m_hat": [2.0], "s_hat": [1.0], "step": [0.2]},
               2: {"m": [2.0], "s": [0.4375], "m_hat": [8 / 3], "s_hat": [1.0], "step": [4 / 15]}}

CASES = (
    Hand("defaults", "paper", DEFAULTS, trace=DEFAULTS_TRACE, state=DEFAULTS_STATE),
    Hand("amsgrad", "paper", AMS, {"amsgrad": True}, grads=AMS_GRADS, trace=AMS_TRACE),
    Hand("plain on the amsgrad gradients", "paper", PLAIN_ON_AMS, grads=AMS_GRADS),
    Hand("L2 weight decay", "paper", L2, {"lr": 0.01, "weight_decay": 0.1}),
    Hand("decoupled weight decay", "paper", DECOUPLED, {"lr": 0.01, "weight_decay": 0.1,
                                                        "decoupled_weight_decay": True}),
    Hand("short", "paper", ((0.8,), (8 / 15,)), SHORT_HYPER, grads=((2.0,), (3.0,)), w0=(1.0,),
         trace=SHORT_TRACE, state={"step": 2, "exp_avg": [2.0], "exp_avg_var": [0.4375]}),
    Hand("short, decoupled weight decay", "paper", ((0.75,), (0.7125 - 4 / 15,)),
         {**SHORT_HYPER, "weight_decay": 0.5, "decoupled_weight_decay": True}, grads=((2.0,), (3.0,)), w0=(1.0,)),
)


def the_first_step_is_lr_over_one_minus_beta1_for_every_gradient_size():
    # m_hat_1 = g, s_hat_1 = (1 - beta1)^2 g^2 + eps/(1 - beta2): |step_1| = lr |g| / (sqrt(0.81 g^2 + 1e-13) + 1e-16),
    # lr / 0.9 to within 1e-7 for |g| >= 0.001 (Adam's first step is lr whatever |g|; AdaBelief's is lr / (1 - beta1))
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(50)
    g = rng.choice([-1.0, 1.0], 50) * 10.0 ** rng.uniform(-3, 3, 50)
    (w1,), _, _ = run_steps("adabelief", [g], w0=w0, lr=0.01)
    np.testing.assert_allclose(np.abs(w1 - w0), 0.01 * np.abs(g) / (np.sqrt(0.81 * g * g + 1e-13) + 1e-16), rtol=1e-12)
    np.testing.assert_allclose(np.abs(w1 - w0), 0.01 / 0.9, rtol=1e-7)
    assert np.all(np.sign(w0 - w1) == np.sign(g))


def a_gradient_that_keeps_its_value_is_believed_more_than_by_adam():
    # a constant gradient: g - m_t = beta1^t * g shrinks, so s_hat falls and the step grows well past Adam's lr
    steps = [run_steps(name, [[1.0]] * 30, w0=(0.0,), convention="paper", lr=0.01)[0] for name in ("adabelief", "adam")]
    belief, adam = (np.diff(np.concatenate([[0.0], np.ravel(w)])) for w in steps)
    np.testing.assert_allclose(adam, -0.01, rtol=1e-6)
    assert np.all(np.diff(belief) < 0)                       # every step longer than the one before
    assert belief[-1] < -2.5 * 0.01                          # 2.67 times Adam's at step 30, and growing


def eps_accumulates_in_s():
    # zero gradients: m = 0 and g - m = 0, so s_t = eps * (1 + beta2 + ... + beta2^(t-1)) = eps * (1 - beta2^t)/(1 - beta2)
    _, opt, p = run_steps("adabelief", [[0.0, 0.0]] * 4, eps=1e-8, beta2=0.5)
    np.testing.assert_allclose(opt.state[p]["exp_avg_var"], 1e-8 * (1 - 0.5 ** 4) / 0.5, rtol=1e-15)
    np.testing.assert_array_equal(p.data, [1.0, -2.0])


def amsgrad_s_max_never_decreases():
    rng = np.random.default_rng(2)
    p = parameter(rng.standard_normal(20))
    opt = optim.AdaBelief([p], amsgrad=True, lr=0.01)
    previous, saw_s_fall = np.zeros(20), False
    for t in range(60):
        p.grad = rng.standard_normal(20) * (3.0 if t % 10 == 0 else 0.1)
        opt.step()
        state = opt.state[p]
        assert np.all(state["max_exp_avg_var"] >= previous)
        assert np.all(state["max_exp_avg_var"] >= state["exp_avg_var"])
        saw_s_fall |= bool(np.any(state["exp_avg_var"] < state["max_exp_avg_var"]))
        previous = state["max_exp_avg_var"].copy()
    assert saw_s_fall


def weight_decouple_is_the_packages_spelling_of_decoupled_weight_decay():
    p = parameter([1.0, -2.0])
    assert optim.AdaBelief([p], weight_decouple=True).defaults["decoupled_weight_decay"] is True
    a, _, _ = run_steps("adabelief", [None] * 3, lr=0.01, weight_decay=0.1, weight_decouple=True)
    np.testing.assert_allclose(np.array(a), np.array(DECOUPLED), rtol=1e-12, atol=0)
    assert optim.AdaBelief([p]).decouples_weight_decay(optim.AdaBelief([p], weight_decouple=True).param_groups[0])


SPEC = Spec(
    name="adabelief",
    defaults={"paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "amsgrad": False,
                        "decoupled_weight_decay": False, "weight_decay": 0.0}},
    variants=({}, {"amsgrad": True}, {"decoupled_weight_decay": True}),
    hand=CASES,
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
         ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"), ({"eps": -1e-16}, "eps"),
         ({"lr": -0.001}, "lr"), ({"lr": float("inf")}, "lr"), ({"amsgrad": 1}, "amsgrad"),
         ({"decoupled_weight_decay": "yes"}, "decoupled_weight_decay"), ({"weight_decay": -0.1}, "weight_decay"),
         ({"convention": "pytorch"}, "convention"), ({"momentum": 0.9}, "momentum"),
         ({"weight_decouple": True, "decoupled_weight_decay": False}, "given twice")),
    quadratic=({"lr": 0.1}, 1e-50),           # f = 1.7e-90 after 2000 steps
    rosenbrock=({"lr": 0.05}, 1e-15),         # f = 7e-21 after 3000 steps (lr 0.01: 1.6e-4, lr 0.1: 2e-10)
    overflow_state="exp_avg_var",
    properties=(the_first_step_is_lr_over_one_minus_beta1_for_every_gradient_size,
                a_gradient_that_keeps_its_value_is_believed_more_than_by_adam, eps_accumulates_in_s,
                amsgrad_s_max_never_decreases, weight_decouple_is_the_packages_spelling_of_decoupled_weight_decay),
)
