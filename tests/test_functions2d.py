"""The 2-D test functions: values at known points and hand-written gradients vs finite differences."""
import numpy as np
import pytest

from minidl import backend as B
from minidl.lab import functions2d as F


@pytest.mark.parametrize("name", list(F.FUNCTIONS))
def test_gradient_matches_finite_differences(name):
    fn = F.get(name)
    rng = np.random.default_rng(0)
    h = 1e-6
    for _ in range(5):
        w = np.array([rng.uniform(*fn.xlim), rng.uniform(*fn.ylim)]) * 0.5
        g = fn.grad(w)
        for i in range(2):
            e = np.zeros(2)
            e[i] = h
            fd = (fn.value(w + e) - fn.value(w - e)) / (2 * h)
            assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", [n for n, f in F.FUNCTIONS.items() if f.minimum is not None])
def test_minimum_is_stationary_with_the_stated_value(name):
    fn = F.get(name)
    w = np.array(fn.minimum)
    assert fn.value(w) == pytest.approx(fn.min_value, abs=1e-12)
    assert np.abs(fn.grad(w)).max() < 1e-10


def test_known_values():
    # rosenbrock(-1.2, 1) = 2.2^2 + 100 (1 - 1.44)^2 = 4.84 + 19.36 = 24.2
    assert F.get("rosenbrock").value(np.array([-1.2, 1.0])) == pytest.approx(24.2)
    # beale(0, 0) = 1.5^2 + 2.25^2 + 2.625^2 = 2.25 + 5.0625 + 6.890625 = 14.203125
    assert F.get("beale").value(np.array([0.0, 0.0])) == pytest.approx(14.203125)
    # quadratic: curvatures 1 and 100, so f(1, 1) = (1 + 100) / 2 and grad = (1, 100)
    q = F.get("quadratic")
    assert q.value(np.array([1.0, 1.0])) == pytest.approx(50.5)
    np.testing.assert_allclose(q.grad(np.array([1.0, 1.0])), [1.0, 100.0])
    # saddle: grad (2x, -2y), no minimum
    np.testing.assert_allclose(F.get("saddle").grad(np.array([1.0, 1.0])), [2.0, -2.0])
    assert F.get("saddle").minimum is None
    # sphere: g = w (explain's worked examples)
    np.testing.assert_allclose(F.get("sphere").grad(np.array([1.0, -2.0])), [1.0, -2.0])
    # rastrigin(1, 0) = 20 + 1 + 0 - 10 cos(2 pi) - 10 cos(0) = 21 - 20 = 1
    assert F.get("rastrigin").value(np.array([1.0, 0.0])) == pytest.approx(1.0)


def test_grad_keeps_the_array_module_and_dtype(backend_name):
    w = B.xp().asarray([0.5, -0.25], dtype=np.float32)
    for fn in F.FUNCTIONS.values():
        g = fn.grad(w)
        assert B.get_array_module(g) is B.get_array_module(w)
        assert g.dtype == w.dtype and g.shape == (2,)


def test_grid_evaluation_for_contours():
    X, Y = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
    for fn in F.FUNCTIONS.values():
        assert fn.value_xy(X, Y).shape == (3, 4)


def test_unknown_function_lists_the_names():
    with pytest.raises(ValueError, match="accepted: quadratic, rosenbrock"):
        F.get("himmelblau")


@pytest.mark.parametrize("name", list(F.FUNCTIONS))
def test_autograd_equals_the_hand_derived_gradient(name):
    fn = F.get(name)
    rng = np.random.default_rng(1)
    for _ in range(50):
        w = np.array([rng.uniform(*fn.xlim), rng.uniform(*fn.ylim)])
        auto, hand = fn.grad(w), fn.hand_grad(w)
        np.testing.assert_allclose(auto, hand, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(hand).max()))


def test_a_registered_function_is_found_by_name_and_cannot_shadow_a_built_in():
    import dataclasses

    mine = dataclasses.replace(F.get("sphere"), name="mine-for-a-test")
    assert F.register(mine) is F.get("mine-for-a-test")
    with pytest.raises(ValueError, match="built-in"):
        F.register(dataclasses.replace(mine, name="quadratic"))
    F.USER_FUNCTIONS.pop("mine-for-a-test")
