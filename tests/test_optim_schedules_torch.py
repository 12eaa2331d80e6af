"""Every schedule equals torch.optim.lr_scheduler 2.13's at every one of 60 steps, chained ones included.

Each case is one function ``build(S, opt)`` called once with ``S = minidl.optim.schedules`` and
once with ``S = torch.optim.lr_scheduler``: the same names and arguments build both.  Two param
groups (lr 0.1 and 0.03); SGD with momentum and Adam, so that OneCycleLR and CyclicLR cycle the
momentum (SGD) and beta1 (Adam) too.  The lrs, the groups' lrs and the momenta are compared after
construction and after each step (they come out bitwise equal; the tolerance is 1e-12).
"""
import warnings

import numpy as np
import pytest

from minidl import optim
from minidl.optim import schedules
from minidl.tensor import Parameter

STEPS = 60

CASES = {
    "StepLR": lambda S, o: S.StepLR(o, step_size=3, gamma=0.5),
    "StepLR-default-gamma": lambda S, o: S.StepLR(o, 7),
    "MultiStepLR": lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 40], gamma=0.3),
    "MultiStepLR-at-0": lambda S, o: S.MultiStepLR(o, [0, 30]),
    "ConstantLR": lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=10),
    "ConstantLR-defaults": lambda S, o: S.ConstantLR(o),
    "LinearLR-up": lambda S, o: S.LinearLR(o, start_factor=0.05, end_factor=1.0, total_iters=20),
    "LinearLR-down": lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=30),
    "LinearLR-defaults": lambda S, o: S.LinearLR(o),
    "ExponentialLR": lambda S, o: S.ExponentialLR(o, gamma=0.93),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=40, power=0.9),
    "PolynomialLR-square": lambda S, o: S.PolynomialLR(o, total_iters=25, power=2.0),
    "PolynomialLR-defaults": lambda S, o: S.PolynomialLR(o),
    "CosineAnnealingLR-past-T_max": lambda S, o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    "CosineAnnealingLR-60": lambda S, o: S.CosineAnnealingLR(o, T_max=60),
    "CosineAnnealingLR-odd": lambda S, o: S.CosineAnnealingLR(o, 7),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=10),
    "CosineAnnealingWarmRestarts-T_mult": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2,
                                                                                      eta_min=0.001),
    "LambdaLR": lambda S, o: S.LambdaLR(o, lr_lambda=lambda t: 0.95 ** t),
    "LambdaLR-per-group": lambda S, o: S.LambdaLR(o, lr_lambda=[lambda t: 1 / (t + 1), lambda t: 0.9 ** t]),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lr_lambda=lambda t: 0.97),
    "OneCycleLR": lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=100),
    "OneCycleLR-three-phase-linear": lambda S, o: S.OneCycleLR(
        o, max_lr=[0.5, 0.2], epochs=7, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear",
        three_phase=True),
    "OneCycleLR-no-momentum": lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=80, cycle_momentum=False,
                                                        div_factor=10.0, final_div_factor=100.0),
    "OneCycleLR-to-the-end": lambda S, o: S.OneCycleLR(o, max_lr=0.3, total_steps=60, pct_start=0.2,
                                                       base_momentum=0.8, max_momentum=[0.9, 0.99]),
    "CyclicLR": lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7),
    "CyclicLR-triangular2": lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], step_size_up=5,
                                                    step_size_down=10, mode="triangular2"),
    "CyclicLR-exp_range": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.97),
    "CyclicLR-scale_fn": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=6, scale_fn=lambda x: 0.5 ** x,
                                                 scale_mode="iterations", cycle_momentum=False),
    "SequentialLR-warmup-cosine": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=55)], milestones=[5]),
    "SequentialLR-constant-exponential": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.1, total_iters=20), S.ExponentialLR(o, gamma=0.9)], milestones=[20]),
    "SequentialLR-three": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.2, total_iters=5), S.StepLR(o, 4, 0.7), S.CosineAnnealingWarmRestarts(o, T_0=8)],
        milestones=[5, 25]),
    "SequentialLR-recursive-ones": lambda S, o: S.SequentialLR(
        o, [S.ExponentialLR(o, 0.9), S.MultiplicativeLR(o, lambda t: 0.95), S.PolynomialLR(o, 20, 2.0)],
        milestones=[10, 30]),
    "SequentialLR-lambda-multistep": lambda S, o: S.SequentialLR(
        o, [S.LambdaLR(o, lambda t: (t + 1) / 10), S.MultiStepLR(o, [10, 20])], milestones=[10]),
    "ChainedScheduler-constant-exponential": lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=2), S.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler-warmup-cosine": lambda S, o: S.ChainedScheduler(
        [S.LinearLR(o, 0.1, total_iters=10), S.CosineAnnealingLR(o, T_max=50)]),
    "ChainedScheduler-three": lambda S, o: S.ChainedScheduler(
        [S.StepLR(o, 5, 0.5), S.MultiStepLR(o, [10, 30]), S.PolynomialLR(o, 60, 1.0)], optimizer=o),
    "ChainedScheduler-of-SequentialLR": lambda S, o: S.ChainedScheduler(
        [S.SequentialLR(o, [S.LinearLR(o, 0.5, total_iters=4), S.ExponentialLR(o, 0.95)], milestones=[4]),
         S.StepLR(o, 10, 0.5)]),
    "ChainedScheduler-restarts": lambda S, o: S.ChainedScheduler(
        [S.ExponentialLR(o, 0.99), S.CosineAnnealingWarmRestarts(o, 10, 2)]),
}


def ours_optimizer(kind):
    groups = [{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(3))], "lr": 0.03}]
    if kind == "sgd":
        return optim.SGD(groups, lr=0.1, momentum=0.9, convention="pytorch")
    return optim.Adam(groups, lr=0.1, convention="pytorch")


def torch_optimizer(torch, kind):
    groups = [{"params": [torch.zeros(2, requires_grad=True)]},
              {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.03}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1)


def momenta(opt, kind):
    if kind == "sgd":
        return [g["momentum"] for g in opt.param_groups]
    return [g["betas"][0] if "betas" in g else g["beta1"] for g in opt.param_groups]


def observed(sched, opt, kind):
    """What a step leaves: the schedule's last lrs, the groups' lrs, the groups' momenta."""
    return ([float(x) for x in sched.get_last_lr()] + [float(g["lr"]) for g in opt.param_groups]
            + [float(m) for m in momenta(opt, kind)])


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_equals_torch_at_every_step(torch, name, kind):
    build = CASES[name]
    opt, ref_opt = ours_optimizer(kind), torch_optimizer(torch, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # torch's notes on the order of step() calls
        ours, ref = build(schedules, opt), build(torch.optim.lr_scheduler, ref_opt)
        for step in range(STEPS + 1):
            np.testing.assert_allclose(observed(ours, opt, kind), observed(ref, ref_opt, kind), rtol=1e-12, atol=0,
                                       err_msg=f"{name} at step {step}")
            if step < STEPS:
                ref_opt.step()
                ref.step()
                ours.step()


def test_one_cycle_linear_holds_its_end_where_torch_goes_below_zero(torch):
    # the lr set by the step after the cycle's last (step total_steps): torch extends the line
    # below 0, minidl holds min_lr = max_lr / div_factor / final_div_factor = 0.5 / 25 / 1e4 = 2e-6
    build = CASES["OneCycleLR-three-phase-linear"]
    opt, ref_opt = ours_optimizer("sgd"), torch_optimizer(torch, "sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = build(schedules, opt), build(torch.optim.lr_scheduler, ref_opt)
        for _ in range(70):
            ref_opt.step()
            ref.step()
            ours.step()
    assert ref.get_last_lr()[0] < 0
    np.testing.assert_allclose(ours.get_last_lr(), [2e-6, 0.2 / 25 / 1e4], rtol=1e-9)


def test_every_schedule_of_torch_has_a_case():
    # the schedules torch 2.13 exports, each covered above (ReduceLROnPlateau: test_optim_schedules_plateau.py)
    covered = {name.split("-")[0] for name in CASES} | {"ReduceLROnPlateau"}
    torch_names = {"LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                   "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR",
                   "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR"}
    assert torch_names <= covered
    assert torch_names <= set(schedules.__all__)
