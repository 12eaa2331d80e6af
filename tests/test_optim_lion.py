"""Lion under the keras convention equals real Keras 3 (``keras.optimizers.Lion``, torch backend, float64)
over 100 steps on a (3, 4) parameter; the rest of Lion's tests are the table's (tests/optim_cases/lion.py)."""
import numpy as np
import pytest

from keras_testutil import keras64, keras_run  # noqa: F401
from optim_testutil import problem, run_steps

VARIANTS = [
    ({}, {}),
    ({"lr": 0.01, "weight_decay": 0.05}, {"learning_rate": 0.01, "weight_decay": 0.05}),
    ({"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "clipnorm": 1.0},
     {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "clipnorm": 1.0}),
    ({"lr": 0.003, "beta1": 1.0, "global_clipnorm": 2.0},
     {"learning_rate": 0.003, "beta_1": 1.0, "global_clipnorm": 2.0}),
    ({"clipvalue": 1.5}, {"clipvalue": 1.5}),
]


@pytest.mark.parametrize("ours, theirs", VARIANTS, ids=[str(v[0]) or "defaults" for v in VARIANTS])
def test_keras_convention_equals_keras(ours, theirs, keras64):
    w0, grads = problem(1)
    weights, _, _ = run_steps("lion", grads, w0=w0, convention="keras", **ours)
    expected = keras_run(keras64, "Lion", w0, grads, **theirs)
    np.testing.assert_allclose(np.array(weights), np.array(expected), rtol=1e-10, atol=0)


def test_keras_spellings_are_accepted_under_keras():
    from minidl import optim
    from optim_testutil import parameter

    opt = optim.Lion([parameter([1.0, 2.0])], learning_rate=0.01, beta_1=0.8, beta_2=0.9)
    assert {k: opt.defaults[k] for k in ("lr", "beta1", "beta2")} == {"lr": 0.01, "beta1": 0.8, "beta2": 0.9}
