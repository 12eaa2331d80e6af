"""ReduceLROnPlateau: hand-computed runs, torch parity on scripted metrics, a state round trip, fit."""
import copy
import json
import math
import warnings

import numpy as np
import pytest

from minidl import optim
from minidl.optim.schedules import ReduceLROnPlateau
from minidl.tensor import Parameter
from minidl.train import fit
from test_train import stripes, tiny_model


def make_opt(lr=1.0, groups=False):
    if groups:
        return optim.SGD([{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(3))], "lr": 0.03}],
                         lr=lr)
    return optim.SGD([Parameter(np.zeros(2))], lr=lr)


def lrs_after(sched, metrics):
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.get_last_lr()[0])
    return out


def test_patience_threshold_and_cooldown_by_hand():
    # threshold 0.1 rel: better means metric < best * 0.9; patience 1: the 2nd bad epoch in a row lowers
    # 1.0 best | 0.95 bad 1 | 0.95 bad 2 > 1: lr 0.5, cooldown 1 | 0.95 bad -> cooldown: 0, bad 0
    # 0.5 best | 0.5 bad 1 | 0.5 bad 2: lr 0.25, cooldown 1 | 0.5 in cooldown
    sched = ReduceLROnPlateau(make_opt(), factor=0.5, patience=1, threshold=0.1, cooldown=1)
    got = lrs_after(sched, [1.0, 0.95, 0.95, 0.95, 0.5, 0.5, 0.5, 0.5])
    assert got == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.best == 0.5 and sched.num_bad_epochs == 0 and sched.cooldown_counter == 0


def test_min_lr_and_eps_by_hand():
    # patience 0, factor 0.1 from 1e-3: 1e-4, then max(1e-5, 2e-5) = 2e-5, then max(2e-6, 2e-5): no change
    sched = ReduceLROnPlateau(make_opt(1e-3), factor=0.1, patience=0, min_lr=2e-5)
    assert lrs_after(sched, [1.0, 1.0, 1.0, 1.0]) == pytest.approx([1e-3, 1e-4, 2e-5, 2e-5], rel=1e-12)
    # a fall smaller than eps is not made: 1e-7 -> 5e-8 falls by 5e-8 < eps = 1e-7
    sched = ReduceLROnPlateau(make_opt(1e-7), factor=0.5, patience=0, eps=1e-7)
    assert lrs_after(sched, [1.0, 1.0, 1.0]) == [1e-7, 1e-7, 1e-7]


def test_max_mode_abs_threshold_by_hand():
    # better means metric > best + 0.05; 0.5 best, 0.54 bad 1 > patience 0: lr 0.1 * 0.5, 0.6 best
    sched = ReduceLROnPlateau(make_opt(0.1), mode="max", factor=0.5, patience=0, threshold=0.05,
                              threshold_mode="abs")
    assert lrs_after(sched, [0.5, 0.54, 0.6, 0.6]) == pytest.approx([0.1, 0.05, 0.05, 0.025], rel=1e-12)
    assert sched.best == 0.6


def test_nothing_changes_at_construction_and_nan_is_never_better():
    opt = make_opt(0.3)
    sched = ReduceLROnPlateau(opt, patience=1)
    assert opt.param_groups[0]["lr"] == 0.3 and sched.get_last_lr() == [0.3]
    assert sched.best == math.inf
    assert lrs_after(sched, [float("nan"), float("nan")]) == pytest.approx([0.3, 0.03])


def scripted(n=60):
    """A loss that falls at steps 3, 8, 20, 24 and 45 and stays on plateaus between (3 to 21 epochs
    long, with a bump every third epoch): the improvement, patience and cooldown paths all run."""
    levels = [sum(k >= b for b in (3, 8, 20, 24, 45)) for k in range(n)]
    return [1.0 / (1 + level) + 0.001 * (k % 3 == 1) for k, level in enumerate(levels)]


ARGUMENTS = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 3,
     "min_lr": [1e-3, 1e-4]},
    {"factor": 0.2, "patience": 0, "threshold": 0.0, "cooldown": 1, "min_lr": 0.01, "eps": 1e-3},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 3},
    {"patience": 1, "threshold": 0.3, "factor": 0.7},
]


@pytest.mark.parametrize("arguments", ARGUMENTS)
def test_equals_torch_on_a_scripted_metric(arguments):
    torch = pytest.importorskip("torch")
    opt = make_opt(0.1, groups=True)
    ref_opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)]},
                               {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.03}], lr=0.1)
    ours = ReduceLROnPlateau(opt, **arguments)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **arguments)
    metrics = scripted()
    if arguments.get("mode") == "max":
        metrics = [-m for m in metrics]
    reductions = 0
    for step, metric in enumerate(metrics):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_opt.step()
            ref.step(metric)
        before = ours.get_last_lr()
        ours.step(metric)
        reductions += ours.get_last_lr() != before
        assert ours.get_last_lr() == [float(x) for x in ref.get_last_lr()], f"step {step}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (ref.best, ref.num_bad_epochs,
                                                                           ref.cooldown_counter)
    assert reductions >= 2          # the sequence does reach a plateau


def test_state_round_trip_mid_way_goes_on_identically():
    metrics = scripted()
    a = ReduceLROnPlateau(make_opt(0.1, groups=True), factor=0.5, patience=2, cooldown=2, min_lr=[1e-3, 1e-4])
    lrs_after(a, metrics[:31])
    saved = json.loads(json.dumps(a.state_dict(), allow_nan=False))     # strict JSON
    opt_b = make_opt(0.1, groups=True)
    b = ReduceLROnPlateau(opt_b, factor=0.5, patience=2, cooldown=2, min_lr=[1e-3, 1e-4])
    b.load_state_dict(copy.deepcopy(saved))
    assert [g["lr"] for g in opt_b.param_groups] == a.get_last_lr()
    for m in metrics[31:]:
        a.step(m)
        b.step(m)
        assert b.get_last_lr() == a.get_last_lr()
    assert b.state_dict() == a.state_dict()
    # +inf before the first metric is saved as the string "inf" (strict JSON), and read back
    fresh = ReduceLROnPlateau(make_opt()).state_dict()
    assert fresh["best"] == "inf"
    c = ReduceLROnPlateau(make_opt())
    c.load_state_dict(json.loads(json.dumps(fresh, allow_nan=False)))
    assert c.best == math.inf


@pytest.mark.parametrize("arguments, name", [
    ({"mode": "lowest"}, "mode"), ({"factor": 1.0}, "factor"), ({"factor": -0.1}, "factor"),
    ({"patience": -1}, "patience"), ({"patience": 1.5}, "patience"), ({"threshold": -1e-3}, "threshold"),
    ({"threshold_mode": "relative"}, "threshold_mode"), ({"cooldown": -2}, "cooldown"),
    ({"min_lr": -1.0}, "min_lr"), ({"min_lr": [0.0, 0.0, 0.0]}, "min_lr"), ({"eps": float("nan")}, "eps"),
    ({"monitor": ""}, "monitor"), ({"monitor": 3}, "monitor"),
])
def test_bad_arguments(arguments, name):
    with pytest.raises(ValueError, match=f"ReduceLROnPlateau: Invalid {name}"):
        ReduceLROnPlateau(make_opt(groups=True), **arguments)


def test_a_metric_that_is_not_a_number_is_refused_and_changes_nothing():
    sched = ReduceLROnPlateau(make_opt(), patience=0)
    sched.step(1.0)
    before = sched.state_dict()
    with pytest.raises(TypeError, match="metrics must be a number"):
        sched.step("low")
    assert sched.state_dict() == before


# ------------------------------------------------------------------- fit
def fit_with(schedule_of, val=True, **kw):
    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = schedule_of(opt)
    hist = fit(model, opt, stripes(), stripes(40, seed=99) if val else None, epochs=4, batch_size=32,
               schedule=sched, verbose=0, **kw)
    return hist, sched


def test_fit_steps_it_with_the_validation_loss():
    # threshold 0.999 (rel): better means metric < best / 1000, so only the first epoch improves (on
    # best = inf); patience 0: each later epoch halves the lr.  History.lr: the lr each epoch trained with.
    hist, sched = fit_with(lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0, threshold=0.999))
    assert hist.lr == [0.1, 0.1, 0.05, 0.025]
    assert sched.best == hist.val_loss[0] and sched.last_epoch == 4
    # replayed by hand on the recorded validation losses, the same lrs
    replay = ReduceLROnPlateau(make_opt(0.1), factor=0.5, patience=1)
    fitted, _ = fit_with(lambda o: ReduceLROnPlateau(o, factor=0.5, patience=1))
    assert fitted.lr[1:] == lrs_after(replay, fitted.val_loss)[:-1]


def test_fit_steps_it_with_the_training_loss_when_asked():
    hist, sched = fit_with(lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0, threshold=0.999, monitor="loss"),
                           val=False)
    assert hist.lr == [0.1, 0.1, 0.05, 0.025]
    assert sched.best == hist.train_loss[0]


def test_fit_refuses_a_monitor_it_cannot_give_before_training():
    with pytest.raises(ValueError, match="monitors 'val_loss', but no val_data"):
        fit_with(lambda o: ReduceLROnPlateau(o), val=False)
    with pytest.raises(ValueError, match="schedule_interval must be 'epoch'"):
        fit_with(lambda o: ReduceLROnPlateau(o), schedule_interval="step")
