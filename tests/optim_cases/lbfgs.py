"""L-BFGS in the shared table: step() without a closure, one iteration on the gradients in .grad (the
two-loop recursion by hand, the history's ring).  Closures, the line search and torch parity are in
tests/test_optim_lbfgs.py."""
from optim_testutil import Hand, Spec

# Short, on paper: f = |w|^2/2, g_t = w_{t-1}, w0 = (1, -3), lr 1.
# t=1: the history is empty, H_diag = 1: q = -g = (-1, 3), r = q, d = r = (-1, 3);
#      step_size = lr * min(1, 1/(|1| + |-3|)) = 1/4;  gtd = g . d = -1 - 9 = -10 < 0;
#      step = (-1/4, 3/4);  w_1 = (3/4, -9/4)
# t=2: g = (3/4, -9/4);  y = g - g_1 = (-1/4, 3/4);  s = d_1 * 1/4 = (-1/4, 3/4);  ys = 1/16 + 9/16 = 5/8
#      rho = 8/5;  H_diag = ys/(y . y) = (5/8)/(5/8) = 1
#      loop 1: q = -g = (-3/4, 9/4); alpha = rho * s . q = 8/5 * (3/16 + 27/16) = 8/5 * 15/8 = 3;
#              q = q - 3 y = (-3/4 + 3/4, 9/4 - 9/4) = (0, 0)
#      r = H_diag * q = (0, 0);  loop 2: beta = rho * y . d = 0 (d = r = 0);  d = 0 + (3 - 0) * s = (-3/4, 9/4)
#      (= -g: on f = |w|^2/2 the pair (s, y = s) makes H the identity);  step_size = lr = 1;  gtd = -(9/16 + 81/16)
#      step = d;  w_2 = (0, 0), the minimum
# t=3: g = (0, 0): max |g| <= tolerance_grad 1e-7, no iteration: w_3 = (0, 0), n_iter stays 2
SHORT = Hand("short", "pytorch", ((0.75, -2.25), (0.0, 0.0), (0.0, 0.0)), {"lr": 1.0}, w0=(1.0, -3.0),
             trace={1: {"q": [-1.0, 3.0], "r": [-1.0, 3.0], "d": [-1.0, 3.0], "step_size": 0.25, "gtd": -10.0,
                        "step": [-0.25, 0.75]},
                    2: {"y": [-0.25, 0.75], "s": [-0.25, 0.75], "ys": 0.625, "rho": 1.6, "H_diag": 1.0, "alpha": [3.0],
                        "q": [0.0, 0.0], "r": [0.0, 0.0], "beta": [0.0], "d": [-0.75, 2.25], "step_size": 1.0,
                        "gtd": -5.625, "step": [-0.75, 2.25]}},
             state={"step": 3, "n_iter": 2, "func_evals": 3, "num_old": 1, "oldest": 0, "t": 1.0, "H_diag": 1.0,
                    "d": [-0.75, 2.25], "ro": [1.6] + [0.0] * 99})

# Decimal arithmetic (40 digits, the rule above with Decimal numbers), f = sum(w^4)/4 +
# |w|^2/2, g = w^3 + w, w0 = (1, -2), lr 1, history_size 2; each g_t below is the float64 number of the exact
# gradient at w_{t-1}, as the test feeds it.
# t=1: g = (2, -10), d = -g, step_size = 1/12, gtd = -104; w_1 = (0.8333333333333334, -1.1666666666666667)
# t=2: y = (-0.587962962962963, 7.24537037037037), s = d_1/12 = (-1/6, 5/6), ys = 6.135802469135802,
#      rho = 0.16297786720321933, H_diag = 0.11611800982739193, alpha = [0.41247484909456744],
#      beta = [-0.019058731165864262], d = (-0.20772426179157072, 0.33245091720072667), step_size = 1
# t=3: two pairs, alpha = [-0.013755714189274472, 1.1670719312379167] (oldest first),
#      beta = [-0.009241479044338027, 0.022526717933391355], d = (-0.30284711563511124, 0.3635733075923086)
# t=4: the history is full: the pair of t=2 goes, the ring's slot 0 takes the new one (oldest = 1);
#      ys = 0.46104073872009776, rho = 2.169005721221329, H_diag = 0.4754689249388101,
#      alpha = [-0.0003694686757362199, 0.6874570493659092], q = (-0.003179064526308033, -0.0019863648970364824)
#      (the first loop cancels 2 of q's digits), d = (-0.2096967772409909, 0.24902142731635055)
QUARTIC_GRADS = ((2.0, -10.0), (1.412037037037037, -2.7546296296296298), (0.8704641480459799, -1.4147597674452526),
                 (0.3563857730948934, -0.574891770319944))
QUARTIC = Hand(
    "quartic, the history full at t=4", "pytorch",
    ((0.8333333333333334, -1.1666666666666667), (0.6256090715417626, -0.83421574946594),
     (0.32276195590665135, -0.4706424418736314), (0.11306517866566046, -0.22162101455728084)),
    {"history_size": 2}, grads=QUARTIC_GRADS,
    trace={1: {"step_size": 1 / 12, "gtd": -104.0, "step": [-0.16666666666666666, 0.8333333333333334]},
           2: {"y": [-0.587962962962963, 7.24537037037037], "s": [-0.16666666666666666, 0.8333333333333334],
               "ys": 6.135802469135802, "rho": 0.16297786720321933, "H_diag": 0.11611800982739193,
               "alpha": [0.41247484909456744], "q": [-1.169517102615694, -0.2339034205231388],
               "r": [-0.1358019984148321, -0.02716039968296642], "beta": [-0.019058731165864262],
               "d": [-0.20772426179157072, 0.33245091720072667], "gtd": -1.2090934980595436},
           3: {"ys": 0.557938793184803, "H_diag": 0.26714138560771705,
               "alpha": [-0.013755714189274472, 1.1670719312379167],
               "beta": [-0.009241479044338027, 0.022526717933391355],
               "d": [-0.30284711563511124, 0.3635733075923086], "gtd": -0.7779864445980953},
           4: {"ys": 0.46104073872009776, "rho": 2.169005721221329, "H_diag": 0.4754689249388101,
               "alpha": [-0.0003694686757362199, 0.6874570493659092],
               "q": [-0.003179064526308033, -0.0019863648970364824],
               "r": [-0.001511546392634788, -0.0009444547821301266],
               "beta": [-0.0008008655385266132, 0.00032612253806346984],
               "d": [-0.2096967772409909, 0.24902142731635055], "step": [-0.2096967772409909, 0.24902142731635055]}},
    state={"n_iter": 4, "num_old": 2, "oldest": 1, "ro": [2.169005721221329, 1.792311293308432],
           "H_diag": 0.4754689249388101, "t": 1.0, "prev_flat_grad": [0.3563857730948934, -0.574891770319944]},
    rtol=1e-11)

SPEC = Spec(
    name="lbfgs",
    defaults={"pytorch": {"lr": 1.0, "max_iter": 20, "max_eval": None, "tolerance_grad": 1e-7,
                          "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}},
    variants=({}, {"history_size": 2}),          # history_size 2: the ring wraps in the resume test's 10 steps
    hand=(SHORT, QUARTIC),
    bad=(({"lr": -1.0}, "lr"), ({"max_iter": 0}, "max_iter"), ({"max_iter": 2.5}, "max_iter"),
         ({"max_eval": 0}, "max_eval"), ({"max_eval": True}, "max_eval"), ({"tolerance_grad": -1e-7}, "tolerance_grad"),
         ({"tolerance_change": float("nan")}, "tolerance_change"), ({"history_size": 0}, "history_size"),
         ({"line_search_fn": "backtracking"}, "line_search_fn"), ({"convention": "keras"}, "convention"),
         ({"momentum": 0.9}, "momentum"), ({"weight_decay": -1.0}, "weight_decay")),
    # torch's LBFGS needs a closure, which the shared parity test does not give: no runs here; its parity
    # (with and without the line search, and step() without a closure against max_iter=1) is in
    # tests/test_optim_lbfgs.py
    torch="LBFGS",
    torch_variants=(),
    # each stops where max |g| <= tolerance_grad = 1e-7, f about 1e-12 (2.9e-12 and 3.2e-12 measured)
    quadratic=({}, 1e-10),
    rosenbrock=({}, 1e-10),
    overflow_state=None,
)
