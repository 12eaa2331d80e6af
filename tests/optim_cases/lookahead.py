"""Lookahead (Zhang et al. 2019, Algorithm 1) around an inner optimizer: k fast steps, then the slow
weights move alpha of the way to the fast ones and the fast ones restart there.  No torch or Keras
counterpart: the values are worked out by hand.  The wrapper's own tests (an optimizer already built,
schedules, row specs, refused inner optimizers): tests/test_optim_lookahead.py."""
import numpy as np

from minidl import optim
from optim_testutil import Hand, Spec, parameter, problem, run_steps

# Two cycles by hand, SGD inside (its paper convention, no momentum), lr 0.5, k 2, alpha 0.5; w0 = [1, -2], g = w:
# each SGD step halves w: theta = w - 0.5*w = 0.5*w
# t=1: theta = [0.5, -1];  not a k-th step: w = theta
# t=2: theta = [0.25, -0.5];  phi = 0.5*[1, -2] + 0.5*[0.25, -0.5] = [0.625, -1.25];  w = phi
# t=3: theta = [0.3125, -0.625];  w = theta
# t=4: theta = [0.15625, -0.3125];  phi = 0.5*[0.625, -1.25] + 0.5*[0.15625, -0.3125] = [0.390625, -0.78125];  w = phi
# (SGD alone: w_4 = [0.0625, -0.125]; the slow weights pull back half of each cycle's way)
SGD_HYPER = {"inner": "sgd", "lr": 0.5, "k": 2, "alpha": 0.5}
SGD_EXPECTED = ((0.5, -1.0), (0.625, -1.25), (0.3125, -0.625), (0.390625, -0.78125))
SGD_TRACE = {1: {"theta": [0.5, -1.0]},
             2: {"theta": [0.25, -0.5], "phi": [0.625, -1.25], "w": [0.625, -1.25]},
             3: {"theta": [0.3125, -0.625], "w": [0.3125, -0.625]},
             4: {"theta": [0.15625, -0.3125], "phi": [0.390625, -0.78125], "w": [0.390625, -0.78125]}}

# Adam inside (paper convention, lr 0.01, betas 0.9/0.999, eps 1e-8), k 3, alpha 0.5, w0 = [1, -2], g = w
# (Decimal, 40 digits); Adam's moments carry on across the synchronisations:
# t=1..3: theta = [0.9900000001, -1.99000000005], [0.9800027460963699, -1.9800013380540017],
#         [0.97001009952904994, -1.97000491164251];  phi_3 = 0.5*w0 + 0.5*theta_3 = [0.98500504976452497, -1.985002455821255]
# t=4..6: theta = [0.97501234844216027, -1.9750060153578282], [0.96502414779407655, -1.9650117802609199],
#         [0.9550436863154559, -1.9550213085960349];  phi_6 = 0.5*phi_3 + 0.5*theta_6 = [0.97002436803999043, -1.970011882208645]
ADAM_HYPER = {"inner": "adam", "lr": 0.01, "k": 3, "alpha": 0.5}              # its paper convention (auto)
ADAM_EXPECTED = ((0.9900000001, -1.99000000005), (0.9800027460963699, -1.9800013380540017),
                 (0.98500504976452497, -1.985002455821255), (0.97501234844216027, -1.9750060153578282),
                 (0.96502414779407655, -1.9650117802609199), (0.97002436803999043, -1.970011882208645))
ADAM_TRACE = {3: {"theta": [0.97001009952904994, -1.97000491164251], "phi": [0.98500504976452497, -1.985002455821255]},
              6: {"theta": [0.9550436863154559, -1.9550213085960349], "phi": [0.97002436803999043, -1.970011882208645]}}

CASES = (
    Hand("short", "paper", SGD_EXPECTED, SGD_HYPER, trace=SGD_TRACE,
         state={"step": 4, "lookahead_step": 4, "slow_weights": [0.390625, -0.78125]}),
    Hand("adam inside, two cycles", "paper", ADAM_EXPECTED, ADAM_HYPER, trace=ADAM_TRACE,
         state={"step": 6, "lookahead_step": 6, "slow_weights": [0.97002436803999043, -1.970011882208645]}),
)


def with_k_1_and_alpha_1_it_is_its_inner_optimizer_bit_for_bit():
    w0, grads = problem(6, steps=12)
    for name, hyper in (("adam", {"lr": 0.01}), ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                        ("adabelief", {"amsgrad": True}), ("lars", {"weight_decay": 0.01}),
                        ("adopt", {}), ("rmsprop", {"centered": True, "weight_decay": 0.01})):
        alone, _, _ = run_steps(name, grads, w0=w0, convention="paper", **hyper)
        wrapped, _, _ = run_steps("lookahead", grads, w0=w0, inner=name, k=1, alpha=1.0, **hyper)   # paper inside
        np.testing.assert_array_equal(np.array(wrapped), np.array(alone), err_msg=name)


def between_synchronisations_it_is_its_inner_optimizer():
    # k = 4: steps 1 to 3 are the inner optimizer's exactly; step 4 lands on phi = (1 - alpha) w0 + alpha theta_4
    w0, grads = problem(7, steps=4)
    alone, _, _ = run_steps("adam", grads, w0=w0, convention="paper", lr=0.01)
    wrapped, _, _ = run_steps("lookahead", grads, w0=w0, k=4, alpha=0.8, lr=0.01)
    np.testing.assert_array_equal(np.array(wrapped[:3]), np.array(alone[:3]))
    np.testing.assert_allclose(wrapped[3], 0.2 * w0 + 0.8 * alone[3], rtol=1e-15)


def alpha_0_keeps_the_weights_at_w0_after_every_cycle():
    w0, grads = problem(8, steps=6)
    weights, _, _ = run_steps("lookahead", grads, w0=w0, k=3, alpha=0.0, inner="sgd", lr=0.1)
    np.testing.assert_array_equal(weights[2], w0)
    np.testing.assert_array_equal(weights[5], w0)
    assert not np.array_equal(weights[1], w0)


def the_inner_hyperparameters_by_name_or_with_inner_():
    p = parameter([1.0, -2.0])
    a = optim.create("lookahead", [p], inner="asgd", inner_alpha=0.5, alpha=0.8, lr=0.02)   # ASGD's alpha, Lookahead's
    group = a.param_groups[0]
    assert group["lookahead_alpha"] == 0.8 and group["alpha"] == 0.5 and group["lr"] == 0.02
    assert a.defaults["inner"] == "asgd" and a.inner.param_groups is a.param_groups
    b = optim.create("lookahead", [parameter([1.0])], inner="sgd", inner_lr=0.3, inner_momentum=0.5)
    assert b.param_groups[0]["lr"] == 0.3 and b.param_groups[0]["momentum"] == 0.5 and b.defaults["lr"] == 0.3
    # inner_convention "auto": the inner optimizer's paper convention, else its default (ASGD has pytorch only)
    assert b.defaults["inner_convention"] == "auto" and b.inner.convention == "paper"
    assert optim.Lookahead([parameter([1.0])], inner="asgd").inner.convention == "pytorch"
    assert optim.Lookahead([parameter([1.0])], inner="ftrl").inner.convention == "keras"


SPEC = Spec(
    name="lookahead",
    defaults={"paper": {"inner": "adam", "inner_convention": "auto", "k": 5, "alpha": 0.5, "lr": None}},
    variants=({}, {"inner": "sgd"}, {"k": 1, "alpha": 1.0}, {"inner": "adam", "inner_convention": "pytorch", "k": 2}),
    hand=CASES,
    bad=(({"k": 0}, "Invalid k"), ({"k": 2.5}, "Invalid k"), ({"k": True}, "Invalid k"),
         ({"alpha": 1.5}, "Invalid alpha"), ({"alpha": -0.1}, "Invalid alpha"), ({"alpha": float("nan")}, "alpha"),
         ({"inner": "nope"}, "Invalid inner: unknown optimizer 'nope'"), ({"inner": 3}, "Invalid inner"),
         ({"inner": "lbfgs"}, "LBFGS has a step"), ({"inner": "lookahead"}, "a Lookahead"),
         ({"lr": -1.0}, "Invalid lr"), ({"momentum": 0.9}, "momentum"),
         ({"inner": "sgd", "lr": 0.1, "inner_lr": 0.2}, "given twice"),
         ({"inner_convention": "tf"}, "convention 'tf'"), ({"convention": "keras"}, "convention 'keras'")),
    quadratic=({"lr": 0.1}, 1e-20),           # Adam inside: f = 4.7e-161 after 2000 steps
    rosenbrock=({"lr": 0.05}, 1e-9),          # f = 1.7e-12 after 3000 steps (Adam alone at lr 0.05: see adam.py)
    overflow_state="exp_avg_sq",
    properties=(with_k_1_and_alpha_1_it_is_its_inner_optimizer_bit_for_bit,
                between_synchronisations_it_is_its_inner_optimizer, alpha_0_keeps_the_weights_at_w0_after_every_cycle,
                the_inner_hyperparameters_by_name_or_with_inner_),
)
