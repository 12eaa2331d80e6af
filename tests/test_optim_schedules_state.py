"""Schedules' state: a round trip mid-way goes on identically, bad states change nothing, from_state_dict."""
import copy
import json

import numpy as np
import pytest

from minidl.optim import schedules
from test_optim_schedules_torch import CASES, momenta, ours_optimizer

MIDWAY, STEPS = 23, 60


def trace(sched, opt, kind, steps):
    out = []
    for _ in range(steps):
        sched.step()
        out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt, kind)))
    return out


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_mid_way_goes_on_identically(name, kind):
    build = CASES[name]
    opt_a = ours_optimizer(kind)
    a = build(schedules, opt_a)
    trace(a, opt_a, kind, MIDWAY)
    saved = json.loads(json.dumps(a.state_dict(), allow_nan=False))      # strict JSON
    opt_b = ours_optimizer(kind)
    b = build(schedules, opt_b)                                         # a fresh schedule, at step 0
    b.load_state_dict(copy.deepcopy(saved))
    assert b.get_last_lr() == a.get_last_lr()
    assert [g["lr"] for g in opt_b.param_groups] == [g["lr"] for g in opt_a.param_groups]
    assert momenta(opt_b, kind) == momenta(opt_a, kind)
    assert trace(b, opt_b, kind, STEPS - MIDWAY) == trace(a, opt_a, kind, STEPS - MIDWAY)
    assert b.state_dict() == a.state_dict()


REBUILDABLE = sorted(n for n in CASES if not any(f in n for f in ("Lambda", "Multiplicative", "scale_fn", "recursive", "lambda")))


@pytest.mark.parametrize("name", REBUILDABLE)
def test_from_state_dict_rebuilds_it_from_its_state_alone(name):
    opt_a = ours_optimizer("sgd")
    a = CASES[name](schedules, opt_a)
    trace(a, opt_a, "sgd", MIDWAY)
    opt_b = ours_optimizer("sgd")
    b = schedules.from_state_dict(opt_b, json.loads(json.dumps(a.state_dict())))
    assert type(b) is type(a)
    assert trace(b, opt_b, "sgd", STEPS - MIDWAY) == trace(a, opt_a, "sgd", STEPS - MIDWAY)


def test_from_state_dict_refuses_what_it_cannot_rebuild():
    lam = schedules.LambdaLR(ours_optimizer("sgd"), lambda t: 0.5 ** t)
    with pytest.raises(ValueError, match="LambdaLR cannot be rebuilt from its state alone"):
        schedules.from_state_dict(ours_optimizer("sgd"), lam.state_dict())
    with pytest.raises(ValueError, match="'Nope' is not a schedule's state"):
        schedules.from_state_dict(ours_optimizer("sgd"), {"scheduler": "Nope"})
    # a SequentialLR holding a LambdaLR says which
    opt = ours_optimizer("sgd")
    seq = schedules.SequentialLR(opt, [schedules.LambdaLR(opt, lambda t: 1.0), schedules.StepLR(opt, 2)], [3])
    with pytest.raises(ValueError, match="LambdaLR cannot be rebuilt"):
        schedules.from_state_dict(ours_optimizer("sgd"), seq.state_dict())


def corrupt(state, path, value):
    state = copy.deepcopy(state)
    target = state
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return state


BAD_STATES = [
    ("StepLR", ("scheduler",), "ExponentialLR", "the state is of a ExponentialLR"),
    ("StepLR", ("gamma",), KeyError, "lacks gamma"),
    ("StepLR", ("gamma",), -1.0, "Invalid gamma"),
    ("StepLR", ("step_size",), 2.5, "Invalid step_size"),
    ("StepLR", ("colour",), "blue", "unknown entries colour"),
    ("StepLR", ("last_epoch",), -3, "last_epoch"),
    ("StepLR", ("last_epoch",), True, "last_epoch"),
    ("StepLR", ("base_lrs",), [0.1], "1 base lrs for 2 param groups"),
    ("StepLR", ("base_lrs",), [0.1, float("nan")], "base_lrs"),
    ("StepLR", ("last_lr",), [0.1, -1.0], "last_lr"),
    ("CosineAnnealingWarmRestarts-T_mult", ("T_cur",), 99, "Invalid T_cur"),
    ("CosineAnnealingWarmRestarts-T_mult", ("T_i",), 0, "Invalid T_i"),
    ("OneCycleLR", ("anneal_strategy",), "cubic", "Invalid anneal_strategy"),
    ("OneCycleLR", ("last_momentum",), [0.9], "last_momentum"),
    ("SequentialLR-warmup-cosine", ("milestones",), [5, 7], "Invalid milestones"),
    ("SequentialLR-warmup-cosine", ("schedulers",), [{}], "holds 1 schedules' states for 2"),
    ("SequentialLR-warmup-cosine", ("schedulers", 1, "T_max"), 0, r"schedulers\[1\] \(CosineAnnealingLR\).*T_max"),
    ("ChainedScheduler-three", ("schedulers", 2, "power"), "square", r"schedulers\[2\] \(PolynomialLR\)"),
]


@pytest.mark.parametrize("name, path, value, message", BAD_STATES)
def test_a_bad_state_is_refused_and_changes_nothing(name, path, value, message):
    opt = ours_optimizer("sgd")
    sched = CASES[name](schedules, opt)
    trace(sched, opt, "sgd", 4)
    good = sched.state_dict()
    other_opt = ours_optimizer("sgd")
    target = CASES[name](schedules, other_opt)
    trace(target, other_opt, "sgd", 9)
    before = (target.state_dict(), copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                                                  for g in other_opt.param_groups]))
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(corrupt(good, path, value))
    assert (target.state_dict(), [{k: v for k, v in g.items() if k != "params"}
                                  for g in other_opt.param_groups]) == before
    target.load_state_dict(good)                 # the good state loads
    assert target.state_dict() == good


def test_a_state_that_is_not_a_dict_is_refused():
    sched = schedules.StepLR(ours_optimizer("sgd"), 2)
    with pytest.raises(ValueError, match="StepLR.load_state_dict: the state is a list, not a dict"):
        sched.load_state_dict([1, 2])


def test_a_state_saved_before_last_lr_was_saved_loads_with_the_closed_form():
    # minidl's StepLR state of old: no last_lr; at last_epoch 5, step 2, gamma 0.5: 0.1 * 0.5^2 = 0.025
    opt = ours_optimizer("sgd")
    sched = schedules.StepLR(opt, step_size=2, gamma=0.5)
    sched.load_state_dict({"scheduler": "StepLR", "last_epoch": 5, "base_lrs": [0.1, 0.03], "step_size": 2,
                           "gamma": 0.5})
    np.testing.assert_allclose(sched.get_last_lr(), [0.025, 0.0075], rtol=1e-12)
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]


def _fit(path, epochs, build, interval="epoch"):
    from minidl import optim
    from minidl.train import fit
    from test_train import stripes, tiny_model
    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return fit(model, opt, stripes(), stripes(40, seed=99), epochs=epochs, batch_size=32, schedule=build(opt),
               schedule_interval=interval, verbose=0, checkpoint_path=path, resume=True)


@pytest.mark.parametrize("build, interval", [
    (lambda o: schedules.SequentialLR(o, [schedules.LinearLR(o, 0.1, total_iters=2),
                                          schedules.CosineAnnealingLR(o, T_max=3)], milestones=[2]), "epoch"),
    (lambda o: schedules.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.999), "epoch"),
    (lambda o: schedules.OneCycleLR(o, max_lr=0.5, total_steps=16), "step"),
    (lambda o: schedules.ChainedScheduler([schedules.ExponentialLR(o, 0.9), schedules.StepLR(o, 2, 0.5)]), "epoch"),
    (lambda o: schedules.LambdaLR(o, lambda epoch: 1.0 / (1 + epoch)), "epoch"),
])
def test_fit_resumes_a_schedule_from_its_checkpoint(tmp_path, build, interval):
    # 2 epochs, then resumed to 4, against 4 in one go: the same lrs, epoch by epoch
    _fit(tmp_path / "ck.npz", 2, build, interval)
    resumed = _fit(tmp_path / "ck.npz", 4, build, interval)
    whole = _fit(tmp_path / "whole.npz", 4, build, interval)
    assert resumed.lr == whole.lr
    assert len(set(whole.lr)) > 1                # the schedule did change the lr
