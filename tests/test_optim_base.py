"""The optimizer base, what every optimizer shares: creation by name, bad input, the frameworks'
spellings of hyperparameters, param groups, lr changes, step(closure), the checks of every
gradient, state_dict and the all-or-nothing load_state_dict, clipping, weight decay."""
import copy

import numpy as np
import pytest

from minidl import backend as B
from minidl import optim
from minidl.optim import SGD, Adagrad, Adam, RMSprop
from minidl.optim.optimizer import COMMON_DEFAULTS, default_hyperparameters
from minidl.tensor import is_grad_enabled, no_grad
from optim_cases import TABLE
from optim_testutil import DEFAULT_SHAPES, host, parameter

RTOL = 1e-12
NAMES = optim.available()


def make_params(seed=0, dtype=np.float64, shapes=DEFAULT_SHAPES):
    rng = np.random.default_rng(seed)
    weight, second = shapes
    return [parameter(rng.standard_normal(weight), dtype, "layer.weight"),
            parameter(rng.standard_normal(second), dtype, "layer.bias" if len(second) == 1 else "layer2.weight")]


def feed(params, seed):
    rng = np.random.default_rng(1000 + seed)
    for p in params:
        p.grad = B.asarray(rng.standard_normal(p.shape)).astype(p.dtype)


def snapshot(opt, params):
    """Everything an optimizer may change: weights, hyperparameters of every group, state."""
    weights = [B.to_numpy(p.data).copy() for p in params]
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    state = {i: {k: copy.deepcopy(host(v)) for k, v in opt.state[p].items()} for i, p in enumerate(params)
             if p in opt.state}
    return weights, groups, state


def assert_same(a, b):
    (wa, ga, sa), (wb, gb, sb) = a, b
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert ga == gb
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            np.testing.assert_array_equal(sa[i][k], sb[i][k], err_msg=k)


# ------------------------------------------------------------------ creation and bad input
def test_create_by_name():
    opt = optim.create("SGD", make_params(), lr=0.5, momentum=0.9)
    assert isinstance(opt, SGD) and opt.defaults["lr"] == 0.5
    with pytest.raises(ValueError, match="'adamm'.*available"):
        optim.create("adamm", make_params())


@pytest.mark.parametrize("name", NAMES)
def test_bad_common_input(name):
    cls = optim.REGISTRY[name]
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match="convention.*'tf'"):
        cls(make_params(), convention="tf")
    for bad in (-0.1, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ValueError, match=r"Invalid lr: .*finite number >= 0"):
            cls(make_params(), lr=bad)
    with pytest.raises(ValueError, match="Invalid weight_decay: -1"):
        cls(make_params(), weight_decay=-1.0)
    for option in ("clipnorm", "global_clipnorm", "clipvalue"):
        with pytest.raises(ValueError, match=f"Invalid {option}: 0"):
            cls(make_params(), **{option: 0.0})
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['learning_rat'\]"):
        cls(make_params(), learning_rat=0.1)
    with pytest.raises(TypeError, match="Parameters"):
        cls([np.zeros(3)])


def test_bad_param_groups():
    a, b = make_params()
    with pytest.raises(ValueError, match="a parameter appears twice"):
        SGD([{"params": [a]}, {"params": [a, b]}])
    with pytest.raises(ValueError, match="a parameter appears twice"):
        SGD([a, a])
    with pytest.raises(ValueError, match="Invalid lr: -1"):
        SGD([{"params": [a]}, {"params": [b], "lr": -1.0}])
    with pytest.raises(ValueError, match="'betas' is the pytorch convention's name"):
        SGD([{"params": [a], "betas": (0.9, 0.99)}])
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([{"params": []}])
    with pytest.raises(TypeError, match="param group"):
        SGD([{"params": [a]}]).add_param_group([b])


def test_own_defaults_win_over_common_defaults():
    # COMMON_DEFAULTS has weight_decay 0.0; an optimizer's own default (AdamW's) wins, its names come first
    for name in NAMES:
        cls = optim.REGISTRY[name]
        for convention in cls.DEFAULTS:
            d = default_hyperparameters(cls, convention)
            assert d == {**COMMON_DEFAULTS, **cls.DEFAULTS[convention]}
            assert list(d)[:len(cls.DEFAULTS[convention])] == list(cls.DEFAULTS[convention])
            # the parameters the optimizer takes under the convention (Muon's pytorch one: 2-D only)
            params = make_params(shapes=TABLE[name].shapes_for(convention))
            assert cls(params, convention=convention).defaults == d
    assert optim.AdamW(make_params()).defaults["weight_decay"] == 0.004


# ------------------------------------------------------------------ the frameworks' spellings
KERAS_NAMES = {"learning_rate": "lr", "beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps"}


def spellings():
    """(name, convention, framework, their keywords, ours) for every spelling that names a
    hyperparameter the optimizer has under that convention."""
    for name in NAMES:
        cls = optim.REGISTRY[name]
        for convention in cls.DEFAULTS:
            own = default_hyperparameters(cls, convention)
            for theirs, ours in KERAS_NAMES.items():
                if ours in own:
                    yield name, convention, "keras", {theirs: 0.5}, {ours: 0.5}
            if "beta1" in own and "beta2" in own:
                yield name, convention, "pytorch", {"betas": (0.5, 0.75)}, {"beta1": 0.5, "beta2": 0.75}
            if name == "rmsprop":
                yield name, convention, "pytorch", {"alpha": 0.5}, {"rho": 0.5}


SPELLINGS = list(spellings())


@pytest.mark.parametrize("name", NAMES)
def test_a_frameworks_spelling_is_accepted_under_its_convention_and_refused_under_another(name):
    cases = [s for s in SPELLINGS if s[0] == name]
    accepted = [s for s in cases if s[1] == s[2]]
    refused = [s for s in cases if s[1] != s[2]]
    # an optimizer with one convention has no other under which a spelling of its own would be refused
    assert refused or len(optim.REGISTRY[name].DEFAULTS) == 1
    assert "keras" not in optim.REGISTRY[name].DEFAULTS or any(s[2] == "keras" for s in accepted)
    for _, convention, _, theirs, ours in accepted:
        opt = optim.create(name, make_params(), convention=convention, **theirs)
        assert {k: opt.defaults[k] for k in ours} == ours and not set(theirs) & set(opt.defaults), theirs
        group = optim.create(name, [{"params": make_params(), **theirs}], convention=convention).param_groups[0]
        assert {k: group[k] for k in ours} == ours, theirs
    for _, convention, framework, theirs, ours in refused:
        (key,) = theirs
        write = ", ".join(f"{k}=..." for k in ours)
        with pytest.raises(ValueError, match=rf"{key!r} is the {framework} convention's name; under the "
                                             rf"{convention} convention write {write}"):
            optim.create(name, make_params(), convention=convention, **theirs)


def test_the_frameworks_spellings_cover_keras_names_pytorch_betas_and_rmsprops_alpha():
    covered = {(name, convention, next(iter(theirs))) for name, convention, _, theirs, _ in SPELLINGS}
    assert {("adam", "keras", "learning_rate"), ("adam", "keras", "beta_1"), ("adam", "keras", "beta_2"),
            ("adam", "keras", "epsilon"), ("adam", "pytorch", "betas"), ("adam", "paper", "betas"),
            ("adam", "pytorch", "learning_rate"), ("rmsprop", "pytorch", "alpha"), ("rmsprop", "keras", "alpha"),
            ("rprop", "pytorch", "learning_rate")} <= covered


def test_betas_must_be_a_pair():
    with pytest.raises(ValueError, match=r"Invalid betas: 0.9 \(expected 2 numbers\)"):
        Adam(make_params(), convention="pytorch", betas=0.9)
    with pytest.raises(ValueError, match="Invalid betas"):
        Adam(make_params(), convention="pytorch", betas=(0.9, 0.99, 0.5))


def test_one_hyperparameter_under_two_spellings_is_refused():
    with pytest.raises(ValueError, match=r"Adam: lr is given twice \(as 'lr' and as 'learning_rate'\); give it once"):
        Adam(make_params(), lr=0.1, learning_rate=0.2)
    with pytest.raises(ValueError, match=r"beta1 is given twice \(as 'beta1' and as 'betas'\)"):
        Adam(make_params(), convention="pytorch", beta1=0.1, betas=(0.5, 0.6))
    with pytest.raises(ValueError, match=r"SGD: lr is given twice"):
        SGD([{"params": make_params(), "lr": 0.1, "learning_rate": 0.2}])


def test_a_foreign_spelling_of_a_hyperparameter_this_convention_lacks_says_so():
    # Adamax has no eps under the paper convention: the message must not advise eps=..., refused in turn
    with pytest.raises(ValueError, match=r"Adamax: 'epsilon' is the keras convention's name for eps, which the "
                                         r"paper convention does not have \(accepted: beta1, beta2, .*lr"):
        optim.Adamax(make_params(), convention="paper", epsilon=1e-8)


# ------------------------------------------------------------------ groups and lr changes
def test_param_groups_use_their_own_hyperparameters():
    # group 0: lr 0.1 (the default given), group 1: lr 1.0 and momentum 0.5; g = 1
    a, b = parameter([1.0]), parameter([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0, "momentum": 0.5}], lr=0.1)
    for _ in range(2):
        a.grad, b.grad = np.array([1.0]), np.array([1.0])
        opt.step()
    # a: 1 - 0.1 - 0.1 = 0.8;  b (Keras momentum): v = -1, w = 0;  v = -0.5 - 1 = -1.5, w = -1.5
    np.testing.assert_allclose(a.data, [0.8], rtol=RTOL)
    np.testing.assert_allclose(b.data, [-1.5], rtol=RTOL)
    opt.add_param_group({"params": [parameter([0.0])], "lr": 0.3})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0, 0.3]


def test_lr_change_between_steps_takes_effect():
    # Adagrad keras, a_0 = 0.1, eps 1e-7, g = 1:  lr 0.1 then 0.2
    # w1 = 1 - 0.1/sqrt(1.1000001) = 1 - 0.09534625459 = 0.90465374541
    # w2 = w1 - 0.2/sqrt(2.1000001) = 0.90465374541 - 0.13801310858 = 0.76664063683
    p = parameter([1.0])
    opt = Adagrad([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.2
    p.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.7666406368269169], rtol=RTOL)


def test_zero_grad_and_parameters_without_gradient():
    a, b = make_params()
    opt = RMSprop([a, b])
    a.grad = np.ones_like(a.data)
    before = b.data.copy()
    opt.step()
    assert a in opt.state and b not in opt.state
    np.testing.assert_array_equal(b.data, before)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


# ------------------------------------------------------------------ step(closure)
def test_step_runs_the_closure_with_grad_enabled_and_returns_its_loss():
    # f(w) = 0.5*|w|^2 at w = [1, -2]: loss 2.5, g = w; SGD lr 0.1: w = 0.9*w = [0.9, -1.8]
    p = parameter([1.0, -2.0])
    opt = SGD([p], lr=0.1)
    calls = []

    def closure():
        calls.append(is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum() * 0.5
        loss.backward()
        calls.append(loss)
        return loss

    with no_grad():                        # as a training loop may call it; the closure needs the graph
        returned = opt.step(closure)
    assert calls[0] is True and returned is calls[1] and len(calls) == 2
    assert returned.item() == 2.5
    np.testing.assert_allclose(p.data, [0.9, -1.8], rtol=RTOL)
    p.grad = np.array([1.0, 1.0])
    assert opt.step() is None


# ------------------------------------------------------------------ checks of every gradient
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, error, message", [
    (lambda p: [0.5] * 4, TypeError,
     r"step: the gradient of parameter 'layer.bias' is a builtins.list; expected a numpy.ndarray"),
    (lambda p: np.zeros(5), ValueError,
     r"step: the gradient of parameter 'layer.bias' has shape \(5,\) and dtype float64; the parameter has "
     r"shape \(4,\) and dtype float64"),
    (lambda p: np.zeros(4, dtype=np.float32), ValueError,
     r"step: the gradient of parameter 'layer.bias' has shape \(4,\) and dtype float32; the parameter has "
     r"shape \(4,\) and dtype float64"),
    (lambda p: np.zeros((4, 1)), ValueError, r"'layer.bias' has shape \(4, 1\)"),
], ids=["list", "shape", "dtype", "extra axis"])
def test_a_wrong_gradient_is_refused_naming_the_parameter(name, bad, error, message):
    params = make_params()
    opt = optim.create(name, params)
    feed(params, 0)
    opt.step()
    before = snapshot(opt, params)
    feed(params, 1)                         # the first gradient is good: it must not be applied either
    params[1].grad = bad(params[1])
    with pytest.raises(error, match=message):
        opt.step()
    assert_same(before, snapshot(opt, params))


def test_an_unnamed_parameter_is_named_by_its_place():
    a, b = parameter([1.0, 2.0]), parameter([1.0, 2.0])
    opt = SGD([{"params": [a]}, {"params": [b]}])
    a.grad, b.grad = np.zeros(2), np.zeros(3)
    with pytest.raises(ValueError, match=r"parameter \"param_groups\[1\]\['params'\]\[0\]\" has shape \(3,\)"):
        opt.step()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_gradient_raises_and_touches_nothing(name, bad):
    params = make_params()
    opt = optim.create(name, params, weight_decay=0.1, clipnorm=1.0)
    feed(params, 0)
    opt.step()
    before = snapshot(opt, params)
    feed(params, 1)
    params[1].grad[2] = bad
    with pytest.raises(FloatingPointError, match="'layer.bias'.*NaN or Inf"):
        opt.step()
    assert_same(before, snapshot(opt, params))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_finite_gradient_is_not_taken_for_inf(dtype):
    # the quick screen (a sum of squares) overflows here; the exact test must let the step run
    huge = np.finfo(dtype).max / 4
    p = parameter(np.zeros(8), dtype)
    p.grad = B.asarray(np.full(8, huge, dtype=dtype))
    opt = optim.create("sgd", [p], lr=1e-30)
    opt.step()
    assert np.all(np.isfinite(B.to_numpy(p.data))) and np.all(B.to_numpy(p.data) < 0)


def test_check_finite_can_be_switched_off():
    p = parameter(np.ones(3), np.float32, "w")
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0, np.nan, 0.0], dtype=np.float32)
    with pytest.raises(FloatingPointError, match="'w'"):
        opt.step()
    assert np.array_equal(p.data, np.ones(3, dtype=np.float32))
    opt.check_finite = False           # documented opt-out: the NaN now goes through
    opt.step()
    assert np.isnan(p.data[1]) and p.data[0] == np.float32(0.9)


# ------------------------------------------------------------------ state_dict / load_state_dict
def adam_with_state(seed, lr=0.001):
    params = make_params(seed)
    opt = Adam(params, lr=lr)
    for t in range(2):
        feed(params, seed + t)
        opt.step()
    return opt, params


def test_state_dict_is_a_copy_and_load_state_dict_copies_what_it_loads():
    opt, params = adam_with_state(0)
    saved = opt.state_dict()
    kept = saved["state"][0]["exp_avg"].copy()
    feed(params, 5)
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], kept)     # the saved arrays did not move
    other, other_params = adam_with_state(1, lr=0.005)
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.001 and other.param_groups[0]["params"] == other_params
    saved["state"][0]["exp_avg"][...] = 7.0
    np.testing.assert_array_equal(other.state[other_params[0]]["exp_avg"], kept)   # loaded as a copy


def _set(path, value):
    def change(sd):
        *inner, last = path
        target = sd
        for key in inner:
            target = target[key]
        target[last] = value
    return change


def _drop(path):
    def change(sd):
        *inner, last = path
        target = sd
        for key in inner:
            target = target[key]
        del target[last]
    return change


def _nan_in(sd):
    sd["state"][1]["exp_avg"][2] = np.nan


# every change touches the last parameter or the last part: an optimizer that installs the good
# first parts before it meets the bad one is caught by the unchanged snapshot
BAD_STATES = [
    ("an empty dict", lambda sd: sd.clear(), r"expected a dict with 'param_groups'"),
    ("another class", _set(["optimizer"], "SGD"), r"the state is of a SGD, not a Adam"),
    ("another convention", _set(["convention"], "pytorch"), r"uses convention 'pytorch', this optimizer 'keras'"),
    ("a bad lr", _set(["param_groups", 0, "lr"], -5), r"param group 0: Invalid lr: -5"),
    ("a bad beta2", _set(["param_groups", 0, "beta2"], 1.0), r"param group 0: Invalid beta2: 1.0"),
    ("a missing hyperparameter", _drop(["param_groups", 0, "eps"]), r"missing \['eps'\]"),
    ("an extra hyperparameter", _set(["param_groups", 0, "momentum"], 0.9), r"unexpected \['momentum'\]"),
    ("two groups", lambda sd: sd["param_groups"].append(copy.deepcopy(sd["param_groups"][0])),
     r"the state has 2 param groups, this optimizer 1"),
    ("one parameter too few", lambda sd: sd["param_groups"][0]["params"].pop(),
     r"param group 0 holds 1 parameters, this optimizer's 2"),
    ("NaN in a state", _nan_in, r"state of parameter 1: 'exp_avg' holds NaN or Inf"),
    ("Inf in a state", _set(["state", 1, "exp_avg_sq"], np.full(4, np.inf)), r"'exp_avg_sq' holds NaN or Inf"),
    ("a negative second moment", _set(["state", 1, "exp_avg_sq"], np.array([1e-3, -1e-3, 0.0, 2e-3])),
     r"state of parameter 1: 'exp_avg_sq' holds negative values \(its smallest is -0.001\)"),
    ("a wrong shape", _set(["state", 1, "exp_avg_sq"], np.zeros(5)),
     r"state of parameter 1: 'exp_avg_sq' has shape \(5,\), expected \(4,\)"),
    ("a missing state", _drop(["state", 1, "exp_avg"]),
     r"state of parameter 1 holds \['exp_avg_sq', 'step'\], expected \['exp_avg', 'exp_avg_sq', 'step'\]"),
    ("an extra state", _set(["state", 1, "velocity"], np.zeros(4)), r"holds \['exp_avg', 'exp_avg_sq', 'step', "
                                                                    r"'velocity'\]"),
    ("a step that is no integer", _set(["state", 1, "step"], 2.5), r"'step' is 2.5, expected an integer >= 0"),
    ("a negative step", _set(["state", 1, "step"], -3), r"'step' is -3, expected an integer >= 0"),
    ("a step that is a bool", _set(["state", 1, "step"], True), r"'step' is True, expected an integer >= 0"),
    ("a state that is no array", _set(["state", 1, "exp_avg"], "zeros"), r"'exp_avg' is a str, expected an array"),
    ("a parameter index out of range", _set(["state", 2], {}), r"state key 2 is out of range"),
]


@pytest.mark.parametrize("change, message", [pytest.param(c, m, id=i) for i, c, m in BAD_STATES])
def test_load_state_dict_refuses_a_bad_state_and_changes_nothing(change, message):
    saved = copy.deepcopy(adam_with_state(0)[0].state_dict())
    change(saved)
    target, params = adam_with_state(1, lr=0.005)
    before = snapshot(target, params)
    with pytest.raises(ValueError, match=rf"Adam.load_state_dict: .*{message}"):
        target.load_state_dict(saved)
    assert_same(before, snapshot(target, params))


def test_load_state_dict_of_another_optimizer_class_is_refused():
    saved = RMSprop(make_params()).state_dict()
    with pytest.raises(ValueError, match="the state is of a RMSprop, not a Adagrad"):
        Adagrad(make_params()).load_state_dict(saved)


def test_load_state_dict_takes_numpy_numbers_as_python_numbers():
    # what numbers read back through numpy are (np.int64, a 0-d array)
    saved = adam_with_state(0)[0].state_dict()
    saved["state"][0]["step"] = np.array(saved["state"][0]["step"])
    saved["state"][1]["step"] = np.int64(saved["state"][1]["step"])
    target, params = adam_with_state(1)
    target.load_state_dict(saved)
    assert [target.state[p]["step"] for p in params] == [2, 2]
    assert all(type(target.state[p]["step"]) is int for p in params)


# ------------------------------------------------------------------ clipping
def clipped(grads, **clip):
    """The gradients SGD (lr 1, from w = 0) applies after the clipping options ``clip``."""
    params = [parameter(np.zeros(len(g))) for g in grads]
    opt = SGD(params, lr=1.0, **clip)
    for p, g in zip(params, grads):
        p.grad = np.array(g)
    opt.step()
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad, g)          # the user's gradient is left as it was
    return [list(-p.data) for p in params]


A, B12 = [3.0, 4.0], [0.0, 12.0]         # norms 5 and 12; together sqrt(25 + 144) = 13


def test_clipnorm_clips_each_gradient_by_its_own_norm():
    # Keras's clipnorm: a (norm 5) is under 6.5 and stays; b (norm 12) is scaled by 6.5/12 -> [0, 6.5]
    np.testing.assert_allclose(np.concatenate(clipped([A, B12], clipnorm=6.5)), [3.0, 4.0, 0.0, 6.5], rtol=RTOL)


def test_global_clipnorm_clips_all_gradients_by_their_norm_together():
    # global norm 13 > 6.5: both scaled by 6.5/13 = 0.5 -> a = [1.5, 2], b = [0, 6]
    np.testing.assert_allclose(np.concatenate(clipped([A, B12], global_clipnorm=6.5)), [1.5, 2.0, 0.0, 6.0],
                               rtol=RTOL)


def test_under_the_limits_nothing_is_clipped():
    # exactly at the limits: the factor is exactly 1, the gradients unchanged to the bit
    assert clipped([A, B12], clipnorm=12.0) == [A, B12]
    assert clipped([A, B12], global_clipnorm=13.0) == [A, B12]


def test_only_one_clipping_option_may_be_set():
    # as Keras requires: clipnorm, global_clipnorm and clipvalue exclude each other
    for options in ({"clipnorm": 4.0, "global_clipnorm": 2.5}, {"clipnorm": 1.0, "clipvalue": 0.5},
                    {"global_clipnorm": 1.0, "clipvalue": 0.5}):
        given = ", ".join(f"{k}={v!r}" for k, v in options.items())
        with pytest.raises(ValueError, match=rf"Invalid clipping: only one of clipnorm, global_clipnorm and "
                                             rf"clipvalue can be set, got {given}"):
            SGD(make_params(), **options)
    a, b = make_params()
    with pytest.raises(ValueError, match="Invalid clipping"):
        SGD([{"params": [a]}, {"params": [b], "clipvalue": 0.5}], clipnorm=1.0)


def test_clipping_by_value():
    np.testing.assert_allclose(clipped([[3.0, -4.0, 0.25]], clipvalue=0.5)[0], [0.5, -0.5, 0.25], rtol=RTOL)


def test_clipnorm_of_one_parameter_is_global_clipnorm_and_a_zero_gradient_stays_zero():
    g = [[3.0, 4.0, -12.0]]
    assert clipped(g, clipnorm=2.0) == clipped(g, global_clipnorm=2.0)
    np.testing.assert_allclose(clipped(g, clipnorm=2.0)[0], [6 / 13, 8 / 13, -24 / 13], rtol=RTOL)   # norm 13
    assert clipped([[0.0, 0.0]], clipnorm=1.0) == [[0.0, 0.0]]
    assert clipped([[0.0, 0.0]], global_clipnorm=1.0) == [[0.0, 0.0]]


@pytest.mark.parametrize("option", ["clipnorm", "global_clipnorm"])
def test_clipping_keeps_float32(option):
    p = parameter([0.0, 0.0], np.float32)
    opt = SGD([p], lr=1.0, **{option: 1.0})
    p.grad = np.array([3.0, 4.0], dtype=np.float32)
    opt.step()
    assert p.data.dtype == np.float32
    np.testing.assert_allclose(p.data, [-0.6, -0.8], rtol=1e-6)


def test_clip_functions_in_place():
    a, b = parameter([0.0]), parameter([0.0])
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    assert optim.clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=RTOL)
    optim.clip_grad_value([a, b], 0.7)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.7], rtol=RTOL)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm([a], 0.0)
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value([a], -1.0)


# ------------------------------------------------------------------ weight decay
def test_decoupled_weight_decay_in_keras_convention():
    # Adagrad keras, lr 0.1, wd 0.5, g = 0: w <- w*(1 - 0.1*0.5) = 0.95*w, then a = 0.1 + 0, step = 0
    p = parameter([1.0, -2.0])
    opt = Adagrad([p], lr=0.1, weight_decay=0.5)
    p.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, -1.9], rtol=RTOL)


def test_coupled_weight_decay_in_pytorch_convention():
    # Adagrad pytorch, lr 0.1, wd 0.5, g = 0: g' = 0.5*w = [0.5, -1]; a = [0.25, 1]
    # w = 1 - 0.1*0.5/(0.5 + 1e-10) = 0.90000000002;  w = -2 + 0.1*1/(1 + 1e-10) = -1.90000000001
    p = parameter([1.0, -2.0])
    opt = Adagrad([p], lr=0.1, weight_decay=0.5, convention="pytorch")
    p.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(p.data, [0.90000000002, -1.90000000001], rtol=RTOL)


def test_weight_decay_zero_changes_nothing():
    grads = [[0.5, -1.0], [2.0, 3.0]]
    for convention in ("keras", "pytorch"):
        out = []
        for wd in (None, 0.0):
            p = parameter([1.0, -2.0])
            opt = RMSprop([p], convention=convention, weight_decay=wd)
            for g in grads:
                p.grad = np.array(g)
                opt.step()
            out.append(p.data.copy())
        np.testing.assert_array_equal(out[0], out[1])
        assert not np.array_equal(out[0], [1.0, -2.0])
