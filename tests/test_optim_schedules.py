"""Learning-rate schedules: hand-computed lrs, param groups, state_dict round trip, torch, bad input."""
import copy
import json
import math

import numpy as np
import pytest

from minidl import optim
from minidl.optim import schedules
from minidl.optim.schedules import CosineAnnealingLR, ExponentialLR, LinearWarmup, StepLR
from minidl.tensor import Parameter

RTOL = 1e-12


def make_opt(lr=0.1, groups=False):
    if groups:
        return optim.SGD([{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(3))], "lr": 1.0}],
                         lr=lr)
    return optim.SGD([Parameter(np.zeros(2))], lr=lr)


def lrs(sched, steps):
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_step_lr_by_hand():
    # 0.1 * 0.5^(t // 2), t = 0..5: 0.1, 0.1, 0.05, 0.05, 0.025, 0.025
    opt = make_opt()
    sched = StepLR(opt, step_size=2, gamma=0.5)
    np.testing.assert_allclose(lrs(sched, 5), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=RTOL)
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]


def test_exponential_lr_by_hand():
    # 0.1 * 0.9^t: 0.1, 0.09, 0.081, 0.0729
    np.testing.assert_allclose(lrs(ExponentialLR(make_opt(), gamma=0.9), 3), [0.1, 0.09, 0.081, 0.0729], rtol=RTOL)


def test_cosine_by_hand():
    # eta_min 0.01, T_max 4: 0.01 + 0.09*(1 + cos(pi*t/4))/2
    # t=0: 0.1;  t=1: 0.01 + 0.045*(1 + 0.70710678) = 0.08681980515;  t=2: 0.01 + 0.045 = 0.055
    # t=3: 0.01 + 0.045*(1 - 0.70710678) = 0.02318019485;  t=4: 0.01;  t=5: = t=3 (the cosine goes on)
    got = lrs(CosineAnnealingLR(make_opt(), T_max=4, eta_min=0.01), 5)
    np.testing.assert_allclose(got, [0.1, 0.0868198051533946, 0.055, 0.0231801948466054, 0.01,
                                     0.0231801948466054], rtol=RTOL)


def test_linear_warmup_by_hand():
    # 0.1 * (0.2 + 0.8 * min(t, 4)/4): 0.02, 0.04, 0.06, 0.08, 0.1, 0.1
    got = lrs(LinearWarmup(make_opt(), warmup_steps=4, start_factor=0.2), 5)
    np.testing.assert_allclose(got, [0.02, 0.04, 0.06, 0.08, 0.1, 0.1], rtol=RTOL)
    # default start factor 0.1: 0.01, then 0.1 * (0.1 + 0.9/2) = 0.055, then 0.1
    np.testing.assert_allclose(lrs(LinearWarmup(make_opt(), warmup_steps=2), 2), [0.01, 0.055, 0.1], rtol=RTOL)


def test_base_lr_per_param_group():
    opt = make_opt(groups=True)
    sched = ExponentialLR(opt, gamma=0.5)
    assert sched.base_lrs == [0.1, 1.0]
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.05, 0.5], rtol=RTOL)
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


def test_schedule_changes_the_update(float64):
    # SGD lr 0.1 then 0.05 (StepLR gamma 0.5 every step), g = 1: w = 1 - 0.1 - 0.05 = 0.85
    p = Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.1)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [0.85], rtol=RTOL)


@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, step_size=3, gamma=0.3), lambda o: ExponentialLR(o, gamma=0.95),
    lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.001), lambda o: LinearWarmup(o, warmup_steps=5),
])
def test_state_dict_round_trip(make):
    opt_a = make_opt(groups=True)
    a = make(opt_a)
    for _ in range(4):
        a.step()
    saved = json.loads(json.dumps(a.state_dict()))  # plain JSON-able values
    opt_b = make_opt(groups=True)
    b = make(opt_b)
    b.load_state_dict(copy.deepcopy(saved))
    assert b.get_last_lr() == a.get_last_lr()
    assert [g["lr"] for g in opt_b.param_groups] == [g["lr"] for g in opt_a.param_groups]
    for _ in range(6):
        a.step()
        b.step()
        assert b.get_last_lr() == a.get_last_lr()
    assert b.state_dict() == a.state_dict()


def test_load_state_dict_of_another_schedule_is_refused():
    saved = StepLR(make_opt(), step_size=2).state_dict()
    with pytest.raises(ValueError, match="StepLR"):
        ExponentialLR(make_opt(), gamma=0.9).load_state_dict(saved)
    with pytest.raises(ValueError, match="param groups"):
        StepLR(make_opt(groups=True), step_size=2).load_state_dict(saved)


@pytest.mark.parametrize("ours, theirs", [
    (lambda o: StepLR(o, step_size=3, gamma=0.3), "StepLR(o, step_size=3, gamma=0.3)"),
    (lambda o: ExponentialLR(o, gamma=0.95), "ExponentialLR(o, gamma=0.95)"),
    (lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.001), "CosineAnnealingLR(o, T_max=7, eta_min=0.001)"),
    (lambda o: LinearWarmup(o, warmup_steps=5, start_factor=0.1),
     "LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5)"),
])
def test_matches_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    sched = ours(make_opt(lr=0.1))
    o = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    ref = eval("torch.optim.lr_scheduler." + theirs, {"torch": torch, "o": o})
    for _ in range(12):
        np.testing.assert_allclose(sched.get_last_lr(), ref.get_last_lr(), rtol=1e-12)
        o.step()
        ref.step()
        sched.step()


@pytest.mark.parametrize("build, name", [
    (lambda o: StepLR(o, step_size=0), "step_size"), (lambda o: StepLR(o, step_size=1.5), "step_size"),
    (lambda o: StepLR(o, step_size=2, gamma=-0.1), "gamma"), (lambda o: ExponentialLR(o, gamma=0.0), "gamma"),
    (lambda o: ExponentialLR(o, gamma=float("nan")), "gamma"), (lambda o: CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: CosineAnnealingLR(o, T_max=5, eta_min=-1.0), "eta_min"),
    (lambda o: LinearWarmup(o, warmup_steps=0), "warmup_steps"),
    (lambda o: LinearWarmup(o, warmup_steps=3, start_factor=1.5), "start_factor"),
])
def test_bad_arguments(build, name):
    with pytest.raises(ValueError, match=name):
        build(make_opt())


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR([Parameter(np.zeros(2))], step_size=2)
    assert set(schedules.__all__) >= {"StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup"}
    assert math.isclose(CosineAnnealingLR(make_opt(), T_max=2).get_last_lr()[0], 0.1)


# ------------------------------------------------- the schedules of torch's, by hand
def momentum_opt(lr=0.1):
    return optim.SGD([Parameter(np.zeros(2))], lr=lr, momentum=0.9, convention="pytorch")


def test_multistep_constant_linear_polynomial_by_hand():
    S = schedules
    # milestones 2, 4, 4 (twice: gamma^2 there), gamma 0.5: 0.1, 0.1, 0.05, 0.05, 0.0125, 0.0125
    np.testing.assert_allclose(lrs(S.MultiStepLR(make_opt(), milestones=[4, 2, 4], gamma=0.5), 5),
                               [0.1, 0.1, 0.05, 0.05, 0.0125, 0.0125], rtol=RTOL)
    # factor 0.5 for 3 steps: 0.05, 0.05, 0.05, then 0.05 / 0.5 = 0.1
    np.testing.assert_allclose(lrs(S.ConstantLR(make_opt(), factor=0.5, total_iters=3), 4),
                               [0.05, 0.05, 0.05, 0.1, 0.1], rtol=RTOL)
    # 0.5 -> 1 in 2 steps: 0.05; 0.05 * (1 + 0.5 / (2 * 0.5)) = 0.075; 0.075 * (1 + 0.5 / (1 + 0.5)) = 0.1
    np.testing.assert_allclose(lrs(S.LinearLR(make_opt(), start_factor=0.5, total_iters=2), 3),
                               [0.05, 0.075, 0.1, 0.1], rtol=RTOL)
    # 0.1 * (1 - t/4)^2: 0.1, 0.05625, 0.025, 0.00625, 0, 0
    np.testing.assert_allclose(lrs(S.PolynomialLR(make_opt(), total_iters=4, power=2.0), 5),
                               [0.1, 0.05625, 0.025, 0.00625, 0.0, 0.0], rtol=RTOL, atol=1e-18)


def test_lambda_and_multiplicative_by_hand():
    # LambdaLR: 0.1 * 1/(t+1): 0.1, 0.05, 0.0333...;  MultiplicativeLR: 0.1, 0.1 * 0.5, 0.05 * 0.5
    np.testing.assert_allclose(lrs(schedules.LambdaLR(make_opt(), lambda t: 1 / (t + 1)), 2), [0.1, 0.05, 0.1 / 3],
                               rtol=RTOL)
    np.testing.assert_allclose(lrs(schedules.MultiplicativeLR(make_opt(), lambda t: 0.5), 2), [0.1, 0.05, 0.025],
                               rtol=RTOL)


def test_warm_restarts_by_hand():
    # T_0 2, T_mult 2: cycles of 2 then 4 steps; 0.1 * (1 + cos(pi * T_cur / T_i)) / 2
    # t: 0 (0/2) 0.1 | 1 (1/2) 0.05 | 2 restart (0/4) 0.1 | 3 (1/4) 0.0853553390593 | 4 (2/4) 0.05
    # 5 (3/4) 0.0146446609407 | 6 restart 0.1
    got = lrs(schedules.CosineAnnealingWarmRestarts(make_opt(), T_0=2, T_mult=2), 6)
    np.testing.assert_allclose(got, [0.1, 0.05, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1],
                               rtol=RTOL)


def test_one_cycle_by_hand_with_momentum():
    # max_lr 1, 4 steps, pct_start 0.5, linear: initial 1/4 = 0.25, min 0.25/2 = 0.125
    # phase 1 ends at step 0.5 * 4 - 1 = 1, phase 2 at 3: lr 0.25, 1.0, 1 + (0.125 - 1) * 0.5 = 0.5625, 0.125
    # momentum 0.9 -> 0.8 -> 0.9: 0.9, 0.8, 0.85, 0.9
    opt = momentum_opt()
    sched = schedules.OneCycleLR(opt, max_lr=1.0, total_steps=4, pct_start=0.5, anneal_strategy="linear",
                                 div_factor=4.0, final_div_factor=2.0, base_momentum=0.8, max_momentum=0.9)
    got, moms = [], []
    for step in range(4):
        got.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        if step < 3:
            sched.step()
    np.testing.assert_allclose(got, [0.25, 1.0, 0.5625, 0.125], rtol=RTOL)
    np.testing.assert_allclose(moms, [0.9, 0.8, 0.85, 0.9], rtol=RTOL)
    sched.step()                                 # step 4 = total_steps: allowed, as in torch
    with pytest.raises(ValueError, match="past total_steps 4"):
        sched.step()
    assert sched.last_epoch == 4                 # the refused step changed nothing


def test_cyclic_by_hand_and_beta1_cycled():
    # base 0.1, max 0.5, 2 up + 2 down: x = 0, .25, .5, .75, 0 -> heights 0, .5, 1, .5, 0
    np.testing.assert_allclose(lrs(schedules.CyclicLR(make_opt(), 0.1, 0.5, step_size_up=2, cycle_momentum=False),
                                   4), [0.1, 0.3, 0.5, 0.3, 0.1], rtol=RTOL)
    # Adam's beta1 goes 0.9 -> 0.8 at the top (torch's betas[0])
    opt = optim.Adam([Parameter(np.zeros(2))], lr=0.1)
    sched = schedules.CyclicLR(opt, 0.1, 0.5, step_size_up=2)
    sched.step()
    sched.step()
    assert opt.param_groups[0]["beta1"] == pytest.approx(0.8, rel=RTOL)


def test_warmup_then_cosine_is_two_lines_by_hand():
    # warm-up 0.05, 0.075; then the cosine restarts from the optimizer's lr 0.1: 0.1, 0.05, 0
    opt = make_opt()
    warmup = schedules.LinearLR(opt, start_factor=0.5, total_iters=2)
    sched = schedules.SequentialLR(opt, [warmup, schedules.CosineAnnealingLR(opt, T_max=2)], milestones=[2])
    np.testing.assert_allclose(lrs(sched, 4), [0.05, 0.075, 0.1, 0.05, 0.0], rtol=RTOL, atol=1e-18)


def test_chained_factors_multiply_by_hand():
    # ConstantLR 0.5 for 2 steps and ExponentialLR 0.5: 0.05 | 0.025 | 0.025 / 0.5 * 0.5 = 0.025 | 0.0125
    opt = make_opt()
    sched = schedules.ChainedScheduler([schedules.ConstantLR(opt, factor=0.5, total_iters=2),
                                        schedules.ExponentialLR(opt, gamma=0.5)])
    np.testing.assert_allclose(lrs(sched, 3), [0.05, 0.025, 0.025, 0.0125], rtol=RTOL)


def test_a_manual_lr_change_lasts_as_in_torch():
    # the rules are recursive: ExponentialLR multiplies what the group holds
    opt = make_opt()
    sched = ExponentialLR(opt, gamma=0.5)
    opt.param_groups[0]["lr"] = 1.0
    sched.step()
    assert sched.get_last_lr() == [0.5]


def test_base_lrs_are_the_lrs_before_the_first_schedule():
    # a schedule built after another one has changed the lr still starts from the optimizer's lr
    opt = make_opt()
    schedules.ConstantLR(opt, factor=0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert schedules.CosineAnnealingLR(opt, T_max=5).base_lrs == [0.1]


@pytest.mark.parametrize("build, message", [
    (lambda o: schedules.MultiStepLR(o, milestones=[]), "MultiStepLR: Invalid milestones"),
    (lambda o: schedules.MultiStepLR(o, milestones=[3, -1]), "MultiStepLR: Invalid milestones"),
    (lambda o: schedules.MultiStepLR(o, milestones=5), "MultiStepLR: Invalid milestones"),
    (lambda o: schedules.ConstantLR(o, factor=0.0), "ConstantLR: Invalid factor"),
    (lambda o: schedules.ConstantLR(o, factor=1.5), "ConstantLR: Invalid factor"),
    (lambda o: schedules.ConstantLR(o, total_iters=0), "ConstantLR: Invalid total_iters"),
    (lambda o: schedules.LinearLR(o, start_factor=0.0), "LinearLR: Invalid start_factor"),
    (lambda o: schedules.LinearLR(o, end_factor=1.2), "LinearLR: Invalid end_factor"),
    (lambda o: schedules.LinearLR(o, total_iters=-1), "LinearLR: Invalid total_iters"),
    (lambda o: schedules.PolynomialLR(o, total_iters=0), "PolynomialLR: Invalid total_iters"),
    (lambda o: schedules.PolynomialLR(o, power=-1.0), "PolynomialLR: Invalid power"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=0), "Invalid T_0"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1.5), "Invalid T_mult"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=-0.1), "Invalid eta_min"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0), "give total_steps, or epochs and steps_per_epoch"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=0), "Invalid total_steps"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=0), "Invalid steps_per_epoch"),
    (lambda o: schedules.OneCycleLR(o, max_lr=-1.0, total_steps=10), "Invalid max_lr"),
    (lambda o: schedules.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10), "Invalid max_lr"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), "Invalid pct_start"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=0.1), "phase 1 of the cycle 0 steps"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="cosine"),
     "Invalid anneal_strategy"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, div_factor=0), "Invalid div_factor"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, three_phase="yes"), "Invalid three_phase"),
    (lambda o: schedules.OneCycleLR(o, max_lr=1.0, total_steps=10, max_momentum=1.5), "Invalid max_momentum"),
    (lambda o: schedules.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), max_lr=1.0, total_steps=10),
     "cycle_momentum=True needs an optimizer with momentum or beta1"),
    (lambda o: schedules.CyclicLR(o, 0.1, 0.5, step_size_up=0, cycle_momentum=False), "Invalid step_size_up"),
    (lambda o: schedules.CyclicLR(o, 0.1, 0.5, mode="square", cycle_momentum=False), "Invalid mode"),
    (lambda o: schedules.CyclicLR(o, 0.1, 0.5, scale_mode="epoch", cycle_momentum=False), "Invalid scale_mode"),
    (lambda o: schedules.CyclicLR(o, -0.1, 0.5, cycle_momentum=False), "Invalid base_lr"),
    (lambda o: schedules.StepLR(o, 2, last_epoch=4), "last_epoch must be -1"),
    (lambda o: schedules.SequentialLR(o, [], milestones=[]), "schedulers must be a non-empty list"),
    (lambda o: schedules.SequentialLR(o, [schedules.StepLR(o, 2), schedules.StepLR(o, 3)], milestones=[]),
     "SequentialLR: Invalid milestones"),
    (lambda o: schedules.SequentialLR(o, [schedules.StepLR(o, 2), schedules.StepLR(o, 3), schedules.StepLR(o, 3)],
                                      milestones=[5, 5]), "increasing"),
    (lambda o: schedules.SequentialLR(o, [schedules.StepLR(o, 2), schedules.ReduceLROnPlateau(o)], milestones=[3]),
     r"schedulers\[1\] is a ReduceLROnPlateau"),
    (lambda o: schedules.SequentialLR(o, [schedules.StepLR(make_opt(), 2)], milestones=[]), "another optimizer"),
    (lambda o: schedules.SequentialLR(o, [schedules.ChainedScheduler([schedules.StepLR(o, 2)])], milestones=[]),
     "takes simple schedules"),
    (lambda o: schedules.ChainedScheduler([schedules.StepLR(o, 2), "StepLR"]), r"schedulers\[1\] must be a schedule"),
])
def test_bad_arguments_of_the_new_schedules(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build(make_opt())


def test_a_function_that_gives_a_bad_lr_is_refused_and_changes_nothing():
    opt = make_opt()
    sched = schedules.LambdaLR(opt, lambda t: 1.0 if t < 2 else -1.0)
    sched.step()
    with pytest.raises(ValueError, match="LambdaLR: the schedule gives param group 0 the lr -0.1 at step 2"):
        sched.step()
    assert sched.last_epoch == 1 and opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(TypeError, match=r"lr_lambda\[0\] must be callable"):
        schedules.LambdaLR(make_opt(), 0.5)
    with pytest.raises(ValueError, match="lr_lambda has 1 values for 2 param groups"):
        schedules.LambdaLR(make_opt(groups=True), [lambda t: 1.0])


def test_a_param_group_added_after_the_schedule_is_refused_at_its_step():
    opt = make_opt()
    sched = StepLR(opt, step_size=1)
    opt.add_param_group({"params": [Parameter(np.zeros(1))]})
    with pytest.raises(ValueError, match="the optimizer has 2 param groups, but the schedule was built for 1"):
        sched.step()
