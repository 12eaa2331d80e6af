"""Lookahead as a wrapper: around an optimizer already built, sharing its param groups (schedules) and
state, its state_dict, the inner optimizers it refuses, a row spec and explain.  Its hand-computed runs
and properties are the table's (tests/optim_cases/lookahead.py)."""
import copy

import numpy as np
import pytest

from minidl import optim
from minidl.lab.explain import explain
from minidl.lab.specs import parse_spec
from optim_testutil import parameter, problem, run_steps


def _steps(opt, params, grads):
    out = []
    for g in grads:
        for p in params:
            p.grad = g.copy()
        opt.step()
        out.append(params[0].data.copy())
    return out


def test_around_an_optimizer_already_built_it_shares_its_groups_and_state():
    w0, grads = problem(11, steps=7)
    p = parameter(w0)
    inner = optim.Adam([p], lr=0.01)
    opt = optim.Lookahead(inner, 3, 0.5)
    assert opt.inner is inner and opt.param_groups is inner.param_groups and opt.state is inner.state
    built = _steps(opt, [p], grads)
    by_name, _, _ = run_steps("lookahead", grads, w0=w0, inner="adam", inner_convention="keras", lr=0.01, k=3,
                              alpha=0.5)
    np.testing.assert_array_equal(np.array(built), np.array(by_name))
    assert set(inner.state[p]) == {"step", "exp_avg", "exp_avg_sq", "slow_weights", "lookahead_step"}


def test_an_inner_optimizer_that_has_stepped_starts_its_slow_weights_where_it_is():
    p = parameter([1.0, -2.0])
    inner = optim.SGD([p], lr=0.5)
    p.grad = p.data.copy()
    inner.step()                                            # w = [0.5, -1]
    opt = optim.Lookahead(inner, k=2, alpha=0.5)
    np.testing.assert_array_equal(opt.state[p]["slow_weights"], [0.5, -1.0])
    _steps(opt, [p], [p.data.copy(), np.array([0.25, -0.5])])   # theta: [0.25, -0.5], then [0.125, -0.25]
    np.testing.assert_array_equal(p.data, [0.3125, -0.625])     # phi = 0.5*[0.5, -1] + 0.5*[0.125, -0.25]


def test_a_schedule_on_the_lookahead_sets_the_lr_of_the_inner_rule():
    # StepLR halves the lr after every step: SGD's steps are 0.5*g, 0.25*g, 0.125*g; with k 1 and alpha 1
    # the weights are those of SGD under the same schedule
    p, q = parameter([1.0]), parameter([1.0])
    wrapped = optim.Lookahead([p], inner="sgd", lr=0.5, k=1, alpha=1.0)
    alone = optim.SGD([q], lr=0.5)
    schedules = [optim.schedules.StepLR(o, step_size=1, gamma=0.5) for o in (wrapped, alone)]
    for _ in range(3):
        for param, opt, schedule in ((p, wrapped, schedules[0]), (q, alone, schedules[1])):
            param.grad = np.array([1.0])
            opt.step()
            schedule.step()
    np.testing.assert_array_equal(p.data, [1.0 - 0.5 - 0.25 - 0.125])
    np.testing.assert_array_equal(p.data, q.data)
    assert wrapped.inner.param_groups[0]["lr"] == 0.0625


def test_weight_decay_and_clipping_are_applied_once_as_for_the_inner_optimizer_alone():
    w0, grads = problem(12, steps=6)
    for convention, hyper in (("keras", {"weight_decay": 0.1, "global_clipnorm": 1.0}),     # decoupled decay
                              ("pytorch", {"weight_decay": 0.1, "clipvalue": 0.5})):      # L2
        alone, _, _ = run_steps("adam", grads, w0=w0, lr=0.01, convention=convention, **hyper)
        wrapped, _, _ = run_steps("lookahead", grads, w0=w0, lr=0.01, k=1, alpha=1.0, inner_convention=convention,
                                  **hyper)
        np.testing.assert_array_equal(np.array(wrapped), np.array(alone), err_msg=convention)


def test_state_dict_holds_the_inner_optimizer_and_refuses_another():
    w0, grads = problem(13, steps=4)
    p = parameter(w0)
    opt = optim.Lookahead([p], inner="sgd", lr=0.1, momentum=0.9, k=3)
    _steps(opt, [p], grads)
    saved = copy.deepcopy(opt.state_dict())
    assert saved["inner"] == {"optimizer": "SGD", "convention": "paper"}
    assert saved["param_groups"][0]["lookahead_k"] == 3 and saved["param_groups"][0]["momentum"] == 0.9
    assert set(saved["state"][0]) == {"step", "momentum_buffer", "slow_weights", "lookahead_step"}
    twin = optim.Lookahead([parameter(w0)], inner="sgd", lr=0.1, momentum=0.9, k=3)
    twin.load_state_dict(saved)
    assert twin.inner.param_groups is twin.param_groups and twin.inner.state is twin.state
    other = optim.Lookahead([parameter(w0)], inner="sgd", inner_convention="pytorch", lr=0.1, momentum=0.9, k=3)
    with pytest.raises(ValueError, match=r"a Lookahead around \{'optimizer': 'SGD', 'convention': 'paper'\}"):
        other.load_state_dict(saved)
    saved["param_groups"][0]["lookahead_alpha"] = 2.0
    with pytest.raises(ValueError, match="Invalid alpha: 2.0"):
        twin.load_state_dict(saved)


def test_a_param_group_of_its_own_k():
    p, q = parameter([1.0]), parameter([1.0])
    opt = optim.Lookahead([p], inner="sgd", lr=0.5, k=2)
    opt.add_param_group({"params": [q], "lookahead_k": 1, "lr": 0.25})
    assert opt.inner.param_groups[1] is opt.param_groups[1] and opt.param_groups[1]["lookahead_alpha"] == 0.5
    for param in (p, q):
        param.grad = np.array([1.0])
    opt.step()
    np.testing.assert_array_equal([p.data[0], q.data[0]], [0.5, 0.875])   # q synchronised: 0.5*1 + 0.5*0.75
    with pytest.raises(ValueError, match="Invalid k: 0"):
        opt.add_param_group({"params": [parameter([2.0])], "lookahead_k": 0})
    assert len(opt.param_groups) == 2


def test_refused_inner_optimizers():
    p = parameter([1.0, 2.0])
    with pytest.raises(ValueError, match="LBFGS has a step"):
        optim.Lookahead(optim.LBFGS([p]))
    with pytest.raises(ValueError, match="ScheduleFreeAdamW has a step"):
        optim.Lookahead([p], inner="schedulefree_adamw")
    with pytest.raises(ValueError, match="a Lookahead"):
        optim.Lookahead(optim.Lookahead([p]))
    with pytest.raises(ValueError, match="already built; give its hyperparameters to it"):
        optim.Lookahead(optim.Adam([p]), lr=0.1)
    with pytest.raises(ValueError, match="Invalid inner"):
        optim.Lookahead([p], inner=dict)


def test_a_class_of_ones_own_inside():
    class HalfStep(optim.SGD):
        """SGD at half the lr."""

    p = parameter([1.0])
    opt = optim.Lookahead([p], inner=HalfStep, lr=0.5, k=2)
    assert type(opt.inner) is HalfStep and opt.defaults["inner"] == "HalfStep"


def test_a_row_spec_names_the_inner_optimizer_and_its_lr():
    # a row spec reaches Lookahead's own settings, lr and the common options (weight decay, clipping); the
    # inner optimizer's other hyperparameters (momentum, betas...) are not keys of a row spec yet
    spec = parse_spec("lookahead:inner=sgd,lr=0.1,k=2,alpha=0.5,weight_decay=0.01")
    opt = spec.create([parameter([1.0, -2.0])])
    assert type(opt.inner) is optim.SGD and opt.param_groups[0]["lr"] == 0.1
    assert opt.param_groups[0]["weight_decay"] == 0.01 and opt.param_groups[0]["lookahead_k"] == 2
    with pytest.raises(ValueError, match="Invalid inner: unknown optimizer 'nope'"):
        parse_spec("lookahead:inner=nope")


def test_explain_shows_the_fast_and_the_slow_weights():
    # SGD inside, lr 0.5, k 2, sphere from (1, -2): theta halves w; at t=2 phi = 0.5*w0 + 0.5*theta_2
    r = explain("lookahead:inner=sgd,lr=0.5,k=2", steps=2)
    assert r.max_step_difference == 0.0
    rows = {t: {s: v for s, _, v in r.steps[t]} for t in (0, 1)}
    np.testing.assert_array_equal(rows[0]["theta_t"], [0.5, -1.0])
    assert "phi_t" not in rows[0]
    np.testing.assert_array_equal(rows[1]["theta_t"], [0.25, -0.5])
    np.testing.assert_array_equal(rows[1]["phi_t"], [0.625, -1.25])
    np.testing.assert_array_equal(rows[1]["w_t"], [0.625, -1.25])
