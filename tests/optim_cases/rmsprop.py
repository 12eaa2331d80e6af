"""RMSprop: plain, centered and with momentum; eps inside (keras, paper) or outside (pytorch) the root;
Keras 3's RMSprop transcribed."""
import numpy as np

from optim_testutil import Hand, Spec, run_steps

CONST = ((1.0, -2.0),) * 3                      # g = [1, -2] at every step
SEQ = ((1.0, -2.0), (3.0, 1.0), (-1.0, 2.0))    # a sequence with a sign change in each component

# lr 0.001, rho 0.9, eps 1e-7 inside sqrt; v_t = 0.9*v + 0.1*g^2 = [0.1, 0.4], [0.19, 0.76], [0.271, 1.084]
# t=1: w = 1 - 0.001*1/sqrt(0.1000001) = 1 - 0.00316228 = 0.99683772392...
#      w = -2 + 0.001*2/sqrt(0.4000001) = -2 + 0.00316228 = -1.99683772273...
# t=2: w -= 0.001/sqrt(0.1900001) = 0.001/0.43589 = 0.00229416 -> 0.99454356718...
# t=3: w -= 0.001/sqrt(0.2710001) = 0.001/0.520577 = 0.00192095 -> 0.99262262066...
#      (second component: 0.002/sqrt(0.7600001) and 0.002/sqrt(1.0840001), same up to the eps)
KERAS = Hand("keras defaults", "keras", ((0.9968377239209693, -1.9968377227351162),
                                         (0.994543567185989, -1.994543565547342),
                                         (0.992622620664419, -1.9926226187599583)), grads=CONST)

# lr 0.01, rho 0.5, mu 0.5, eps 1e-7, centered: denom = sqrt(v - m^2 + eps), b = mu*b + lr*g/denom, w -= b
# first component, g = 1, 3, -1:
#  t=1: v = 0.5, m = 0.5, v-m^2 = 0.25; step = 0.01/sqrt(0.2500001) = 0.019999996; b = step; w = 0.980000004
#  t=2: v = 0.25+4.5 = 4.75, m = 0.25+1.5 = 1.75, v-m^2 = 1.6875; step = 0.03/1.2990381 = 0.0230940
#       b = 0.5*0.019999996 + 0.0230940 = 0.0330940; w = 0.9469060
#  t=3: v = 2.375+0.5 = 2.875, m = 0.875-0.5 = 0.375, v-m^2 = 2.734375; step = -0.01/1.6535945 = -0.0060474
#       b = 0.0165470 - 0.0060474 = 0.0104996; w = 0.9364064
# second component, g = -2, 1, 2:
#  t=1: v = 2, m = -1, v-m^2 = 1; step = -0.02/sqrt(1.0000001); w = -1.98000000099...
#  t=2: v = 1.5, m = 0, v-m^2 = 1.5; step = 0.01/1.2247449 = 0.0081650; b = -0.01 + 0.0081650; w = -1.9781650
#  t=3: v = 2.75, m = 1, v-m^2 = 1.75; step = 0.02/1.3228757 = 0.0151186; b = -0.0009175 + 0.0151186
#       w = -1.9781650 - 0.0142011 = -1.9923660
KERAS_CENTERED_MOMENTUM = Hand("keras centered momentum", "keras",
                               ((0.9800000039999988, -1.9800000009999998),
                                (0.9469059959166801, -1.9781649670371115),
                                (0.9364064233325868, -1.9923660285440772)),
                               {"lr": 0.01, "rho": 0.5, "momentum": 0.5, "centered": True}, grads=SEQ)

# lr 0.01, rho (alpha) 0.99, eps 1e-8 outside sqrt; v = 0.01*g^2, 0.0199*g^2, 0.029701*g^2
# t=1: w = 1 - 0.01*1/(0.1 + 1e-8) = 1 - 0.09999999 = 0.90000001
#      w = -2 + 0.01*2/(0.2 + 1e-8) = -2 + 0.099999995 = -1.900000005
# t=2: w -= 0.01/(sqrt(0.0199) + 1e-8) = 0.01/0.14106736 = 0.0708881 -> 0.8291119
# t=3: w -= 0.01/(sqrt(0.029701) + 1e-8) = 0.01/0.17234 = 0.0580249 -> 0.7710870
PYTORCH = Hand("pytorch defaults", "pytorch", ((0.900000009999999, -1.9000000049999997),
                                               (0.8291118945242907, -1.8291118870117289),
                                               (0.7710869894147031, -1.7710869802186964)), grads=CONST)

# the same v, m as the Keras test above; denom = sqrt(v - m^2) + 1e-8; b = mu*b + g/denom; w -= lr*b
# first component:  t=1: b = 1/(0.5 + 1e-8) = 1.99999996; w = 1 - 0.0199999996 = 0.9800000004
#   t=2: b = 0.99999998 + 3/(1.2990381 + 1e-8) = 3.3094011; w = 0.98 - 0.033094 = 0.9469060
#   t=3: b = 1.6547006 - 1/(1.6535945 + 1e-8) = 1.0499599; w = 0.9469060 - 0.0104996 = 0.9364064
# second component: t=1: b = -2/(1 + 1e-8); w = -1.9800000002
#   t=2: b = -1 + 1/1.2247449 = -0.1835034; w = -1.9781650;  t=3: b = -0.0917517 + 2/1.3228757; w = -1.9923660
PYTORCH_CENTERED_MOMENTUM = Hand("pytorch centered momentum", "pytorch",
                                 ((0.9800000004, -1.9800000002),
                                  (0.9469059900101927, -1.9781649660426106),
                                  (0.9364064163468653, -1.9923660277699993)),
                                 {"lr": 0.01, "rho": 0.5, "momentum": 0.5, "centered": True}, grads=SEQ)

# lr 0.001, rho 0.9, eps 1e-8 inside sqrt (Hinton's rule + a guard); v as in the Keras test
# t=1: w = 1 - 0.001/sqrt(0.10000001) = 0.99683772250;  t=2: -= 0.001/sqrt(0.19000001) -> 0.99454356522
# t=3: -= 0.001/sqrt(0.27100001) -> 0.99262261838
PAPER = Hand("paper defaults", "paper", ((0.9968377224979454, -1.99683772237936),
                                         (0.9945435652196124, -1.9945435650557477),
                                         (0.992622618379066, -1.9926226181886197)), grads=CONST)

# Graves 2013: lr 0.001, rho 0.5, eps 1e-8 inside sqrt, v - m^2 as in the Keras centered test
# first:  t=1: 1 - 0.001/sqrt(0.25 + 1e-8) = 0.99800000004;  t=2: - 0.003/1.2990381 = 0.0023094 -> 0.9956906
#         t=3: + 0.001/1.6535945 = 0.00060474 -> 0.9962953
# second: t=1: -2 + 0.002/sqrt(1 + 1e-8) = -1.99800000001;  t=2: - 0.001/1.2247449 -> -1.9988165
#         t=3: - 0.002/1.3228757 = 0.0015119 -> -2.0003284
PAPER_CENTERED = Hand("paper centered", "paper", ((0.99800000004, -1.99800000001),
                                                  (0.9956905989700842, -1.998816496588206),
                                                  (0.9962953421257931, -2.0003283544759234)),
                      {"rho": 0.5, "centered": True}, grads=SEQ)

# Short, on paper: w0 = 1, g = 2 then 1, lr 0.1, eps 1e-15 (it moves nothing before the 15th digit).
# keras, rho 0.75, momentum 0.5:  v = 0.25*2^2 = 1, denom = sqrt(1 + eps) = 1, step = 0.1*2/1 = 0.2,
#     b = 0.2, w = 0.8;   v = 0.75*1 + 0.25*1^2 = 1, step = 0.1*1/1 = 0.1, b = 0.5*0.2 + 0.1 = 0.2, w = 0.6
# pytorch, centered, rho 0.5:  v = 0.5*4 = 2, m = 0 + 0.5*(2 - 0) = 1, denom = sqrt(2 - 1^2) + eps = 1,
#     step = 0.1*2/1 = 0.2, w = 0.8;   v = 0.5*2 + 0.5*1 = 1.5, m = 1 + 0.5*(1 - 1) = 1,
#     denom = sqrt(1.5 - 1) = sqrt(0.5), step = 0.1*1/sqrt(0.5) = 0.1*sqrt(2) = 0.14142136, w = 0.65857864
# paper, rho 0.75:  v = 1, step = 0.2, w = 0.8;   v = 1, step = 0.1, w = 0.7
SHORT = [
    Hand("short", "keras", ((0.8,), (0.6,)), {"lr": 0.1, "rho": 0.75, "momentum": 0.5, "eps": 1e-15},
         grads=((2.0,), (1.0,)), w0=(1.0,),
         trace={1: {"v": [1.0], "denom": [1.0], "step": [0.2], "b": [0.2]},
                2: {"v": [1.0], "denom": [1.0], "step": [0.1], "b": [0.2]}}),
    Hand("short", "pytorch", ((0.8,), (0.8 - 0.1 * 2 ** 0.5,)), {"lr": 0.1, "rho": 0.5, "centered": True,
                                                                 "eps": 1e-15},
         grads=((2.0,), (1.0,)), w0=(1.0,),
         trace={1: {"v": [2.0], "m": [1.0], "denom": [1.0], "step": [0.2]},
                2: {"v": [1.5], "m": [1.0], "denom": [0.5 ** 0.5], "step": [0.1 * 2 ** 0.5]}}),
    Hand("short", "paper", ((0.8,), (0.7,)), {"lr": 0.1, "rho": 0.75, "eps": 1e-15}, grads=((2.0,), (1.0,)),
         w0=(1.0,), trace={1: {"v": [1.0], "step": [0.2]}, 2: {"v": [1.0], "step": [0.1]}},
         state={"step": 2, "square_avg": [1.0]}),
]


def momentum_forms_differ_when_lr_changes():
    # g = 1 always, rho 0 (v = g^2 = 1), tiny eps: denom ~ 1; mu 0.5; lr 0.1 then 0.2
    # keras:   b1 = 0.1, w1 = 0.9;  b2 = 0.05 + 0.2 = 0.25, w2 = 0.65
    # pytorch: b1 = 1,   w1 = 0.9;  b2 = 0.5 + 1 = 1.5,    w2 = 0.9 - 0.2*1.5 = 0.6
    for convention, expected in [("keras", 0.65), ("pytorch", 0.6)]:
        _, opt, p = run_steps("rmsprop", [[1.0]], w0=(1.0,), lr=0.1, rho=0.0, momentum=0.5, eps=1e-30,
                              convention=convention)
        opt.param_groups[0]["lr"] = 0.2
        p.grad = np.array([1.0])
        opt.step()
        np.testing.assert_allclose(p.data, [expected], rtol=1e-12)


def state_only_holds_what_is_used():
    for hyper, keys in [({}, {"step", "square_avg"}), ({"centered": True}, {"step", "square_avg", "grad_avg"}),
                        ({"momentum": 0.9}, {"step", "square_avg", "momentum_buffer"})]:
        _, opt, p = run_steps("rmsprop", [[1.0, 1.0]], **hyper)
        assert set(opt.state[p]) == keys, hyper


def keras_rmsprop(w0, grads, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None):
    """Independent float64 transcription of Keras 3's RMSprop.update_step (keras/src/optimizers/rmsprop.py)
    and of its base optimizer's decoupled weight decay."""
    w = np.array(w0, dtype=np.float64)
    velocity, average_grad, velocity_momentum = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        if weight_decay:
            w = w - w * weight_decay * lr
        velocity = rho * velocity + (1 - rho) * np.square(g)
        if centered:
            average_grad = rho * average_grad + (1 - rho) * g
            denominator = velocity - np.square(average_grad) + epsilon
        else:
            denominator = velocity + epsilon
        increment = lr * g / np.sqrt(denominator)
        if momentum > 0:
            velocity_momentum = momentum * velocity_momentum + increment
            w = w - velocity_momentum
        else:
            w = w - increment
    return w


SPEC = Spec(
    name="rmsprop",
    defaults={"keras": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-7, "centered": False},
              "pytorch": {"lr": 0.01, "rho": 0.99, "momentum": 0.0, "eps": 1e-8, "centered": False},
              "paper": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "eps": 1e-8, "centered": False}},
    variants=({}, {"centered": True}, {"momentum": 0.9}, {"centered": True, "momentum": 0.5}),
    hand=(KERAS, KERAS_CENTERED_MOMENTUM, PYTORCH, PYTORCH_CENTERED_MOMENTUM, PAPER, PAPER_CENTERED, *SHORT),
    bad=(({"lr": -1.0}, "lr"), ({"lr": float("inf")}, "lr"), ({"rho": -0.1}, "rho"), ({"rho": 1.5}, "rho"),
         ({"eps": 0.0}, "eps"), ({"momentum": -0.1}, "momentum"), ({"centered": "yes"}, "centered"),
         ({"alpha": 0.9}, "alpha"), ({"convention": "caffe"}, "convention")),
    torch="RMSprop",
    torch_variants=({}, {"centered": True}, {"momentum": 0.9}, {"rho": 0.9, "eps": 1e-6},
                    {"centered": True, "momentum": 0.9, "weight_decay": 0.01}),
    torch_names={"rho": "alpha"},
    keras=tuple((keras_rmsprop, hyper, hyper) for hyper in (
        {"lr": 0.01}, {"lr": 0.01, "centered": True}, {"lr": 0.01, "momentum": 0.9},
        {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.05})),
    keras_class="RMSprop",
    quadratic=({"lr": 0.003}, 1e-4),
    rosenbrock=({"lr": 0.003}, 1e-2),
    overflow_state="square_avg",
    properties=(momentum_forms_differ_when_lr_changes, state_only_holds_what_is_used),
)
