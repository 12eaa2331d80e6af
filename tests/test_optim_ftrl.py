"""Ftrl: real Keras 3 (``keras.optimizers.Ftrl``, torch backend, float64) over 100 steps on a (3, 4)
parameter, l1 making the same weights exactly 0.  The per-variant tests that hold for FTRL, and the
closed form of its weights in place of the others, run in the optimizer table (tests/optim_cases/ftrl.py)."""
import numpy as np
import pytest

from keras_testutil import keras64, keras_run  # noqa: F401
from optim_testutil import problem, run_steps

#: (our hyperparameters, Keras's keyword arguments)
KERAS = [
    ({}, {}),
    ({"lr": 0.05}, {"learning_rate": 0.05}),
    ({"lr": 0.1, "lr_power": -0.7, "initial_accumulator_value": 0.5, "l1": 0.01, "l2": 0.2,
      "l2_shrinkage": 0.1, "beta": 0.5},
     {"learning_rate": 0.1, "learning_rate_power": -0.7, "initial_accumulator_value": 0.5,
      "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.2,
      "l2_shrinkage_regularization_strength": 0.1, "beta": 0.5}),
    ({"lr": 0.5, "l1": 2.0, "lr_power": 0.0}, {"learning_rate": 0.5, "l1_regularization_strength": 2.0,
                                              "learning_rate_power": 0.0}),
    ({"lr": 0.05, "weight_decay": 0.1, "clipvalue": 1.0}, {"learning_rate": 0.05, "weight_decay": 0.1,
                                                           "clipvalue": 1.0}),
]


@pytest.mark.parametrize("ours, theirs", KERAS, ids=[str(k[0]) or "defaults" for k in KERAS])
def test_keras_convention_equals_keras(ours, theirs, keras64):
    w0, grads = problem(1)
    weights, _, _ = run_steps("ftrl", grads, w0=w0, **ours)
    expected = keras_run(keras64, "Ftrl", w0, grads, **theirs)
    # l1 makes some weights exactly 0 in both; the others agree to 1e-10 of their size
    np.testing.assert_array_equal(np.array(weights) == 0.0, np.array(expected) == 0.0)
    np.testing.assert_allclose(np.array(weights), np.array(expected), rtol=1e-10, atol=0)
