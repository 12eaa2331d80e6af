"""The optimizer base, for every registered optimizer: registry coverage, bad input, param groups,
lr changes, non-finite gradients, state_dict round trips, clipping, weight decay, dtypes."""
import copy
import inspect

import numpy as np
import pytest

from minidl import backend as B
from minidl import optim
from minidl.optim import CONVENTIONS, SGD, Adagrad, RMSprop
from minidl.optim.optimizer import Optimizer
from minidl.tensor import Parameter

RTOL = 1e-12

#: every optimizer the project must provide: the list under test (coverage test below)
OPTIMIZERS = ["sgd", "adagrad", "rmsprop", "adadelta", "rprop", "adam", "adamw", "adamax", "nadam"]


def registered_conventions():
    return [(name, c) for name in optim.available() for c in optim.REGISTRY[name].DEFAULTS]


def make_params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [Parameter(B.asarray(rng.standard_normal((3, 4))), dtype=dtype, name="layer.weight"),
            Parameter(B.asarray(rng.standard_normal(4)), dtype=dtype, name="layer.bias")]


def feed(params, seed):
    rng = np.random.default_rng(1000 + seed)
    for p in params:
        p.grad = B.asarray(rng.standard_normal(p.shape)).astype(p.dtype)


def snapshot(opt, params):
    weights = [B.to_numpy(p.data).copy() for p in params]
    state = {i: {k: (B.to_numpy(v).copy() if B.is_array(v) else v) for k, v in opt.state[p].items()}
             for i, p in enumerate(params) if p in opt.state}
    return weights, state


def assert_same(a, b):
    (wa, sa), (wb, sb) = a, b
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            if isinstance(sa[i][k], np.ndarray):
                np.testing.assert_array_equal(sa[i][k], sb[i][k])
            else:
                assert sa[i][k] == sb[i][k]


# ----------------------------------------------------------------- registry
def test_registry_covers_every_optimizer():
    assert sorted(OPTIMIZERS) == optim.available()


@pytest.mark.parametrize("name", optim.available())
def test_registered_class_follows_the_contract(name):
    cls = optim.REGISTRY[name]
    assert issubclass(cls, Optimizer)
    module = inspect.getmodule(cls)
    assert cls.__doc__ == module.__doc__ and len(cls.__doc__) > 200
    assert cls.DEFAULTS and set(cls.DEFAULTS) <= set(CONVENTIONS)
    for method in ("initial_state", "reference_step", "_update", "_validate"):
        assert getattr(cls, method) is not getattr(Optimizer, method), f"{name} lacks {method}"
    for convention in cls.DEFAULTS:
        assert convention in cls.__doc__
        opt = optim.create(name, make_params(), convention=convention)
        assert opt.convention == convention and "lr" in opt.defaults
    default = inspect.signature(cls.__init__).parameters["convention"].default
    assert default == ("keras" if "keras" in cls.DEFAULTS else "pytorch")


def test_create_by_name():
    opt = optim.create("SGD", make_params(), lr=0.5, momentum=0.9)
    assert isinstance(opt, SGD) and opt.defaults["lr"] == 0.5
    with pytest.raises(ValueError, match="'adamm'.*available"):
        optim.create("adamm", make_params())


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", optim.available())
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
    with pytest.raises(ValueError, match="Invalid clipnorm: 0"):
        cls(make_params(), clipnorm=0.0)
    with pytest.raises(ValueError, match="Invalid clipvalue: -1"):
        cls(make_params(), clipvalue=-1.0)
    with pytest.raises(ValueError, match="unknown hyperparameter.*'learning_rate'"):
        cls(make_params(), learning_rate=0.1)
    with pytest.raises(TypeError, match="Parameters"):
        cls([np.zeros(3)])


def test_bad_param_groups():
    a, b = make_params()
    with pytest.raises(ValueError, match="more than one param group"):
        SGD([{"params": [a]}, {"params": [a, b]}])
    with pytest.raises(ValueError, match="Invalid lr: -1"):
        SGD([{"params": [a]}, {"params": [b], "lr": -1.0}])
    with pytest.raises(ValueError, match="unknown hyperparameter.*'betas'"):
        SGD([{"params": [a], "betas": (0.9, 0.99)}])
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([{"params": []}])
    with pytest.raises(TypeError, match="param group"):
        SGD([{"params": [a]}]).add_param_group([b])


# -------------------------------------------------------- groups and lr changes
def test_param_groups_use_their_own_hyperparameters(float64):
    # group 0: lr 0.1 (the default given), group 1: lr 1.0 and momentum 0.5; g = 1
    a, b = Parameter(np.array([1.0])), Parameter(np.array([1.0]))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0, "momentum": 0.5}], lr=0.1)
    for _ in range(2):
        a.grad, b.grad = np.array([1.0]), np.array([1.0])
        opt.step()
    # a: 1 - 0.1 - 0.1 = 0.8;  b (Keras momentum): v = -1, w = 0;  v = -0.5 - 1 = -1.5, w = -1.5
    np.testing.assert_allclose(a.data, [0.8], rtol=RTOL)
    np.testing.assert_allclose(b.data, [-1.5], rtol=RTOL)
    opt.add_param_group({"params": [Parameter(np.zeros(1))], "lr": 0.3})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0, 0.3]


def test_lr_change_between_steps_takes_effect(float64):
    # Adagrad keras, a_0 = 0.1, eps 1e-7, g = 1:  lr 0.1 then 0.2
    # w1 = 1 - 0.1/sqrt(1.1000001) = 1 - 0.09534625459 = 0.90465374541
    # w2 = w1 - 0.2/sqrt(2.1000001) = 0.90465374541 - 0.13801310858 = 0.76664063683
    p = Parameter(np.array([1.0]))
    opt = Adagrad([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.2
    p.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.7666406368269169], rtol=RTOL)


def test_zero_grad_and_parameters_without_gradient(float64):
    a, b = make_params()
    opt = RMSprop([a, b])
    a.grad = np.ones_like(a.data)
    before = b.data.copy()
    opt.step()
    assert a in opt.state and b not in opt.state
    np.testing.assert_array_equal(b.data, before)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


# ------------------------------------------------------------ non-finite gradients
@pytest.mark.parametrize("name", optim.available())
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_gradient_raises_and_touches_nothing(name, bad, float64):
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
    p = Parameter(B.asarray(np.zeros(8, dtype=dtype)), dtype=dtype)
    p.grad = B.asarray(np.full(8, huge, dtype=dtype))
    opt = optim.create("sgd", [p], lr=1e-30)
    opt.step()
    assert np.all(np.isfinite(B.to_numpy(p.data))) and np.all(B.to_numpy(p.data) < 0)


# ------------------------------------------------------------ state_dict
@pytest.mark.parametrize("name, convention", registered_conventions())
def test_state_dict_round_trip_continues_bit_identically(name, convention, backend_name, float64):
    params_a = make_params()
    opt_a = optim.create(name, params_a, convention=convention)
    for t in range(5):
        feed(params_a, t)
        opt_a.step()
    saved = copy.deepcopy(opt_a.state_dict())
    assert all(isinstance(v, (np.ndarray, int, float)) for s in saved["state"].values() for v in s.values())

    params_b = make_params(seed=99)  # other values, same layout
    for pa, pb in zip(params_a, params_b):
        pb.data[...] = pa.data
    opt_b = optim.create(name, params_b, convention=convention)
    opt_b.load_state_dict(saved)
    for t in range(5, 10):
        feed(params_a, t)
        feed(params_b, t)
        opt_a.step()
        opt_b.step()
    assert_same(snapshot(opt_a, params_a), snapshot(opt_b, params_b))


def test_state_dict_is_a_copy_and_checks_what_it_loads(float64):
    params = make_params()
    opt = RMSprop(params, momentum=0.9)
    feed(params, 0)
    opt.step()
    saved = opt.state_dict()
    kept = saved["state"][0]["square_avg"].copy()
    feed(params, 1)
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["square_avg"], kept)
    with pytest.raises(ValueError, match="RMSprop"):
        Adagrad(make_params()).load_state_dict(saved)
    with pytest.raises(ValueError, match="convention 'keras'"):
        RMSprop(make_params(), convention="pytorch").load_state_dict(saved)
    with pytest.raises(ValueError, match="param groups"):
        RMSprop(make_params()[:1]).load_state_dict(saved)
    saved["state"][0]["square_avg"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="shape"):
        RMSprop(make_params()).load_state_dict(saved)


# ------------------------------------------------------------ clipping
def test_clipping_by_global_norm(float64):
    # g = [3] and [4] in two parameters: global norm 5 -> scaled by 1/5 -> [0.6], [0.8]; SGD lr 1
    a, b = Parameter(np.array([0.0])), Parameter(np.array([0.0]))
    opt = SGD([a, b], lr=1.0, clipnorm=1.0)
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.6, -0.8], rtol=RTOL)
    np.testing.assert_array_equal(a.grad, [3.0])  # the user's gradient is left as it was
    # below the limit nothing changes: norm 5 < 10
    opt = SGD([a, b], lr=1.0, clipnorm=10.0)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [-3.6, -4.8], rtol=RTOL)


def test_clipping_by_value(float64):
    p = Parameter(np.zeros(3))
    opt = SGD([p], lr=1.0, clipvalue=0.5)
    p.grad = np.array([3.0, -4.0, 0.25])
    opt.step()
    np.testing.assert_allclose(p.data, [-0.5, 0.5, -0.25], rtol=RTOL)


def test_clip_functions_in_place(float64):
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    assert optim.clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=RTOL)
    optim.clip_grad_value([a, b], 0.7)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.7], rtol=RTOL)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm([a], 0.0)
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value([a], -1.0)


# ------------------------------------------------------------ weight decay
def test_decoupled_weight_decay_in_keras_convention(float64):
    # Adagrad keras, lr 0.1, wd 0.5, g = 0: w <- w*(1 - 0.1*0.5) = 0.95*w, then a = 0.1 + 0, step = 0
    p = Parameter(np.array([1.0, -2.0]))
    opt = Adagrad([p], lr=0.1, weight_decay=0.5)
    p.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, -1.9], rtol=RTOL)


def test_coupled_weight_decay_in_pytorch_convention(float64):
    # Adagrad pytorch, lr 0.1, wd 0.5, g = 0: g' = 0.5*w = [0.5, -1]; a = [0.25, 1]
    # w = 1 - 0.1*0.5/(0.5 + 1e-10) = 0.90000000002;  w = -2 + 0.1*1/(1 + 1e-10) = -1.90000000001
    p = Parameter(np.array([1.0, -2.0]))
    opt = Adagrad([p], lr=0.1, weight_decay=0.5, convention="pytorch")
    p.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(p.data, [0.90000000002, -1.90000000001], rtol=RTOL)


def test_weight_decay_zero_changes_nothing(float64):
    grads = [[0.5, -1.0], [2.0, 3.0]]
    for convention in ("keras", "pytorch"):
        out = []
        for wd in (None, 0.0):
            p = Parameter(np.array([1.0, -2.0]))
            opt = RMSprop([p], convention=convention, weight_decay=wd)
            for g in grads:
                p.grad = np.array(g)
                opt.step()
            out.append(p.data.copy())
        np.testing.assert_array_equal(out[0], out[1])


# ------------------------------------------------------------ dtypes
@pytest.mark.parametrize("name, convention", registered_conventions())
def test_float32_stays_float32(name, convention):
    params = make_params(dtype=np.float32)
    opt = optim.create(name, params, convention=convention, weight_decay=0.01)
    for t in range(3):
        feed(params, t)
        opt.step()
    for p in params:
        assert p.data.dtype == np.float32
        for k, v in opt.state[p].items():
            if B.is_array(v):
                assert v.dtype == np.float32, (name, k)


def test_own_defaults_win_over_common_defaults():
    # COMMON_DEFAULTS has weight_decay 0.0; an optimizer's own default (AdamW's) wins, its names come first
    from minidl.optim.optimizer import COMMON_DEFAULTS, default_hyperparameters

    for name in optim.available():
        cls = optim.REGISTRY[name]
        for convention in cls.DEFAULTS:
            d = default_hyperparameters(cls, convention)
            assert d == {**COMMON_DEFAULTS, **cls.DEFAULTS[convention]}
            assert list(d)[:len(cls.DEFAULTS[convention])] == list(cls.DEFAULTS[convention])
            assert cls(make_params(), convention=convention).defaults == d
    assert optim.AdamW(make_params()).defaults["weight_decay"] == 0.004


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_scratch_buffers_are_made_once_and_are_not_state(name, float64):
    # two parameters of one shape share the scratch buffers; later steps allocate none
    rng = np.random.default_rng(0)
    params = [Parameter(B.asarray(rng.standard_normal((3, 4))), dtype=np.float64) for _ in range(2)]
    opt = optim.create(name, params)
    feed(params, 0)
    opt.step()
    buffers = dict(opt._scratch)
    assert all(tuple(b.shape) == (3, 4) for b in buffers.values())
    for seed in (1, 2):
        feed(params, seed)
        opt.step()
    assert opt._scratch.keys() == buffers.keys() and all(opt._scratch[k] is b for k, b in buffers.items())
    assert opt.scratch_like(params[0].data, 0) is opt.scratch_like(params[1].data, 0)
    assert "_scratch" not in str(opt.state_dict())


def test_check_finite_can_be_switched_off():
    import numpy as np

    from minidl import optim
    from minidl.tensor import Parameter

    p = Parameter(np.ones(3, dtype=np.float32), name="w")
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0, np.nan, 0.0], dtype=np.float32)
    with pytest.raises(FloatingPointError, match="'w'"):
        opt.step()
    assert np.array_equal(p.data, np.ones(3, dtype=np.float32))
    opt.check_finite = False           # documented opt-out: the NaN now goes through
    opt.step()
    assert np.isnan(p.data[1]) and p.data[0] == np.float32(0.9)
