"""SGD: gradient descent, heavy-ball and Nesterov momentum in the Keras/Sutskever and PyTorch forms;
Keras 3's SGD transcribed."""
import numpy as np

from optim_testutil import Hand, Spec, run_steps

# f(w) = 0.5*|w|^2, g = w, lr 0.1: w_t = w_{t-1} - 0.1*w_{t-1} = 0.9*w_{t-1}
# w0 = [1, -2] -> [0.9, -1.8] -> [0.81, -1.62] -> [0.729, -1.458]
PLAIN = [Hand("plain gradient descent", c, ((0.9, -1.8), (0.81, -1.62), (0.729, -1.458)), {"lr": 0.1})
         for c in ("keras", "pytorch", "paper")]

# g = w, lr 0.1, mu 0.9; v = mu*v - lr*g; w = w + v   (first component; the second is -2x)
# t=1: v = -0.1*1 = -0.1;                w = 0.9
# t=2: v = 0.9*(-0.1) - 0.1*0.9 = -0.18;  w = 0.72
# t=3: v = 0.9*(-0.18) - 0.1*0.72 = -0.162 - 0.072 = -0.234;  w = 0.486
KERAS_HEAVY_BALL = [Hand("keras heavy ball", c, ((0.9, -1.8), (0.72, -1.44), (0.486, -0.972)),
                         {"lr": 0.1, "momentum": 0.9}) for c in ("keras", "paper")]

# v = mu*v - lr*g; w = w + mu*v - lr*g   (g = w, lr 0.1, mu 0.9; first component)
# t=1: v = -0.1;                          w = 1 + 0.9*(-0.1) - 0.1 = 0.81
# t=2: v = -0.09 - 0.081 = -0.171;        w = 0.81 - 0.1539 - 0.081 = 0.5751
# t=3: v = -0.1539 - 0.05751 = -0.21141;  w = 0.5751 - 0.190269 - 0.05751 = 0.327321
KERAS_NESTEROV = [Hand("keras nesterov", c, ((0.81, -1.62), (0.5751, -1.1502), (0.327321, -0.654642)),
                       {"lr": 0.1, "momentum": 0.9, "nesterov": True}) for c in ("keras", "paper")]

# b_1 = g_1; b = mu*b + g; w = w - lr*b   (g = w, lr 0.1, mu 0.9; first component)
# t=1: b = 1;                    w = 1 - 0.1 = 0.9
# t=2: b = 0.9 + 0.9 = 1.8;      w = 0.9 - 0.18 = 0.72
# t=3: b = 1.62 + 0.72 = 2.34;   w = 0.72 - 0.234 = 0.486   (= Keras's with a constant lr)
PYTORCH_HEAVY_BALL = Hand("pytorch heavy ball", "pytorch", ((0.9, -1.8), (0.72, -1.44), (0.486, -0.972)),
                          {"lr": 0.1, "momentum": 0.9})

# w = w - lr*(g + mu*b)
# t=1: b = 1;                        w = 1 - 0.1*(1 + 0.9) = 0.81
# t=2: b = 0.9 + 0.81 = 1.71;        w = 0.81 - 0.1*(0.81 + 1.539) = 0.5751
# t=3: b = 1.539 + 0.5751 = 2.1141;  w = 0.5751 - 0.1*(0.5751 + 1.90269) = 0.327321
PYTORCH_NESTEROV = Hand("pytorch nesterov", "pytorch", ((0.81, -1.62), (0.5751, -1.1502), (0.327321, -0.654642)),
                        {"lr": 0.1, "momentum": 0.9, "nesterov": True})

# b_1 = g_1 (no dampening on the first step); b = 0.9*b + (1 - 0.5)*g; w = w - 0.1*b
# t=1: b = 1;                            w = 0.9
# t=2: b = 0.9 + 0.45 = 1.35;            w = 0.9 - 0.135 = 0.765
# t=3: b = 1.215 + 0.3825 = 1.5975;      w = 0.765 - 0.15975 = 0.60525
PYTORCH_DAMPENING = Hand("pytorch dampening", "pytorch", ((0.9, -1.8), (0.765, -1.53), (0.60525, -1.2105)),
                         {"lr": 0.1, "momentum": 0.9, "dampening": 0.5})

# Short, on paper: w0 = 1, g = 2 at both steps, lr 0.1, mu 0.5.
# keras (heavy ball): v = mu*v - lr*g
#   t=1: v = 0 - 0.2 = -0.2;              w = 1 - 0.2 = 0.8
#   t=2: v = 0.5*(-0.2) - 0.2 = -0.3;     w = 0.8 - 0.3 = 0.5
# paper (Nesterov, Sutskever's form): v as above, w = w + mu*v - lr*g
#   t=1: v = -0.2;  w = 1 + 0.5*(-0.2) - 0.2 = 0.7
#   t=2: v = -0.3;  w = 0.7 + 0.5*(-0.3) - 0.2 = 0.35
# pytorch (dampening d = 0.5): b_1 = g_1, then b = mu*b + (1 - d)*g; w = w - lr*b
#   t=1: b = 2;                           w = 1 - 0.1*2 = 0.8
#   t=2: b = 0.5*2 + 0.5*2 = 2;           w = 0.8 - 0.1*2 = 0.6
SHORT = [
    Hand("short", "keras", ((0.8,), (0.5,)), {"lr": 0.1, "momentum": 0.5}, grads=((2.0,), (2.0,)), w0=(1.0,),
         trace={1: {"v": [-0.2]}, 2: {"v": [-0.3]}}),
    Hand("short", "paper", ((0.7,), (0.35,)), {"lr": 0.1, "momentum": 0.5, "nesterov": True},
         grads=((2.0,), (2.0,)), w0=(1.0,), trace={1: {"v": [-0.2]}, 2: {"v": [-0.3]}}),
    Hand("short", "pytorch", ((0.8,), (0.6,)), {"lr": 0.1, "momentum": 0.5, "dampening": 0.5},
         grads=((2.0,), (2.0,)), w0=(1.0,), trace={1: {"b": [2.0]}, 2: {"b": [2.0]}},
         state={"step": 2, "momentum_buffer": [2.0]}),
]


def momentum_forms_differ_when_lr_changes():
    # fixed g = 1, w0 = 1, mu 0.9; lr 0.1 at step 1, 0.2 at step 2
    # keras:   v1 = -0.1, w1 = 0.9;  v2 = 0.9*(-0.1) - 0.2*1 = -0.29, w2 = 0.61
    # pytorch: b1 = 1,    w1 = 0.9;  b2 = 0.9*1 + 1 = 1.9,   w2 = 0.9 - 0.2*1.9 = 0.52
    for convention, expected in [("keras", 0.61), ("pytorch", 0.52)]:
        _, opt, p = run_steps("sgd", [[1.0]], w0=(1.0,), lr=0.1, momentum=0.9, convention=convention)
        opt.param_groups[0]["lr"] = 0.2
        p.grad = np.array([1.0])
        opt.step()
        np.testing.assert_allclose(p.data, [expected], rtol=1e-12)


def momentum_zero_is_plain_sgd():
    grads = [[0.5, -1.0], [2.0, 3.0], [-1.5, 0.25], [1.0, 1.0]]
    expected = np.array([1.0, -2.0]) - 0.05 * np.cumsum(np.array(grads), axis=0)   # w_t = w0 - 0.05 * sum g
    for convention in ("keras", "pytorch", "paper"):
        a, _, _ = run_steps("sgd", grads, lr=0.05, momentum=0.0, convention=convention)
        b, opt, p = run_steps("sgd", grads, lr=0.05, convention=convention)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, expected, rtol=1e-12)
        assert set(opt.state[p]) == {"step"}                       # no momentum buffer without momentum


def keras_sgd(w0, grads, lr=0.01, momentum=0.0, nesterov=False, weight_decay=None):
    """Independent float64 transcription of Keras 3's SGD.update_step (keras/src/optimizers/sgd.py) and of
    its base optimizer's decoupled weight decay (variable - variable * wd * lr, before the step)."""
    w = np.array(w0, dtype=np.float64)
    m = np.zeros_like(w)
    for g in grads:
        if weight_decay:
            w = w - w * weight_decay * lr
        if momentum != 0:
            m = m * momentum - g * lr
            w = w + (m * momentum - g * lr) if nesterov else w + m
        else:
            w = w - g * lr
    return w


SPEC = Spec(
    name="sgd",
    defaults={"keras": {"lr": 0.01, "momentum": 0.0, "nesterov": False},
              "pytorch": {"lr": 0.001, "momentum": 0.0, "nesterov": False, "dampening": 0.0},
              "paper": {"lr": 0.01, "momentum": 0.0, "nesterov": False}},
    variants=({}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "dampening": 0.3}),
    hand=(*PLAIN, *KERAS_HEAVY_BALL, *KERAS_NESTEROV, PYTORCH_HEAVY_BALL, PYTORCH_NESTEROV, PYTORCH_DAMPENING,
          *SHORT),
    bad=(({"lr": -0.1}, "lr"), ({"lr": float("nan")}, "lr"), ({"lr": float("inf")}, "lr"),
         ({"momentum": -0.5}, "momentum"), ({"nesterov": True}, "nesterov"), ({"nesterov": 1}, "nesterov"),
         ({"momentum": 0.9, "nesterov": True, "dampening": 0.1, "convention": "pytorch"}, "dampening"),
         ({"dampening": 1.5, "convention": "pytorch"}, "dampening"), ({"dampening": 0.1}, "dampening"),
         ({"convention": "tensorflow"}, "convention")),
    torch="SGD",
    torch_variants=({"lr": 0.01}, {"lr": 0.01, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.9, "nesterov": True},
                    {"lr": 0.01, "momentum": 0.9, "dampening": 0.3},
                    {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    keras=tuple((keras_sgd, hyper, hyper) for hyper in ({"lr": 0.01}, {"lr": 0.01, "momentum": 0.9},
                                                        {"lr": 0.01, "momentum": 0.9, "nesterov": True},
                                                        {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.05})),
    keras_class="SGD",
    quadratic=({"lr": 0.1}, 1e-10),
    rosenbrock=({"lr": 0.001, "momentum": 0.9}, 1e-6),
    overflow_state=None,
    properties=(momentum_forms_differ_when_lr_changes, momentum_zero_is_plain_sgd),
)
