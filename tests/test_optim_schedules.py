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
