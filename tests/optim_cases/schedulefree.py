"""ScheduleFreeAdamW: z takes AdamW steps, x averages the z's, the parameters hold y between them; keras
(averaging weights 1/t, the base's decay on y) and paper (the authors' AdamWScheduleFree: weights lr_max^2, the
decay at y inside the rule).  train()/eval(), fit and real Keras 3 over 100 steps: tests/test_optim_schedulefree.py."""
import numpy as np
import pytest

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

NAME = "schedulefree_adamw"

# Hand-computed (Decimal, 40 digits), w0 = [1, -2], g_t = w_{t-1}; defaults lr 0.0025, beta1 0.9, beta2 0.999, eps 1e-8
# t=1 (both): v = 0.001*g^2 = [0.001, 0.004];  denom = sqrt(v/0.001) + 1e-8 = [1.00000001, 2.00000001]
#      keras: x_prev = z0 + (y0 - z0)/0.9 = w0;  z = w0 - 0.0025*g/denom = [0.997500000025, -1.9975000000125]
#             c = 1: x = z;  w = z + 0.9*(x - z) = z
#      paper: lr_max = 0.0025;  weight = 1^0 * 0.0025^2 = 6.25e-6 = weight_sum;  c = 1;  d = g/denom
#             w = w0 + 1*(z0 - w0) + 0.0025*(0.9*0 - 1)*d = w0 - 0.0025*d, the same point
# t=2: denom = [0.99875016692760667, 1.9987497755628724];  z = [0.99500312935339464, -1.9950015632091113];  c = 1/2
#      x = [0.99625156468919732, -1.9962507816108056];  w = y = [0.99612672115561705, -1.9961258597706362]
# t=3: denom = [0.99787557999925537, 1.9978746481718941];  z = [0.99250751080855471, -1.9925037515200782];  c = 1/3
#      x = [0.99500354672898312, -1.9950017715805632];  w = y = [0.99475394313694027, -1.9947519695745147]
# Without warm-up, r = 0 and weight decay 0 the paper's weights lr_max^2 / sum are 1/t: the same numbers.
PLAIN = ((0.997500000025, -1.9975000000125), (0.99612672115561705, -1.9961258597706362),
         (0.99475394313694027, -1.9947519695745147))
PLAIN_Z = [0.99250751080855471, -1.9925037515200782]
KERAS_TRACE = {1: {"lr_t": 0.0025, "v": [0.001, 0.004], "denom": [1.00000001, 2.00000001], "x_prev": [1.0, -2.0],
                   "z": [0.997500000025, -1.9975000000125], "c": 1.0, "x": [0.997500000025, -1.9975000000125]},
               2: {"denom": [0.99875016692760667, 1.9987497755628724], "x_prev": [0.997500000025, -1.9975000000125],
                   "z": [0.99500312935339464, -1.9950015632091113], "c": 0.5,
                   "x": [0.99625156468919732, -1.9962507816108056]},
               3: {"z": PLAIN_Z, "c": 1 / 3, "x": [0.99500354672898312, -1.9950017715805632]}}
PAPER_TRACE = {1: {"lr_t": 0.0025, "lr_max": 0.0025, "weight": 6.25e-6, "weight_sum": 6.25e-6, "c": 1.0,
                   "d": [0.9999999900000001, -0.99999999500000002], "z": [0.997500000025, -1.9975000000125]},
               2: {"weight_sum": 1.25e-5, "c": 0.5, "d": [0.99874826864214453, -0.99937472135549309],
                   "z": [0.99500312935339464, -1.9950015632091113]},
               3: {"weight_sum": 1.875e-5, "c": 1 / 3, "d": [0.99824741793597192, -0.99912467561322823],
                   "z": PLAIN_Z}}
# keras, lr 0.1, warmup_steps 2, weight_decay 0.1: the base shrinks y first by (1 - 0.1*0.1) = 0.99 (not z)
# t=1: lr_t = 0.1*1/2 = 0.05;  y' = [0.99, -1.98];
#      x_prev = z0 + (y' - z0)/0.9 = [0.98888888888888889, -1.9777777777777778]
#      z = w0 - 0.05*g/denom = [0.9500000005, -1.95000000025];  c = 1: x = z, w = z
# t=2: lr_t = 0.1;  x_prev = [0.93944444493888888, -1.9283333335805556];  z = [0.85259486986453842, -1.8512731076343096]
#      x = [0.89601965740171365, -1.8898032206074326];  w = [0.89167717864799613, -1.8859502093101203]
# t=3: z = [0.75855826254219542, -1.75435088088732];  w = [0.83509058493358638, -1.8230492833239867]
KERAS_WARM = ((0.9500000005, -1.95000000025), (0.89167717864799613, -1.8859502093101203),
              (0.83509058493358638, -1.8230492833239867))
# paper, lr 0.1, warmup_steps 2, weight_decay 0.1 (read as weight_decay_rate), r = 1: weights t * lr_max^2
# t=1: lr_t = 0.05;  lr_max = 0.05;  weight = 1*0.0025 = weight_sum;  c = 1;
#      d = g/denom + 0.1*w0 = [1.09999999, -1.199999995]
#      w = w0 + (z0 - w0) + 0.05*(0 - 1)*d = [0.9450000005, -1.94000000025];  z the same
# t=2: lr_t = lr_max = 0.1;  weight = 2*0.01 = 0.02;  weight_sum = 0.0225;  c = 0.02/0.0225 = 8/9
#      d = [1.0658478113407085, -1.1786649013303206];  z = [0.83841521936592914, -1.8221335101169679]
#      w = [0.84907369747933623, -1.8339201591302711]
# t=3: weight = 0.03;  weight_sum = 0.0525;  c = 4/7;  z = [0.73895819416079175, -1.7085657721148094]
#      w = [0.78188810878851921, -1.7574218920642005]
PAPER_WARM = ((0.9450000005, -1.94000000025), (0.84907369747933623, -1.8339201591302711),
              (0.78188810878851921, -1.7574218920642005))
PAPER_WARM_TRACE = {1: {"lr_t": 0.05, "lr_max": 0.05, "weight": 0.0025, "c": 1.0,
                        "d": [1.0999999900000001, -1.199999995]},
                    2: {"lr_t": 0.1, "weight": 0.02, "weight_sum": 0.0225, "c": 8 / 9,
                        "d": [1.0658478113407085, -1.1786649013303206],
                        "z": [0.83841521936592914, -1.8221335101169679]},
                    3: {"weight": 0.03, "weight_sum": 0.0525, "c": 4 / 7,
                        "z": [0.73895819416079175, -1.7085657721148094]}}
WARM_HYPER = {"lr": 0.1, "warmup_steps": 2, "weight_decay": 0.1}

# Short, on paper: w0 = 1, g = 2 then -2, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15 (every convention: the same steps)
# t=1: v = 0.25*4 = 1;  denom = sqrt(1/0.25) = 2;  g/denom = 1;  z = 1 - 0.1*1 = 0.9;  c = 1
#      keras: x_prev = 1;  x = 1 + 1*(0.9 - 1) = 0.9;  w = 0.9 + 0.5*(0.9 - 0.9) = 0.9
#      paper: weight = 0.1^2 = 0.01 = weight_sum;  d = 1;  w = 1 + 1*(1 - 1) + 0.1*(0.5*0 - 1)*1 = 0.9
# t=2: v = 0.75*1 + 0.25*4 = 1.75;  denom = sqrt(1.75/0.4375) = 2;  g/denom = -1;  z = 0.9 + 0.1 = 1.0;  c = 1/2
#      keras: x_prev = 0.9 + (0.9 - 0.9)/0.5 = 0.9;  x = 0.9 + 0.5*(1.0 - 0.9) = 0.95;
#             w = 1.0 + 0.5*(0.95 - 1.0) = 0.975
#      paper: weight_sum = 0.02;  d = -1;  w = 0.9 + 0.5*(0.9 - 0.9) + 0.1*(0.5*0.5 - 1)*(-1) = 0.9 + 0.075 = 0.975
# eval(): x = z + (y - z)/beta1 = 1.0 + (0.975 - 1.0)/0.5 = 0.95
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15}
SHORT_TRACE = {"keras": {1: {"denom": [2.0], "x_prev": [1.0], "z": [0.9], "c": 1.0, "x": [0.9]},
                         2: {"v": [1.75], "denom": [2.0], "x_prev": [0.9], "z": [1.0], "c": 0.5, "x": [0.95]}},
               "paper": {1: {"weight": 0.01, "weight_sum": 0.01, "c": 1.0, "d": [1.0], "z": [0.9]},
                         2: {"weight_sum": 0.02, "c": 0.5, "d": [-1.0], "z": [1.0]}}}
SHORT = [Hand("short", c, ((0.9,), (0.975,)), SHORT_HYPER, grads=((2.0,), (-2.0,)), w0=(1.0,),
              trace=SHORT_TRACE[c], state={"step": 2, "z": [1.0], "exp_avg_sq": [1.75]})
         for c in ("keras", "paper")]
# The same with warmup_steps 2 shows the two averages apart: lr_1 = 0.05, lr_2 = 0.1, g/denom = 1 then -1
#   keras: z = 0.95, then 1.05;  c = 1/2;  x = 0.95 + 0.5*(1.05 - 0.95) = 1.0;  w = 1.05 + 0.5*(1.0 - 1.05) = 1.025
#   paper: weights 0.05^2 = 0.0025, then 0.1^2 = 0.01: c_2 = 0.01/0.0125 = 0.8;  w_1 = 0.95;
#          w_2 = 0.95 + 0.8*(0.95 - 0.95) + 0.1*(0.5*0.2 - 1)*(-1) = 0.95 + 0.09 = 1.04
#          (x = 0.2*0.95 + 0.8*1.05 = 1.03)
WARM_SHORT = (Hand("short, warm-up", "keras", ((0.95,), (1.025,)), {**SHORT_HYPER, "warmup_steps": 2},
                   grads=((2.0,), (-2.0,)), w0=(1.0,), trace={2: {"lr_t": 0.1, "c": 0.5, "x": [1.0], "z": [1.05]}}),
              Hand("short, warm-up", "paper", ((0.95,), (1.04,)), {**SHORT_HYPER, "warmup_steps": 2},
                   grads=((2.0,), (-2.0,)), w0=(1.0,), trace={2: {"lr_t": 0.1, "c": 0.8, "z": [1.05]}}))

CASES = (Hand("defaults", "keras", PLAIN, trace=KERAS_TRACE, state={"step": 3, "z": PLAIN_Z}),
         Hand("defaults", "paper", PLAIN, trace=PAPER_TRACE, state={"step": 3, "z": PLAIN_Z, "lr_max": 0.0025}),
         Hand("warm-up and weight decay", "keras", KERAS_WARM, WARM_HYPER),
         Hand("warm-up, weight decay, r = 1", "paper", PAPER_WARM, {**WARM_HYPER, "r": 1.0}, trace=PAPER_WARM_TRACE),
         *SHORT, *WARM_SHORT)


def eval_moves_to_x_and_train_back_to_y_exactly():
    w0, grads = problem(8, steps=15)
    for convention in ("keras", "paper"):
        weights, opt, p = run_steps(NAME, grads, w0=w0, convention=convention, lr=0.01, warmup_steps=3)
        y, z = weights[-1], opt.state[p]["z"].copy()
        opt.eval()
        x = p.data.copy()
        np.testing.assert_allclose(x, (y - 0.1 * z) / 0.9, rtol=1e-13)
        assert np.abs(x - y).max() > 1e-4 and not opt.training
        opt.eval()                                                  # twice: harmless
        np.testing.assert_array_equal(p.data, x)
        opt.train()
        np.testing.assert_array_equal(p.data, y)                    # bit for bit
        opt.train()
        np.testing.assert_array_equal(p.data, y)
        assert opt.training and "y" not in opt.state[p]


def a_step_in_eval_mode_is_refused():
    p = parameter([1.0, 2.0])
    opt = optim.ScheduleFreeAdamW([p])
    p.grad = np.array([0.1, 0.1])
    opt.step()
    opt.eval()
    with pytest.raises(RuntimeError, match=r"the parameters hold the averaged point x \(eval mode\); "
                                           r"call optimizer.train\(\)"):
        opt.step()
    opt.train()
    opt.step()


def a_parameter_never_stepped_stays_where_it_is():
    a, b = parameter([1.0, 2.0]), parameter([3.0])
    opt = optim.ScheduleFreeAdamW([a, b])
    a.grad = np.array([0.5, -0.5])
    opt.step()
    opt.eval()
    np.testing.assert_array_equal(b.data, [3.0])           # x = y = z = w_0 for b
    assert b not in opt.state and "y" in opt.state[a]


SPEC = Spec(
    name=NAME,
    defaults={"keras": {"lr": 0.0025, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "warmup_steps": 0,
                        "weight_decay": 0.0},
              "paper": {"lr": 0.0025, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "warmup_steps": 0, "r": 0.0,
                        "weight_lr_power": 2.0, "weight_decay_rate": 0.0, "weight_decay": 0.0}},
    variants=({}, {"warmup_steps": 3}, {"warmup_steps": 2, "r": 1.0, "weight_lr_power": 1.0}),
    hand=CASES,
    bad=(({"beta1": 0.0}, "beta1"), ({"beta1": 1.5}, "beta1"), ({"beta2": 1.0}, "beta2"), ({"eps": 0.0}, "eps"),
         ({"lr": -0.1}, "lr"), ({"warmup_steps": -1}, "warmup_steps"), ({"warmup_steps": 2.5}, "warmup_steps"),
         ({"convention": "paper", "r": -1.0}, "Invalid r"),
         ({"convention": "paper", "weight_lr_power": float("nan")}, "weight_lr_power"),
         ({"convention": "paper", "weight_decay": -0.1}, "weight_decay_rate"),
         ({"r": 1.0}, "r"), ({"momentum": 0.9}, "momentum"), ({"convention": "pytorch"}, "convention")),
    keras_class="ScheduleFreeAdamW",
    # Keras's stateful apply_gradients on torch reads momentum_old after updating it in place (see the class's
    # note); with beta1 = 1 that read does not matter, so the table's stateful runs take beta1 = 1, and
    # tests/test_optim_schedulefree.py compares every beta1 through Keras's stateless_apply
    keras_variants=({"beta1": 1.0}, {"beta1": 1.0, "lr": 0.01, "warmup_steps": 8},
                    {"beta1": 1.0, "lr": 0.01, "weight_decay": 0.05}),
    quadratic=({"lr": 0.1}, 1e-12),
    rosenbrock=({"lr": 0.1}, 1e-3),
    overflow_state="exp_avg_sq",
    properties=(eval_moves_to_x_and_train_back_to_y_exactly, a_step_in_eval_mode_is_refused,
                a_parameter_never_stepped_stays_where_it_is),
)
