"""Adam and AMSGrad: where the bias corrections and eps sit in each convention; Keras 3's Adam transcribed."""
import numpy as np

from minidl import optim
from optim_testutil import Hand, Spec, parameter, run_steps

# Hand-computed (Decimal arithmetic, 40 digits), w0 = [1, -2], g_t = w_{t-1}, default hyperparameters:
# lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7 (keras) / 1e-8 (pytorch, paper).
# t=1 (all): m = 0.1*g = [0.1, -0.2]; v = 0.001*g^2 = [0.001, 0.004]; 1-b1 = 0.1; 1-b2 = 0.001
#   keras:   alpha = 0.001*sqrt(0.001)/0.1 = 3.1622776601683794e-4;
#            delta = alpha*m/(sqrt(v)+1e-7) = [3.16227766e-5/(0.0316227766+1e-7), ...]
#                  = [9.9999683773233984e-4, -9.9999841886366987e-4]
#   pytorch: step_size = 0.001/0.1 = 0.01; denom = sqrt(v)/sqrt(0.001)+1e-8 = [1.00000001, 2.00000001];
#            delta = 0.01*[0.1, -0.2]/denom = [9.9999999e-4, -9.99999995e-4]
#   paper:   m_hat = [1, -2], v_hat = [1, 4]; delta = 0.001*m_hat/(sqrt(v_hat)+1e-8) = the same as pytorch
# t=2: 1-b1^2 = 0.19, 1-b2^2 = 0.001999
#   keras:   g = [0.99900000316226767, -1.9990000015811362]; m = [0.18990000031622675, -0.37990000015811365];
#            v = [0.0019970010063182107, 0.007992001006321383]; alpha = 0.001*sqrt(0.001999)/0.19
#            = 2.3531672532745428e-4; delta = [9.9997155856846416e-4, -9.9998581408514836e-4]
#   pytorch: g = [0.99900000001, -1.999000000005]; m = [0.189900000001, -0.3799000000005];
#            step_size = 0.001/0.19 = 5.263157894736842e-3; denom = [0.99949988494246089, 1.9994998223930582];
#            delta = [9.9997378616339407e-4, -9.9998692764079926e-4]
# t=3: 1-b1^3 = 0.271, 1-b2^3 = 0.002997001
#   keras:   m = [0.27071000344497403, -0.54171000171900741]; v = [0.0029910080683928772, 0.011976013068320199];
#            alpha = 2.0201059743896784e-4; delta = [9.9992832553372733e-4, -9.9996426388160959e-4]
#   pytorch: m = [0.27071000262328365, -0.54171000130818592]; step_size = 3.6900369003690036e-3;
#            denom = [0.99899968541149275, 1.9989995141128625]; delta = [9.9993014368912679e-4, -9.9996517258447363e-4]
HAND = {
    "keras": [[0.99900000316226767, -1.9990000015811362],
              [0.99800003160369921, -1.9980000157670512],
              [0.99700010327816546, -1.9970000515031696]],
    "pytorch": [[0.99900000001, -1.9990000000050001],
                [0.99800002622383666, -1.9980000130773592],
                [0.9970000960801475, -1.9970000479047747]],
    "paper": [[0.99900000001, -1.9990000000050001],
              [0.99800002622383666, -1.9980000130773592],
              [0.9970000960801475, -1.9970000479047747]],
}
# the quantities of the comment above, as the rule names them (delta is its step)
HAND_TRACE = {
    "keras": {1: {"m": [0.1, -0.2], "v": [0.001, 0.004], "bias1": 0.1, "bias2": 0.001,
                  "alpha": 3.1622776601683794e-4, "step": [9.9999683773233984e-4, -9.9999841886366987e-4]},
              2: {"m": [0.18990000031622675, -0.37990000015811365], "v": [0.0019970010063182107, 0.007992001006321383],
                  "bias1": 0.19, "bias2": 0.001999, "alpha": 2.3531672532745428e-4,
                  "step": [9.9997155856846416e-4, -9.9998581408514836e-4]},
              3: {"m": [0.27071000344497403, -0.54171000171900741], "v": [0.0029910080683928772, 0.011976013068320199],
                  "bias1": 0.271, "bias2": 0.002997001, "alpha": 2.0201059743896784e-4,
                  "step": [9.9992832553372733e-4, -9.9996426388160959e-4]}},
    "pytorch": {1: {"m": [0.1, -0.2], "v": [0.001, 0.004], "step_size": 0.01, "denom": [1.00000001, 2.00000001],
                    "step": [9.9999999e-4, -9.99999995e-4]},
                2: {"m": [0.189900000001, -0.3799000000005], "step_size": 5.263157894736842e-3,
                    "denom": [0.99949988494246089, 1.9994998223930582],
                    "step": [9.9997378616339407e-4, -9.9998692764079926e-4]},
                3: {"m": [0.27071000262328365, -0.54171000130818592], "step_size": 3.6900369003690036e-3,
                    "denom": [0.99899968541149275, 1.9989995141128625],
                    "step": [9.9993014368912679e-4, -9.9996517258447363e-4]}},
    "paper": {1: {"m": [0.1, -0.2], "v": [0.001, 0.004], "m_hat": [1.0, -2.0], "v_hat": [1.0, 4.0],
                  "step": [9.9999999e-4, -9.99999995e-4]}},
}

# AMSGrad, g_1 = [1, -2], g_2 = g_3 = [0, 0]: v_2 = 0.999*v_1 < v_1, so v_max_2 = v_1 = [0.001, 0.004].
# t=2: m = 0.9*[0.1, -0.2] = [0.09, -0.18]
#   keras:   alpha = 2.3531672532745428e-4; delta = alpha*0.09/(sqrt(0.001)+1e-7) = 6.6972102336645782e-4
#            (plain Adam divides by sqrt(0.000999)+1e-7 instead: 6.7005613417275226e-4)
#   pytorch: delta = 0.001/0.19*0.09/(sqrt(0.001)/sqrt(0.001999)+1e-8) = 6.6972313174134136e-4
# t=3: m = [0.081, -0.162]; keras delta = 2.0201059743896784e-4*0.081/(sqrt(0.001)+1e-7) = 5.1743737923213282e-4
#   pytorch: delta = 0.001/0.271*0.081/(sqrt(0.001)/sqrt(0.002997001)+1e-8) = 5.1743900655497202e-4
AMS_GRADS = ((1.0, -2.0), (0.0, 0.0), (0.0, 0.0))
AMS_HAND = {
    "keras": [[0.99900000316226767, -1.9990000015811362],
              [0.99833028213890118, -1.9983302794988496],
              [0.99781284475966903, -1.9978128413014784]],
    "pytorch": [[0.99900000001, -1.9990000000050001],
                [0.9983302768782587, -1.9983302768685243],
                [0.99781283787170372, -1.9978128378574902]],
    "paper": [[0.99900000001, -1.9990000000050001],
              [0.9983302768782587, -1.9983302768685243],
              [0.99781283787170372, -1.9978128378574902]],
}
AMS_TRACE = {1: {"v_max": [0.001, 0.004]}, 2: {"m": [0.09, -0.18], "v_max": [0.001, 0.004]},
             3: {"m": [0.081, -0.162], "v_max": [0.001, 0.004]}}
# plain Adam (keras) on the same gradients, to show amsgrad changes the result
AMS_PLAIN_KERAS_T2 = [0.99832994702809486, -1.9983299443869833]

# Short, on paper: w0 = 1, g = 2 then -2, lr 0.1, beta1 0.5, beta2 0.75, eps 1e-15 (it moves nothing
# before the 15th digit).
# t=1: m = 0.5*0 + 0.5*2 = 1;  v = 0.75*0 + 0.25*4 = 1;  bias1 = 1 - 0.5 = 0.5;  bias2 = 1 - 0.75 = 0.25
#   keras:   alpha = 0.1*sqrt(0.25)/0.5 = 0.1;  step = 0.1*1/(sqrt(1) + eps) = 0.1
#   pytorch: step_size = 0.1/0.5 = 0.2;  denom = sqrt(1)/sqrt(0.25) + eps = 2;  step = 0.2*1/2 = 0.1
#   paper:   m_hat = 1/0.5 = 2;  v_hat = 1/0.25 = 4;  step = 0.1*2/(sqrt(4) + eps) = 0.1
#   w = 1 - 0.1 = 0.9
# t=2: m = 0.5*1 + 0.5*(-2) = -0.5;  v = 0.75*1 + 0.25*4 = 1.75;  bias1 = 1 - 0.25 = 0.75;  bias2 = 1 - 0.5625 = 0.4375
#   keras:   alpha = 0.1*sqrt(0.4375)/0.75 = 0.08819171;  step = alpha*(-0.5)/sqrt(1.75)
#            = -(0.1/0.75)*0.5*sqrt(0.4375/1.75) = -(2/15)*0.5*0.5 = -1/30
#   pytorch: step_size = 0.1/0.75 = 2/15;  denom = sqrt(1.75)/sqrt(0.4375) = sqrt(4) = 2;
#            step = (2/15)*(-0.5)/2 = -1/30
#   paper:   m_hat = -0.5/0.75 = -2/3;  v_hat = 1.75/0.4375 = 4;  step = 0.1*(-2/3)/2 = -1/30
#   w = 0.9 + 1/30 = 0.93333333
SHORT_HYPER = {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-15}
SHORT_GRADS = ((2.0,), (-2.0,))
SHORT_EXPECTED = ((0.9,), (0.9 + 1 / 30,))
SHORT_MOMENTS = {1: {"m": [1.0], "v": [1.0], "bias1": 0.5, "bias2": 0.25, "step": [0.1]},
                 2: {"m": [-0.5], "v": [1.75], "bias1": 0.75, "bias2": 0.4375, "step": [-1 / 30]}}
SHORT_TRACE = {
    "keras": {1: {"alpha": 0.1}, 2: {"alpha": 0.1 * 0.4375 ** 0.5 / 0.75}},
    "pytorch": {1: {"step_size": 0.2, "denom": [2.0]}, 2: {"step_size": 2 / 15, "denom": [2.0]}},
    "paper": {1: {"m_hat": [2.0], "v_hat": [4.0]}, 2: {"m_hat": [-2 / 3], "v_hat": [4.0]}},
}
SHORT = [Hand("short", c, SHORT_EXPECTED, SHORT_HYPER, grads=SHORT_GRADS, w0=(1.0,),
              trace={t: {**SHORT_MOMENTS[t], **SHORT_TRACE[c][t]} for t in (1, 2)},
              state={"step": 2, "exp_avg": [-0.5], "exp_avg_sq": [1.75]})
         for c in ("keras", "pytorch", "paper")]

CASES = (
    *[Hand("defaults", c, tuple(map(tuple, HAND[c])), trace=HAND_TRACE[c]) for c in HAND],
    *[Hand("amsgrad", c, tuple(map(tuple, AMS_HAND[c])), {"amsgrad": True}, grads=AMS_GRADS, trace=AMS_TRACE)
      for c in AMS_HAND],
    Hand("plain on the amsgrad gradients", "keras", (tuple(HAND["keras"][0]), tuple(AMS_PLAIN_KERAS_T2)),
         grads=AMS_GRADS[:2]),
    *SHORT,
)


def first_step_moves_each_coordinate_by_about_lr():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(50)
    g = rng.choice([-1.0, 1.0], 50) * 10.0 ** rng.uniform(-2, 3, 50)     # |g| from 0.01 to 1000
    for convention in ("keras", "pytorch", "paper"):
        (w1,), _, _ = run_steps("adam", [g], w0=w0, convention=convention, lr=0.01)
        # m_hat_1 = g, v_hat_1 = g^2: |delta_1| = lr * |g| / (|g| + eps'), eps' = eps (pytorch, paper)
        # or 1e-7 / sqrt(0.001) = 3.2e-6 (keras): within 1e-3 relative of lr for |g| >= 0.01
        np.testing.assert_allclose(np.abs(w1 - w0), 0.01, rtol=1e-3)
        assert np.all(np.sign(w0 - w1) == np.sign(g))


def amsgrad_v_max_never_decreases():
    for convention in ("keras", "pytorch", "paper"):
        rng = np.random.default_rng(2)
        p = parameter(rng.standard_normal(20))
        opt = optim.Adam([p], convention=convention, amsgrad=True, lr=0.01)
        previous = np.zeros(20)
        saw_v_fall = False
        for t in range(60):
            p.grad = rng.standard_normal(20) * (3.0 if t % 10 == 0 else 0.1)  # bursts, then small gradients
            opt.step()
            state = opt.state[p]
            assert np.all(state["max_exp_avg_sq"] >= previous)
            assert np.all(state["max_exp_avg_sq"] >= state["exp_avg_sq"])
            saw_v_fall |= bool(np.any(state["exp_avg_sq"] < state["max_exp_avg_sq"]))
            previous = state["max_exp_avg_sq"].copy()
        assert saw_v_fall, convention


def keras_adam(w0, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None):
    """An independent float64 transcription of Keras 3's Adam.update_step (keras/src/optimizers/adam.py)
    and of its base optimizer's decoupled weight decay (variable - variable * wd * lr, before the step)."""
    w = np.array(w0, dtype=np.float64)
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for iterations, g in enumerate(grads):
        if weight_decay:
            w = w - w * weight_decay * lr
        local_step = iterations + 1
        alpha = lr * np.sqrt(1 - beta_2 ** local_step) / (1 - beta_1 ** local_step)
        m = m + (g - m) * (1 - beta_1)
        v = v + (np.square(g) - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
            v_used = v_hat
        else:
            v_used = v
        w = w - (m * alpha) / (np.sqrt(v_used) + epsilon)
    return w


SPEC = Spec(
    name="adam",
    defaults={c: {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7 if c == "keras" else 1e-8, "amsgrad": False}
              for c in ("keras", "pytorch", "paper")},
    variants=({}, {"amsgrad": True}),
    hand=CASES,
    bad=(({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.0}, "beta2"),
         ({"beta2": 1.5}, "beta2"), ({"beta2": float("nan")}, "beta2"), ({"eps": 0.0}, "eps"),
         ({"eps": -1e-8}, "eps"), ({"lr": -0.001}, "lr"), ({"lr": float("nan")}, "lr"),
         ({"lr": float("inf")}, "lr"), ({"amsgrad": "yes"}, "amsgrad"), ({"convention": "tf"}, "convention"),
         ({"momentum": 0.9}, "momentum"), ({"weight_decay": -1.0}, "weight_decay")),
    torch="Adam",
    torch_variants=tuple({"lr": 0.01, "amsgrad": a, "weight_decay": wd} for a in (False, True) for wd in (0.0, 0.05)),
    keras=tuple((keras_adam, {"lr": 0.01, "amsgrad": a, "weight_decay": wd},
                 {"lr": 0.01, "amsgrad": a, "weight_decay": wd}) for a in (False, True) for wd in (0.0, 0.05)),
    keras_class="Adam",
    quadratic=({"lr": 0.1}, 1e-10),
    rosenbrock=({"lr": 0.1}, 1e-6),
    overflow_state="exp_avg_sq",
    properties=(first_step_moves_each_coordinate_by_about_lr, amsgrad_v_max_never_decreases),
)
