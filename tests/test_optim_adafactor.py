"""Adafactor against the frameworks it follows, over 100 float64 steps, on a factored (3, 4) parameter
and an unfactored (5,) one: torch.optim.Adafactor under the pytorch convention, real Keras 3
(``keras.optimizers.Adafactor`` on the torch backend) under the keras convention; 1e-10 relative.

The hand-computed runs, the state, bad hyperparameters and the round trip through state_dict are
in the optimizer table (tests/optim_cases/adafactor.py, run by tests/test_optimizers.py).
"""
import numpy as np
import pytest

from keras_testutil import keras64, keras_run  # noqa: F401
from optim_testutil import problem, run_steps, torch64, torch_steps  # noqa: F401

SHAPES = [(3, 4), (5,)]
RTOL = 1e-10
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture
def keras_float64(keras64, monkeypatch):  # noqa: F811
    """Keras 3 computing in float64 throughout.  On every backend but TensorFlow, Keras's type
    promotion (``keras.src.backend.common.dtypes.result_type``) turns float64 into float32, as JAX
    does without x64; ``ops.mean`` and ``ops.maximum`` go through it, so Adafactor's RMS and its
    clipping would run in float32 (differences of 1e-8).  Here it keeps float64, as on TensorFlow."""
    from keras.src.backend.common import dtypes
    monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float64")
    return keras64


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hyper", [{}, {"lr": 0.05, "weight_decay": 0.1, "clip_threshold": 1.5},
                                   {"beta2_decay": -0.5, "eps1": 1e-20, "eps2": 1e-2}])
def test_pytorch_convention_equals_torch(torch64, shape, hyper):  # noqa: F811
    w0, grads = problem(11, shape=shape)
    ours, opt, p = run_steps("adafactor", grads, w0=w0, convention="pytorch", **hyper)
    torch_hyper = {"d" if k == "clip_threshold" else k: v for k, v in hyper.items() if k not in ("eps1", "eps2")}
    if "eps1" in hyper:
        torch_hyper["eps"] = (hyper["eps1"], hyper["eps2"])
    theirs, their_state = torch_steps(torch64.optim.Adafactor, w0, grads, **torch_hyper)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=RTOL, atol=0)
    names = {"row_var", "col_var"} if len(shape) >= 2 else {"variance"}
    assert names == {k for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    for name in names:
        np.testing.assert_allclose(opt.state[p][name], their_state[name], rtol=RTOL, atol=0, err_msg=name)
    assert opt.state[p]["step"] == their_state["step"] == 100


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ours, theirs", [
    ({}, {}),
    ({"lr": 0.05, "weight_decay": 0.1, "clip_threshold": 0.5},
     {"learning_rate": 0.05, "weight_decay": 0.1, "clip_threshold": 0.5}),
    ({"beta2_decay": -0.5, "eps1": 1e-20, "eps2": 1e-2}, {"beta_2_decay": -0.5, "epsilon_1": 1e-20, "epsilon_2": 1e-2}),
    ({"lr": 2.0, "relative_step": False}, {"learning_rate": 2.0, "relative_step": False}),
])
def test_keras_convention_equals_keras(keras_float64, shape, ours, theirs):
    w0, grads = problem(12, shape=shape)
    mine, _, _ = run_steps("adafactor", grads, w0=w0, convention="keras", **ours)
    np.testing.assert_allclose(np.array(mine), np.array(keras_run(keras_float64, "Adafactor", w0, grads, **theirs)),
                               rtol=RTOL, atol=0)


def test_keras_spellings_give_the_same_run(keras_float64):
    # Keras's own keyword names, under the keras convention, run the same optimizer as minidl's
    w0, grads = problem(13, shape=(3, 4), steps=20)
    a, _, _ = run_steps("adafactor", grads, w0=w0, learning_rate=0.05, epsilon_1=1e-20, beta_2_decay=-0.5)
    b = keras_run(keras_float64, "Adafactor", w0, grads, learning_rate=0.05, epsilon_1=1e-20, beta_2_decay=-0.5)
    np.testing.assert_allclose(np.array(a), np.array(b), rtol=RTOL, atol=0)
