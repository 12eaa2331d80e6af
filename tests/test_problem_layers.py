"""Gradient checks of the layers the problem suite adds (float64 finite differences)."""
import numpy as np
import pytest

from minidl import backend as B
from minidl import gradcheck, models, nn
from minidl.nn.quadratic import mean_output


def _quadratic_layer(dim=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((dim, dim))
    with B.default_dtype("float64"):
        return nn.QuadraticForm(a @ a.T + np.eye(dim), init=0.5)


def test_quadratic_form_value_by_hand():
    # Q = diag(2, 4), theta = (1, 1), x = (0, 3): d = (1, -2), 0.5 * (2 * 1 + 4 * 4) = 9
    with B.default_dtype("float64"):
        layer = nn.QuadraticForm(np.diag([2.0, 4.0]), init=1.0)
        out = layer(np.array([[0.0, 3.0]]))
    assert out.shape == (1, 1)
    assert float(out.data[0, 0]) == 9.0


def test_quadratic_form_gradient_of_theta_and_input():
    layer = _quadratic_layer()
    x = np.random.default_rng(1).standard_normal((3, 1, 1, 4))
    assert gradcheck(lambda theta, data: layer(data), [layer.theta, x])


def test_quadratic_form_gradient_is_q_times_difference():
    layer = _quadratic_layer()
    x = np.random.default_rng(2).standard_normal((5, 4))
    layer.theta.grad = None
    mean_output(layer(x), None).backward()
    expected = ((B.to_numpy(layer.theta.data) - x) @ B.to_numpy(layer.hessian.data)).mean(axis=0)
    np.testing.assert_allclose(B.to_numpy(layer.theta.grad), expected, rtol=1e-12)


@pytest.mark.parametrize("bad,message", [(np.ones((2, 3)), "square"), (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric")])
def test_quadratic_form_rejects_bad_hessians(bad, message):
    with pytest.raises(ValueError, match=message):
        nn.QuadraticForm(bad)


def test_quadratic_form_names_a_wrong_input_size():
    with pytest.raises(ValueError, match=r"QuadraticForm\(4\): expected 4 values per example"):
        _quadratic_layer()(np.zeros((2, 5)))


def test_same_padding_conv_of_2c2d_passes_a_gradient_check():
    with B.default_dtype("float64"):
        conv = nn.Conv2D(2, 3, 5, padding="same", rng=0)
    x = np.random.default_rng(3).standard_normal((2, 2, 6, 6))
    assert gradcheck(lambda w, b, data: conv(data), [conv.weight, conv.bias, x])


def test_deepobs_hessian_has_the_stated_spectrum():
    hessian, eigenvalues = models.deepobs_quadratic_hessian()
    found = np.sort(np.linalg.eigvalsh(hessian))
    np.testing.assert_allclose(found, np.sort(eigenvalues), atol=1e-9)
    assert (found[:90] < 1).all() and (found[90:] > 30).all() and found[-1] < 60


def test_random_rotation_is_a_rotation():
    rotation = models.random_rotation(7, np.random.RandomState(0))
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(7), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
