"""Lamb under the keras convention equals real Keras 3 (``keras.optimizers.Lamb``, torch backend, float64)
over 100 steps on a (3, 4) parameter; the rest of Lamb's tests are the table's (tests/optim_cases/lamb.py)."""
import numpy as np
import pytest

from keras_testutil import keras64, keras_run  # noqa: F401
from optim_testutil import problem, run_steps

VARIANTS = [
    ({}, {}),
    ({"lr": 0.01, "weight_decay": 0.05}, {"learning_rate": 0.01, "weight_decay": 0.05}),
    ({"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "clipvalue": 1.0},
     {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3, "clipvalue": 1.0}),
]
#: Keras 3.15 on torch computes the clipnorm and global_clipnorm factors in float32 even in a float64 run
#: (``ops.maximum(float64 norm, python float)`` and ``ops.minimum`` promote to float32 there), so with those
#: two the runs agree to about 1e-8, not 1e-10; Lion, whose steps are signs, agrees exactly
CLIPPED = [({"lr": 0.005, "clipnorm": 2.0}, {"learning_rate": 0.005, "clipnorm": 2.0}),
           ({"lr": 0.005, "global_clipnorm": 2.0}, {"learning_rate": 0.005, "global_clipnorm": 2.0})]


@pytest.mark.parametrize("ours, theirs", VARIANTS, ids=[str(v[0]) or "defaults" for v in VARIANTS])
def test_keras_convention_equals_keras(ours, theirs, keras64):
    w0, grads = problem(1)
    weights, _, _ = run_steps("lamb", grads, w0=w0, convention="keras", **ours)
    expected = keras_run(keras64, "Lamb", w0, grads, **theirs)
    np.testing.assert_allclose(np.array(weights), np.array(expected), rtol=1e-10, atol=0)


@pytest.mark.parametrize("ours, theirs", CLIPPED, ids=[str(v[0]) for v in CLIPPED])
def test_keras_convention_equals_keras_with_norm_clipping_to_keras_float32_factor(ours, theirs, keras64):
    w0, grads = problem(1)
    weights, _, _ = run_steps("lamb", grads, w0=w0, convention="keras", **ours)
    expected = keras_run(keras64, "Lamb", w0, grads, **theirs)
    np.testing.assert_allclose(np.array(weights), np.array(expected), rtol=1e-5, atol=0)


def test_the_paper_convention_is_not_keras_with_weight_decay(keras64):
    # the same hyperparameters, the decay in the trust ratio (paper) or before it (keras): other weights
    w0, grads = problem(1, steps=10)
    paper, _, _ = run_steps("lamb", grads, w0=w0, convention="paper", lr=0.01, eps=1e-7, weight_decay=0.5)
    expected = keras_run(keras64, "Lamb", w0, grads, learning_rate=0.01, weight_decay=0.5)
    assert np.abs(np.array(paper) - np.array(expected)).max() > 1e-4
