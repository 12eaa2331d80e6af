"""Adagrad: eps inside (keras) or outside (pytorch, paper) the square root; PyTorch's lr_decay;
Keras 3's Adagrad transcribed."""
import numpy as np

from optim_testutil import Hand, Spec, problem, run_steps

# lr 0.001, a_0 = 0.1, eps 1e-7 inside the sqrt; w0 = [1, -2], g = [1, -2] every step
# a_t = 0.1 + t*g^2 = [1.1, 4.1], [2.1, 8.1], [3.1, 12.1]
# t=1: w = 1 - 0.001*1/sqrt(1.1000001) = 1 - 0.001/1.048808896... = 0.99904653745409...
#      w = -2 + 0.001*2/sqrt(4.1000001) = -2 + 0.002/2.024845673... = -1.99901227041539...
# t=2: w = 0.999046537... - 0.001/sqrt(2.1000001) = 0.999046537... - 0.000690065... = 0.99835647191118...
#      w = -1.999012270... + 0.002/sqrt(8.1000001) = ... + 0.000702728... = -1.99830954205080...
# t=3: w = 0.998356471... - 0.001/sqrt(3.1000001) = ... - 0.000567961... = 0.99778851008609...
#      w = -1.998309542... + 0.002/sqrt(12.1000001) = ... + 0.000574959... = -1.99773458247860...
KERAS = Hand("keras defaults", "keras", ((0.9990465374540937, -1.9990122704153959),
                                         (0.9983564719111814, -1.9983095420508075),
                                         (0.997788510086095, -1.9977345824786072)), grads=((1.0, -2.0),) * 3)

GRADS = ((3.0, 4.0), (4.0, 3.0), (12.0, 0.0))  # a_t = [9, 16], [25, 25], [169, 25]: perfect squares

# lr 0.01, lr_decay 0.5: lr_t = 0.01/(1 + 0.5*(t-1)) = 0.01, 0.01/1.5, 0.005; eps 1e-10 outside sqrt
# t=1: w = 1 - 0.01*3/(3 + 1e-10) = 0.99000000000033...;  w = -2 - 0.01*4/(4 + 1e-10) = -2.00999999999975
# t=2: w -= (0.01/1.5)*4/(5 + 1e-10) = 0.00533333333322 -> 0.98466666666711
#      w -= (0.01/1.5)*3/(5 + 1e-10) = 0.004                -> -2.01399999999967
# t=3: w -= 0.005*12/(13 + 1e-10) = 0.00461538461535      -> 0.98005128205176
#      w -= 0.005*0/(5 + 1e-10) = 0                        -> -2.01399999999967
PYTORCH_LR_DECAY = Hand("pytorch lr_decay", "pytorch", ((0.9900000000003333, -2.00999999999975),
                                                        (0.9846666666671067, -2.01399999999967),
                                                        (0.9800512820517575, -2.01399999999967)),
                        {"lr_decay": 0.5}, grads=GRADS)

# lr 0.01, a_0 = 0, eps 1e-10 outside the sqrt (Duchi et al.'s delta + ||g_1:t||)
# t=1: w = 1 - 0.01*3/(3 + 1e-10) = 0.99000000000033;   w = -2 - 0.01*4/(4 + 1e-10) = -2.00999999999975
# t=2: w -= 0.01*4/(5 + 1e-10) = 0.008 -> 0.98200000000049; w -= 0.01*3/(5 + 1e-10) = 0.006 -> -2.01599999999963
# t=3: w -= 0.01*12/(13 + 1e-10) = 0.00923076923... -> 0.97276923076980;  second unchanged (g = 0)
PAPER = Hand("paper defaults", "paper", ((0.9900000000003333, -2.00999999999975),
                                         (0.9820000000004934, -2.01599999999963),
                                         (0.9727692307697952, -2.01599999999963)), grads=GRADS)

# Short, on paper: w0 = 1, lr 0.1, eps 1e-15 (it moves nothing before the 15th digit).
# keras, a_0 = 7, g = 3, 3:  a = 7 + 9 = 16, step = 0.1*3/sqrt(16) = 0.075, w = 0.925
#                            a = 16 + 9 = 25, step = 0.1*3/sqrt(25) = 0.06, w = 0.865
# pytorch, a_0 = 0, lr_decay 0.5, g = 3, 4:  a = 9, lr_t = 0.1/(1 + 0*0.5) = 0.1, step = 0.1*3/3 = 0.1, w = 0.9
#                            a = 9 + 16 = 25, lr_t = 0.1/(1 + 1*0.5) = 1/15, step = (1/15)*4/5 = 4/75, w = 0.9 - 4/75
# paper, a_0 = 0, g = 3, 4:  a = 9, step = 0.1*3/3 = 0.1, w = 0.9;  a = 25, step = 0.1*4/5 = 0.08, w = 0.82
SHORT = [
    Hand("short", "keras", ((0.925,), (0.865,)), {"lr": 0.1, "initial_accumulator_value": 7.0, "eps": 1e-15},
         grads=((3.0,), (3.0,)), w0=(1.0,),
         trace={1: {"a": [16.0], "step": [0.075]}, 2: {"a": [25.0], "step": [0.06]}}),
    Hand("short", "pytorch", ((0.9,), (0.9 - 4 / 75,)), {"lr": 0.1, "lr_decay": 0.5, "eps": 1e-15},
         grads=((3.0,), (4.0,)), w0=(1.0,),
         trace={1: {"a": [9.0], "lr_t": 0.1, "step": [0.1]}, 2: {"a": [25.0], "lr_t": 1 / 15, "step": [4 / 75]}}),
    Hand("short", "paper", ((0.9,), (0.82,)), {"lr": 0.1, "eps": 1e-15}, grads=((3.0,), (4.0,)), w0=(1.0,),
         trace={1: {"a": [9.0], "step": [0.1]}, 2: {"a": [25.0], "step": [0.08]}}, state={"step": 2, "sum": [25.0]}),
]


def effective_rate_never_increases():
    w0, grads = problem(0, steps=60)
    grads = grads[:30] + [np.zeros_like(w0)] * 5 + grads[30:]       # zero gradients in between
    for convention in ("keras", "pytorch", "paper"):
        _, opt, p = run_steps("adagrad", grads[:1], w0=w0, lr=0.1, convention=convention)
        eps = opt.defaults["eps"]
        previous = np.full(w0.shape, np.inf)
        for g in grads[1:]:
            p.grad = g
            opt.step()
            a = opt.state[p]["sum"]
            rate = 0.1 / np.sqrt(a + eps) if convention == "keras" else 0.1 / (np.sqrt(a) + eps)
            assert np.all(rate <= previous), convention
            previous = rate


def keras_adagrad(w0, grads, lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None):
    """Independent float64 transcription of Keras 3's Adagrad.update_step (keras/src/optimizers/adagrad.py)
    and of its base optimizer's decoupled weight decay."""
    w = np.array(w0, dtype=np.float64)
    accumulator = np.full_like(w, initial_accumulator_value)
    for g in grads:
        if weight_decay:
            w = w - w * weight_decay * lr
        accumulator = accumulator + np.square(g)
        w = w - lr * g / np.sqrt(accumulator + epsilon)
    return w


SPEC = Spec(
    name="adagrad",
    defaults={"keras": {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
              "pytorch": {"lr": 0.01, "initial_accumulator_value": 0.0, "eps": 1e-10, "lr_decay": 0.0},
              "paper": {"lr": 0.01, "initial_accumulator_value": 0.0, "eps": 1e-10}},
    variants=({}, {"lr_decay": 0.01}, {"initial_accumulator_value": 0.5}),
    hand=(KERAS, PYTORCH_LR_DECAY, PAPER, *SHORT),
    bad=(({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"eps": 0.0}, "eps"), ({"eps": -1e-8}, "eps"),
         ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
         ({"lr_decay": -0.1, "convention": "pytorch"}, "lr_decay"), ({"lr_decay": 0.1}, "lr_decay"),
         ({"rho": 0.9}, "rho"), ({"convention": "chainer"}, "convention")),
    torch="Adagrad",
    torch_variants=({}, {"lr_decay": 0.01, "initial_accumulator_value": 0.1}, {"weight_decay": 0.1, "eps": 1e-6}),
    keras=tuple((keras_adagrad, hyper, hyper) for hyper in ({"lr": 0.1}, {"lr": 0.1, "initial_accumulator_value": 1.0},
                                                            {"lr": 0.1, "weight_decay": 0.05})),
    keras_class="Adagrad",
    quadratic=({"lr": 0.3}, 1e-10),
    rosenbrock=({"lr": 1.0}, 2e-3),
    overflow_state="sum",
    properties=(effective_rate_never_increases,),
)
