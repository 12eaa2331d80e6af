"""Every registered optimizer through the same tests, driven by one table (tests/optim_cases/, one
module per optimizer), in the way optax's alias_test.py runs all of its optimizers.

* the contract: the rule, its state and its checks are the optimizer's own; the docstring has a
  ``Rule (...)`` block for each convention; documented defaults; bad hyperparameters refused;
* runs worked out by hand (17-digit ones and a short one per convention), weights, the rule's
  intermediate quantities (read with ``trace_update``) and the state;
* PyTorch 2 parity (pytorch convention, float64, 100 steps), real Keras 3 parity (keras convention,
  float64, on the torch backend) and the independent transcriptions of Keras 3's update steps;
* bit-identical resume from ``state_dict``, float32, properties every rule has, the properties
  of each rule, convergence on a quadratic and on Rosenbrock, squares that overflow float32.

Where a rule lacks one of the properties of every rule (a matrix-wise step that moves a coordinate
whose gradient is 0, a first call that only sets state, weights computed afresh from the state),
its Spec says why and what holds instead (``optim_testutil.Spec``: shapes, setup_calls,
mixes_coordinates, weights_from_state), and that is what is tested for it.
"""
import copy
import inspect
import re

import numpy as np
import pytest

pytest.register_assert_rewrite("optim_cases")

from minidl import backend as B  # noqa: E402
from minidl import optim  # noqa: E402
from minidl.optim import optimizer as optimizer_module  # noqa: E402
from minidl.optim.optimizer import Optimizer, default_convention  # noqa: E402
from minidl.tensor import Parameter  # noqa: E402
from keras_testutil import keras64, keras_run  # noqa: E402,F401
from optim_cases import TABLE  # noqa: E402
from optim_testutil import (DEFAULT_SHAPES, gradients_of, host, parameter, problem, run_steps,  # noqa: E402,F401
                            torch64, torch_steps, traced_steps)

NAMES = sorted(TABLE)


def _label(hyper):
    return ",".join(f"{k}={v}" for k, v in hyper.items()) or "plain"


CASES = [pytest.param(n, c, v, id=f"{n}-{c}-{_label(v)}") for n in NAMES for c, v in TABLE[n].cases()]
HANDS = [pytest.param(n, h, id=f"{n}-{h.convention}-{h.what}") for n in NAMES for h in TABLE[n].hand]
TRACED = [p for p in HANDS if p.values[1].trace]
STATED = [p for p in HANDS if p.values[1].state]
#: the cases of rules that step from w_{t-1}, and of those that compute their weights afresh from their state
STEPPING = [c for c in CASES if TABLE[c.values[0]].weights_from_state is None]
RECOMPUTED = [c for c in CASES if TABLE[c.values[0]].weights_from_state is not None]


def same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(host(a[k]), host(b[k]), err_msg=k)


# ------------------------------------------------------------------------------ the contract
def test_the_table_covers_every_registered_optimizer_with_a_short_case_per_convention():
    assert NAMES == optim.available()
    with_keras = {n for n in NAMES if "keras" in TABLE[n].cls.DEFAULTS}
    assert with_keras == {n for n in NAMES if TABLE[n].keras_class and TABLE[n].keras_runs()}
    assert {n for n in NAMES if "pytorch" in TABLE[n].cls.DEFAULTS} == {n for n in NAMES if TABLE[n].torch}
    for name in NAMES:
        short = {h.convention for h in TABLE[name].hand if h.what == "short"}
        assert short == set(TABLE[name].cls.DEFAULTS), name


@pytest.mark.parametrize("name", NAMES)
def test_the_rule_its_state_and_its_checks_are_the_optimizers_own(name):
    cls = TABLE[name].cls
    for method in ("update", "init_state", "validate"):
        assert getattr(cls, method) is not getattr(Optimizer, method), f"{name} uses the base's {method}"
    for gone in ("reference_step", "_update", "initial_state", "_validate", "scratch_like", "_update_in_parts"):
        assert not hasattr(cls, gone), f"{name}.{gone} is back: a second path beside update()"
    module = inspect.getmodule(cls)
    kernels = [n for n, f in vars(module).items() if n.endswith("_update") and callable(f)]
    assert kernels == [], f"{module.__name__} holds update kernels beside the rule: {kernels}"
    assert cls.__doc__ == module.__doc__ and len(cls.__doc__) > 200
    assert not hasattr(optimizer_module, "ema_update") and not hasattr(optimizer_module, "PARALLEL_MIN_SIZE")


RULE_HEADING = re.compile(r"^Rule \(([^)]*)\):", re.MULTILINE)


@pytest.mark.parametrize("name", NAMES)
def test_the_docstring_has_a_rule_block_per_convention(name):
    cls = TABLE[name].cls
    doc = inspect.cleandoc(cls.__doc__)
    headings = list(RULE_HEADING.finditer(doc))
    named = [set(h.group(1).split(", ")) for h in headings]
    assert all(n <= set(cls.DEFAULTS) or n == {"every convention"} for n in named), named
    for convention in cls.DEFAULTS:
        assert any(convention in n or n == {"every convention"} for n in named), f"no Rule block for {convention}"
    ends = [h.start() for h in headings[1:]] + [len(doc)]
    for heading, end in zip(headings, ends):                  # each block holds 'symbol = expression' lines
        assert re.search(r"^ {4,}\S+ = \S", doc[heading.end():end], re.MULTILINE), heading.group(0)


@pytest.mark.parametrize("name", NAMES)
def test_documented_defaults_per_convention(name):
    spec = TABLE[name]
    assert set(spec.defaults) == set(spec.cls.DEFAULTS)
    for convention, expected in spec.defaults.items():
        weight = parameter(np.zeros(spec.shapes_for(convention)[0]))
        got = optim.create(name, [weight], convention=convention).defaults
        assert {k: got[k] for k in expected} == expected, convention
    # the signature's convention is the one the base takes when none is given: keras where the optimizer has
    # it, else pytorch, else paper (an optimizer with only a paper convention: ADOPT, LARS, AdaBelief, Lookahead)
    signature_default = inspect.signature(spec.cls.__init__).parameters["convention"].default
    assert signature_default == default_convention(spec.cls)
    assert default_convention(spec.cls) == next(c for c in ("keras", "pytorch", "paper") if c in spec.cls.DEFAULTS)


@pytest.mark.parametrize("name, kwargs, fragment",
                         [pytest.param(n, k, f, id=f"{n}-{_label(k)}") for n in NAMES for k, f in TABLE[n].bad])
def test_bad_hyperparameters_are_refused(name, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        optim.create(name, [parameter([0.0, 0.0])], **kwargs)


# ------------------------------------------------------------------------------ by hand
@pytest.mark.parametrize("name, case", HANDS)
def test_hand_computed_weights(name, case, backend_name):
    weights, _, _ = run_steps(name, gradients_of(case), w0=case.w0, convention=case.convention, **case.hyper)
    np.testing.assert_allclose(np.array(weights), np.array(case.expected), rtol=case.rtol, atol=0)


@pytest.mark.parametrize("name, case", TRACED)
def test_hand_computed_quantities_of_the_rule(name, case, backend_name):
    # the rule alone, traced, takes the same steps as step(), and its local variables, named as in
    # the docstring's formula, hold the values worked out by hand
    stepped, _, _ = run_steps(name, gradients_of(case), w0=case.w0, convention=case.convention, **case.hyper)
    traced, local = traced_steps(name, case)
    np.testing.assert_array_equal(np.array(traced), np.array(stepped))
    doc = TABLE[name].cls.__doc__
    for t, expected in case.trace.items():
        for symbol, value in expected.items():
            assert re.search(rf"\b{symbol}(_t)?\b", doc), f"{symbol} is not a name of the docstring's formula"
            np.testing.assert_allclose(host(local[t - 1][symbol]), value, rtol=case.rtol, atol=0,
                                       err_msg=f"{symbol} at t={t}")


@pytest.mark.parametrize("name, case", STATED)
def test_hand_computed_state(name, case, backend_name):
    _, opt, p = run_steps(name, gradients_of(case), w0=case.w0, convention=case.convention, **case.hyper)
    state = opt.state[p]
    assert set(case.state) <= set(state)
    for k, value in case.state.items():
        np.testing.assert_allclose(host(state[k]), value, rtol=case.rtol, atol=0, err_msg=k)
    assert type(state["step"]) is int


# ------------------------------------------------------------------------------ other implementations
@pytest.mark.parametrize("name, hyper", [pytest.param(n, h, id=f"{n}-{_label(h)}") for n in NAMES
                                         if TABLE[n].torch for h in TABLE[n].torch_variants])
def test_pytorch_convention_matches_torch(name, hyper, torch64):
    spec, rename = TABLE[name], TABLE[name].torch_names
    w0, grads = problem(1)
    ours, opt, p = run_steps(name, grads, w0=w0, convention="pytorch", **hyper)
    theirs, their_state = torch_steps(getattr(torch64.optim, spec.torch), w0, grads,
                                      **{rename.get(k, k): v for k, v in hyper.items()})
    assert np.abs(np.array(ours) - np.array(theirs)).max() <= 1e-12
    our_state = {rename.get(k, k): host(v) for k, v in opt.state[p].items()}
    arrays = {k for k, v in our_state.items() if isinstance(v, np.ndarray)}
    assert arrays <= set(their_state), (sorted(our_state), sorted(their_state))
    for k in set(our_state) & set(their_state):
        np.testing.assert_allclose(our_state[k], their_state[k], rtol=1e-12, atol=1e-15, err_msg=k)


KERAS_NAMES = {"lr": "learning_rate", "beta1": "beta_1", "beta2": "beta_2", "eps": "epsilon"}


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize("name, hyper", [pytest.param(n, h, id=f"{n}-{_label(h)}") for n in NAMES
                                         if TABLE[n].keras_class for h in TABLE[n].keras_runs()])
def test_keras_convention_matches_keras(name, hyper, keras64):
    # real Keras 3 (torch backend, float64), 25 steps: Keras's own loop is slow; the transcriptions run 100
    w0, grads = problem(5, shape=(30,), steps=25)
    ours, _, _ = run_steps(name, grads, w0=w0, convention="keras", **hyper)
    theirs = keras_run(keras64, TABLE[name].keras_class, w0, grads,
                       **{KERAS_NAMES.get(k, k): v for k, v in hyper.items()})
    assert np.abs(np.array(ours) - np.array(theirs)).max() <= 1e-12


@pytest.mark.parametrize("name, transcription, ours, theirs",
                         [pytest.param(n, *k, id=f"{n}-{_label(k[1])}") for n in NAMES for k in TABLE[n].keras])
def test_keras_convention_matches_keras_transcription(name, transcription, ours, theirs):
    w0, grads = problem(5, shape=(30,))
    weights, _, _ = run_steps(name, grads, w0=w0, convention="keras", **ours)
    assert np.abs(weights[-1] - transcription(w0, grads, **theirs)).max() <= 1e-12


# ------------------------------------------------------------------------------ every rule
def two_parameters(seed=0, dtype=np.float64, shapes=DEFAULT_SHAPES):
    """A layer's weight and its bias (or, for ``shapes`` of two matrices, two layers' weights)."""
    rng = np.random.default_rng(seed)
    weight, second = shapes
    return [parameter(rng.standard_normal(weight), dtype, "layer.weight"),
            parameter(rng.standard_normal(second), dtype, "layer.bias" if len(second) == 1 else "layer2.weight")]


def feed(params, seed):
    rng = np.random.default_rng(1000 + seed)
    for p in params:
        p.grad = B.asarray(rng.standard_normal(p.shape)).astype(p.dtype)


@pytest.mark.parametrize("name, convention, variant", CASES)
def test_state_dict_resume_is_bit_identical(name, convention, variant, backend_name):
    hyper = {**variant, "convention": convention, "weight_decay": 0.01}
    shapes = TABLE[name].shapes_for(convention)
    params_a = two_parameters(shapes=shapes)
    opt_a = optim.create(name, params_a, **hyper)
    for t in range(5):
        feed(params_a, t)
        opt_a.step()
    saved = copy.deepcopy(opt_a.state_dict())
    assert all(isinstance(v, (np.ndarray, int, float)) for s in saved["state"].values() for v in s.values())
    params_b = two_parameters(seed=99, shapes=shapes)            # other values, the same layout
    for pa, pb in zip(params_a, params_b):
        pb.data[...] = pa.data
    opt_b = optim.create(name, params_b, **hyper)
    opt_b.load_state_dict(saved)
    for t in range(5, 10):
        feed(params_a, t)
        feed(params_b, t)
        opt_a.step()
        opt_b.step()
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(host(pa.data), host(pb.data))
        same_state(opt_a.state[pa], opt_b.state[pb])


@pytest.mark.parametrize("name, convention, variant", CASES)
def test_float32_stays_float32_and_follows_float64(name, convention, variant):
    runs = {}
    for dtype in (np.float32, np.float64):
        params = two_parameters(dtype=dtype, shapes=TABLE[name].shapes_for(convention))
        opt = optim.create(name, params, convention=convention, weight_decay=0.01, **variant)
        for t in range(3):
            feed(params, t)
            opt.step()
        runs[dtype] = params
        for p in params:
            assert p.data.dtype == dtype
            assert all(v.dtype == dtype for v in opt.state[p].values() if B.is_array(v))
    for p32, p64 in zip(runs[np.float32], runs[np.float64]):
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, convention, variant", STEPPING)
def test_a_zero_gradient_moves_nothing(name, convention, variant):
    shape = TABLE[name].shapes_for(convention)[0]
    w0 = problem(0, shape=shape)[0]
    weights, _, _ = run_steps(name, [np.zeros(shape)] * 3, w0=w0, convention=convention, weight_decay=0.0,
                              **variant)
    np.testing.assert_array_equal(weights[-1], w0)


def first_step(name, convention, variant):
    """``(w before the first step, w after it, its gradient)`` on problem(2) (the first coordinate's
    gradient is 0), after the Spec's setup calls, which must leave the weights where they were."""
    spec = TABLE[name]
    w0, grads = problem(2, shape=spec.shapes_for(convention)[0])
    calls = spec.setup_calls
    weights, _, _ = run_steps(name, grads[:calls + 1], w0=w0, convention=convention, weight_decay=0.0, **variant)
    for w in weights[:calls]:
        np.testing.assert_array_equal(w, w0)
    return w0, weights[calls], grads[calls]


@pytest.mark.parametrize("name, convention, variant", STEPPING)
def test_the_first_step_is_a_descent_direction(name, convention, variant):
    w0, w1, g = first_step(name, convention, variant)
    assert np.sum((w0 - w1) * g) > 0


@pytest.mark.parametrize("name, convention, variant", [c for c in STEPPING if not TABLE[c.values[0]].mixes_coordinates])
def test_the_first_step_goes_against_the_gradient_in_every_coordinate(name, convention, variant):
    # (a rule whose step mixes the coordinates says why in its Spec's mixes_coordinates)
    w0, w1, g = first_step(name, convention, variant)      # a coordinate whose gradient is 0 must not move
    np.testing.assert_array_equal(np.sign(w0 - w1), np.sign(g))


@pytest.mark.parametrize("name, convention, variant", RECOMPUTED)
def test_the_weights_are_computed_afresh_from_the_state(name, convention, variant):
    # for a rule that does not step from w_{t-1} (its Spec's weights_from_state says why): after every step,
    # zero gradients among them, the weights are its closed form of the state, wherever they started
    spec = TABLE[name]
    w0, grads = problem(4, shape=spec.shapes_for(convention)[0], steps=8)
    grads[0] = grads[3] = grads[4] = np.zeros_like(w0)
    p = parameter(w0)
    opt = optim.create(name, [p], convention=convention, **variant)
    for g in grads:
        p.grad = B.asarray(g)
        opt.step()
        np.testing.assert_allclose(host(p.data), host(spec.weights_from_state(opt.state[p], opt.param_groups[0])),
                                   rtol=1e-14, atol=0)


@pytest.mark.parametrize("name, convention, variant", [c for c in CASES if TABLE[c.values[0]].cls.ELEMENTWISE])
def test_an_elementwise_rule_treats_every_element_on_its_own(name, convention, variant):
    # what lets the speed layer update a large parameter in parts: one (3, 4) parameter takes
    # the same steps, bit for bit, as its twelve elements as parameters of their own
    w0, grads = problem(3, steps=5)
    whole = parameter(w0)
    parts = [parameter(w0.reshape(-1)[i:i + 1]) for i in range(w0.size)]
    opt_whole = optim.create(name, [whole], convention=convention, **variant)
    opt_parts = optim.create(name, parts, convention=convention, **variant)
    for g in grads:
        whole.grad = g.copy()
        for i, p in enumerate(parts):
            p.grad = g.reshape(-1)[i:i + 1].copy()
        opt_whole.step()
        opt_parts.step()
    np.testing.assert_array_equal(whole.data.reshape(-1), np.concatenate([p.data for p in parts]))


@pytest.mark.parametrize("prop", [pytest.param(f, id=f"{n}-{f.__name__}") for n in NAMES for f in TABLE[n].properties])
def test_the_rules_own_properties(prop):
    prop()


# ------------------------------------------------------------------------------ convergence
def quadratic(w):
    c = np.array([1.0, 10.0])
    return 0.5 * float(np.sum(c * w * w)), c * w


def rosenbrock(w):
    x, y = w
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, np.array([-2 * (1 - x) - 400 * x * (y - x * x),
                                                            200 * (y - x * x)])


def minimize(name, fn, w0, steps, hyper):
    p = parameter(w0)
    opt = optim.create(name, [p], **hyper)
    for _ in range(steps):
        p.grad = fn(p.data)[1]
        opt.step()
    return fn(p.data)[0]


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_a_quadratic(name):
    # f(w) = 0.5 * (w1^2 + 10 * w2^2) from (1, -2), f = 20.5; minimum 0 at (0, 0); 2000 full-batch steps, the
    # default convention (keras where there is one); lr picked by a small sweep, thresholds those reached
    hyper, threshold = TABLE[name].quadratic
    f = minimize(name, quadratic, (1.0, -2.0), 2000, hyper)
    assert f < threshold, f"{name} {hyper}: f = {f:.3g} after 2000 steps (threshold {threshold})"


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_rosenbrock(name):
    # f = (1 - x)^2 + 100 (y - x^2)^2 from (-1.2, 1), f = 24.2; minimum 0 at (1, 1); 3000 steps.  Sign-like
    # methods at a constant lr stall at a floor set by lr, Adadelta wanders in the valley: looser thresholds
    hyper, threshold = TABLE[name].rosenbrock
    f = minimize(name, rosenbrock, (-1.2, 1.0), 3000, hyper)
    assert f < threshold, f"{name} {hyper}: f = {f:.3g} after 3000 steps (threshold {threshold})"


# ------------------------------------------------------------------------------ overflow
HUGE = 3e38     # finite in float32 (max 3.4e38), its square is not


def snapshot(opt, params):
    return ([B.to_numpy(p.data).copy() for p in params],
            {i: copy.deepcopy({k: host(v) for k, v in opt.state[p].items()}) for i, p in enumerate(params)
             if p in opt.state})


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("earlier_steps", [0, 1])
@pytest.mark.parametrize("name", [n for n in NAMES if TABLE[n].overflow_state])
def test_squares_that_overflow_raise_and_restore_everything(name, earlier_steps):
    params = two_parameters(dtype=np.float32)
    opt = optim.create(name, params)
    for t in range(earlier_steps):
        feed(params, t)
        opt.step()
    weights, state = snapshot(opt, params)
    feed(params, 7)
    params[1].grad[...] = HUGE               # the last parameter: the first one is already updated
    with pytest.raises(FloatingPointError, match=rf"the state '{TABLE[name].overflow_state}' of parameter "
                                                 r"'layer.bias' became NaN or Inf"):
        opt.step()
    weights_after, state_after = snapshot(opt, params)
    assert state_after.keys() == state.keys()
    for a, b in zip(weights, weights_after):
        np.testing.assert_array_equal(a, b)
    for i in state:
        same_state(state[i], state_after[i])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("name", [n for n in optim.available() if optim.REGISTRY[n].SUMS_OF_SQUARES])
def test_a_sum_of_finite_squares_that_overflows_over_steps_raises_and_restores(name):
    """1.5e19 squared is 2.25e38, finite in float32; two of them are not.  The second step
    raises, naming the state, and leaves the first step's weights and state as they were."""
    (key,) = optim.REGISTRY[name].SUMS_OF_SQUARES
    p = Parameter(np.ones(3, np.float32), name="layer.weight")
    opt = optim.create(name, [p])
    p.grad = np.full(3, 1.5e19, np.float32)
    opt.step()
    assert np.all(np.isfinite(opt.state[p][key])) and np.all(opt.state[p][key] > 2e38)
    weights, state = p.data.copy(), {k: (v.copy() if B.is_array(v) else v) for k, v in opt.state[p].items()}
    p.grad = np.full(3, 1.5e19, np.float32)
    with pytest.raises(FloatingPointError, match=rf"the state '{key}' of parameter 'layer.weight' became NaN or Inf"):
        opt.step()
    np.testing.assert_array_equal(p.data, weights)
    for k, v in state.items():
        np.testing.assert_array_equal(opt.state[p][k], v)
    p.grad = np.full(3, 1.0, np.float32)                   # an ordinary gradient steps on
    opt.step()
    assert np.all(np.isfinite(p.data)) and np.all(np.isfinite(opt.state[p][key]))


def test_the_nonnegative_state_names_are_the_optimizers_own():
    """Every name the checkpoint check holds to >= 0 is a state some optimizer has, and each
    optimizer's squared-average states are among them (a new name would go unchecked)."""
    from minidl.optim.state_check import NONNEGATIVE

    seen = set()
    for name in optim.available():
        cls = optim.REGISTRY[name]
        for convention in cls.DEFAULTS:
            p = Parameter(np.ones((3, 4)))
            opt = optim.create(name, [p], convention=convention)
            seen |= {k for k, v in opt.init_state(p.data, opt.param_groups[0]).items() if B.is_array(v)}
    squares = {k for k in seen if k.endswith(("_sq", "_var", "_inf")) or k in ("sum", "accumulator", "square_avg")}
    amsgrad = {"max_exp_avg_sq", "max_exp_avg_var"}               # made only with amsgrad=True
    assert squares <= NONNEGATIVE and NONNEGATIVE - seen <= amsgrad, (squares - NONNEGATIVE, NONNEGATIVE - seen)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_lookahead_screens_its_inner_rules_sums_of_squares():
    p = Parameter(np.ones(3, np.float32), name="layer.weight")
    opt = optim.create("lookahead", [p], inner="adagrad")
    p.grad = np.full(3, 1.5e19, np.float32)
    opt.step()
    p.grad = np.full(3, 1.5e19, np.float32)
    with pytest.raises(FloatingPointError, match=r"the state 'sum' of parameter 'layer.weight' became NaN or Inf"):
        opt.step()


def test_only_undecayed_sums_of_squares_are_screened():
    assert {n for n in optim.available() if optim.REGISTRY[n].SUMS_OF_SQUARES} == {"adagrad", "ftrl"}


@pytest.mark.parametrize("name", [n for n in NAMES if not TABLE[n].overflow_state])
def test_a_rule_without_squares_takes_a_finite_step_on_a_huge_gradient(name):
    params = two_parameters(dtype=np.float32)
    opt = optim.create(name, params)
    before = params[1].data.copy()
    feed(params, 0)
    params[1].grad[...] = HUGE
    opt.step()
    assert np.all(np.isfinite(params[1].data)) and np.all(params[1].data < before)
    assert all(bool(np.isfinite(v).all()) for v in opt.state[params[1]].values() if B.is_array(v))


@pytest.mark.parametrize("name", sorted(optim.available()))
def test_a_debugger_stepping_into_step_reaches_the_rule_within_two_calls(name):
    """From ``opt.step()`` to the optimizer's own ``update`` (the formula's lines) is at most
    two calls deep, as a student stepping in with a debugger would go."""
    import sys

    p = Parameter(np.ones((3, 4)))
    opt = optim.create(name, [p])
    rule = type(opt.inner if name == "lookahead" else opt).update.__code__
    step = type(opt).step.__code__
    depth, found = [0], []

    def trace(frame, event, arg):
        if event == "call":
            if frame.f_code is step and not depth[0]:
                depth[0] = 1                                   # the step's own frame starts the count
            elif depth[0]:
                calls, f = 0, frame
                while f is not None and f.f_code is not step:
                    calls, f = calls + 1, f.f_back
                if frame.f_code is rule and f is not None:
                    found.append(calls)
        return None

    p.grad = np.full((3, 4), 0.1)
    before = sys.gettrace()                                 # a coverage tool's, say: put back after
    sys.settrace(trace)
    try:
        opt.step()
    finally:
        sys.settrace(before)
    assert found and min(found) <= 2, (name, found)      # 1 for most; Lookahead, Schedule-Free: 2
