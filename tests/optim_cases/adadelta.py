"""Adadelta: one rule (eps inside both roots) for every convention; the conventions differ in defaults;
Keras 3's Adadelta transcribed."""
import numpy as np

from optim_testutil import Hand, Spec, run_steps

CONST = ((1.0, -2.0),) * 3  # g = [1, -2] at every step; first component worked out below

# lr 0.001, rho 0.95, eps 1e-7; v = E[g^2], u = E[dx^2] start at 0
# t=1: v = 0.05;  dx = sqrt(0 + 1e-7)/sqrt(0.0500001) = 3.16228e-4/0.223607 = 1.414213e-3
#      u = 0.05*dx^2 = 1.0e-7;  w = 1 - 0.001*1.414213e-3 = 0.99999858579
# t=2: v = 0.0475 + 0.05 = 0.0975;  dx = sqrt(2.0e-7)/sqrt(0.0975001) = 4.47214e-4/0.31225 = 1.432228e-3
#      u = 9.5e-8 + 0.05*2.05128e-6 = 1.97564e-7;  w = 0.99999858579 - 1.432228e-6 = 0.99999715356
# t=3: v = 0.092625 + 0.05 = 0.142625;  dx = sqrt(2.97564e-7)/sqrt(0.1426251) = 5.45495e-4/0.377657 = 1.444419e-3
#      w = 0.99999715356 - 1.444419e-6 = 0.99999570914
# (second component, g = -2: the same with 4x the squares, dx nearly the same size, opposite sign)
KERAS = Hand("keras defaults", "keras", ((0.9999985857878518, -1.9999985857867912),
                                         (0.9999971535595543, -1.9999971535574057),
                                         (0.9999957091445284, -1.999995709141276)), grads=CONST)

# lr 1.0, rho 0.9, eps 1e-6
# t=1: v = 0.1;  dx = sqrt(1e-6)/sqrt(0.100001) = 1e-3/0.3162293 = 3.162262e-3;  u = 0.1*dx^2 = 0.99999e-6
#      w = 1 - 3.162262e-3 = 0.99683774
# t=2: v = 0.09 + 0.1 = 0.19;  dx = sqrt(1.99999e-6)/sqrt(0.190001) = 1.41421e-3/0.4358911 = 3.244412e-3
#      u = 0.9e-6 + 0.1*1.052621e-5 = 1.95261e-6;  w = 0.99683774 - 3.244412e-3 = 0.99359333
# t=3: v = 0.171 + 0.1 = 0.271;  dx = sqrt(2.95261e-6)/sqrt(0.271001) = 1.718316e-3/0.5205776 = 3.300789e-3
#      w = 0.99359333 - 3.300789e-3 = 0.99029254
PYTORCH = Hand("pytorch defaults", "pytorch", ((0.9968377381511013, -1.9968377262926713),
                                               (0.9935933263774006, -1.9935933020323082),
                                               (0.9902925376532413, -1.9902925004387857)), grads=CONST)

# Zeiler 2012: lr 1 (none in the paper), rho 0.95, eps 1e-6
# t=1: v = 0.05;  dx = 1e-3/sqrt(0.050001) = 1e-3/0.223609 = 4.472091e-3;  u = 0.05*2.0e-5 = 1.0e-6
#      w = 1 - 4.472091e-3 = 0.99552791
# t=2: v = 0.0975;  dx = sqrt(2.0e-6)/sqrt(0.097501) = 1.414214e-3/0.3122515 = 4.529062e-3
#      u = 0.95e-6 + 0.05*2.051240e-5 = 1.97562e-6;  w = 0.99552791 - 4.529062e-3 = 0.99099885
# t=3: v = 0.142625;  dx = sqrt(2.97562e-6)/sqrt(0.142626) = 1.724999e-3/0.3776586 = 4.567669e-3
#      w = 0.99099885 - 4.567669e-3 = 0.98643118
PAPER = Hand("paper defaults", "paper", ((0.9955279087656892, -1.9955278752252983),
                                         (0.9909988465001559, -1.9909987785566108),
                                         (0.98643124701773, -1.9864311441691227)), grads=CONST)

# Short, on paper: w0 = 1, g = 2 then 1, rho 0.75, eps 0.5625 = 0.75^2 (at t=1 the step is all eps).
# t=1: v = 0.25*2^2 = 1;  dx = sqrt(0 + 0.5625)/sqrt(1 + 0.5625)*2 = 0.75/1.25*2 = 1.2;  u = 0.25*1.2^2 = 0.36
# t=2: v = 0.75*1 + 0.25*1^2 = 1;  dx = sqrt(0.36 + 0.5625)/sqrt(1 + 0.5625)*1 = sqrt(0.9225)/1.25
#      = 0.8*sqrt(0.9225) = 0.76837491;  u = 0.75*0.36 + 0.25*0.64*0.9225 = 0.27 + 0.1476 = 0.4176
# keras (lr 0.1, Keras scales the paper's step):  w = 1 - 0.12 = 0.88, then 0.88 - 0.1*dx = 0.80316251
# pytorch and paper (lr 1):  w = 1 - 1.2 = -0.2, then -0.2 - dx = -0.96837491
SHORT_HYPER = {"rho": 0.75, "eps": 0.5625}
SHORT = [
    Hand("short", convention, ((1 - 1.2 * lr,), (1 - 1.2 * lr - lr * 0.8 * 0.9225 ** 0.5,)),
         {**SHORT_HYPER, "lr": lr}, grads=((2.0,), (1.0,)), w0=(1.0,),
         trace={1: {"v": [1.0], "dx": [1.2]}, 2: {"v": [1.0], "dx": [0.8 * 0.9225 ** 0.5]}},
         state={"step": 2, "square_avg": [1.0], "acc_delta": [0.4176]})
    for convention, lr in (("keras", 0.1), ("pytorch", 1.0), ("paper", 1.0))
]


def keras_with_paper_hyperparameters_is_the_paper():
    grads = [[0.3, -1.0], [0.5, 2.0], [-1.0, 0.1]]
    a, _, _ = run_steps("adadelta", grads, lr=1.0, eps=1e-6)
    b, _, _ = run_steps("adadelta", grads, convention="paper")
    np.testing.assert_array_equal(a, b)


def keras_adadelta(w0, grads, lr=0.001, rho=0.95, epsilon=1e-7, weight_decay=None):
    """Independent float64 transcription of Keras 3's Adadelta.update_step (keras/src/optimizers/adadelta.py)
    and of its base optimizer's decoupled weight decay."""
    w = np.array(w0, dtype=np.float64)
    accumulated_grad, accumulated_delta_var = np.zeros_like(w), np.zeros_like(w)

    def rms(x):
        return np.sqrt(x + epsilon)

    for g in grads:
        if weight_decay:
            w = w - w * weight_decay * lr
        accumulated_grad = rho * accumulated_grad + (1 - rho) * np.square(g)
        delta_var = -(rms(accumulated_delta_var) * g) / rms(accumulated_grad)
        accumulated_delta_var = rho * accumulated_delta_var + (1 - rho) * np.square(delta_var)
        w = w + lr * delta_var
    return w


SPEC = Spec(
    name="adadelta",
    defaults={"keras": {"lr": 0.001, "rho": 0.95, "eps": 1e-7}, "pytorch": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
              "paper": {"lr": 1.0, "rho": 0.95, "eps": 1e-6}},
    hand=(KERAS, PYTORCH, PAPER, *SHORT),
    bad=(({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"rho": -0.01}, "rho"), ({"rho": 1.01}, "rho"),
         ({"rho": float("nan")}, "rho"), ({"eps": 0.0}, "eps"), ({"eps": -1.0}, "eps"),
         ({"momentum": 0.9}, "momentum"), ({"convention": "zeiler"}, "convention")),
    torch="Adadelta",
    torch_variants=({}, {"rho": 0.5, "lr": 0.5}, {"weight_decay": 0.1, "eps": 1e-4}),
    keras=tuple((keras_adadelta, hyper, hyper) for hyper in ({"lr": 1.0}, {"lr": 1.0, "rho": 0.5},
                                                             {"lr": 0.5, "weight_decay": 0.05})),
    keras_class="Adadelta",
    quadratic=({"lr": 0.1, "rho": 0.9, "eps": 1e-5}, 1e-10),
    rosenbrock=({"lr": 0.1, "rho": 0.9, "eps": 1e-6}, 0.05),
    overflow_state="square_avg",
    properties=(keras_with_paper_hyperparameters_is_the_paper,),
)
