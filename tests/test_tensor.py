import numpy as np
import pytest

import minidl
from minidl import Tensor, no_grad


def t(x, grad=True):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=grad)


def test_micrograd_style_expression(float64):
    # f = (a*b + b**3) / a - exp(a) + log(b); check against hand derivatives
    a, b = t(2.0), t(3.0)
    f = (a * b + b ** 3) / a - a.exp() + b.log()
    f.backward()
    # df/da = -b**3 / a**2 - exp(a) = -27/4 - e^2 ; df/db = 1 + 3 b^2 / a + 1/b = 1 + 13.5 + 1/3
    assert f.item() == pytest.approx(3 + 13.5 - np.exp(2) + np.log(3))
    assert a.grad.item() == pytest.approx(-6.75 - np.exp(2))
    assert b.grad.item() == pytest.approx(1 + 13.5 + 1 / 3)


def test_gradients_accumulate(float64):
    x = t([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [2 + 3, 4 + 3])


def test_reused_node_gets_summed_gradient(float64):
    x = t(3.0)
    y = x * x
    z = y + y  # d z / d x = 4 x
    z.backward()
    assert x.grad.item() == 12.0


def test_broadcasting_gradients(float64):
    a = t(np.ones((4, 3)))
    b = t(np.array([1.0, 2.0, 3.0]))
    c = t(np.array([[2.0], [3.0], [4.0], [5.0]]))
    ((a * b + c) * 2).sum().backward()
    np.testing.assert_allclose(b.grad, [8.0, 8.0, 8.0])
    np.testing.assert_allclose(c.grad, [[6.0]] * 4)
    np.testing.assert_allclose(a.grad, np.tile([2.0, 4.0, 6.0], (4, 1)))


def test_deep_graph_has_no_recursion_limit(float64):
    x = t(1.0)
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_detach_cuts_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    base = x * 2
    y = base.detach()
    assert not y.requires_grad and y.is_leaf
    assert np.shares_memory(y.data, base.data)  # the data is shared, not copied
    z = (x * y).sum()
    z.backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_backward_on_non_scalar_needs_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"non-scalar tensor \(shape \(2,\)\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 1.0], dtype=np.float32))
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_leaf_grads_are_owned_buffers():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 10  # an optimizer may modify a grad in place
    np.testing.assert_allclose(b.grad, [1.0, 1.0])


def test_operators_and_methods_forward(float64):
    x = t([[1.0, -2.0], [3.0, 4.0]], grad=False)
    np.testing.assert_allclose((-x).data, -x.data)
    np.testing.assert_allclose((2 - x).data, 2 - x.data)
    np.testing.assert_allclose((1 / (x + 10)).data, 1 / (x.data + 10))
    np.testing.assert_allclose((x @ x).data, x.data @ x.data)
    np.testing.assert_allclose(x.T.data, x.data.T)
    np.testing.assert_allclose(x.reshape(4).data, x.data.reshape(4))
    np.testing.assert_allclose(x.max(axis=1).data, [1.0, 4.0])
    np.testing.assert_allclose(x.mean(axis=0).data, [2.0, 1.0])
    np.testing.assert_allclose(x.relu().data, [[1.0, 0.0], [3.0, 4.0]])


def test_float32_is_kept():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.5 + 1) ** 2 / 3
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


def test_parameter_basics():
    p = minidl.Parameter(np.zeros((2, 3), dtype=np.float32))
    assert p.requires_grad and p.grad is None and p.is_leaf
    with pytest.raises(TypeError, match="floating-point"):
        minidl.Parameter(np.zeros(3, dtype=np.int64))


def test_leaf_grads_never_alias_views_or_each_other():
    a = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    ((a + b).reshape(6) * 2).sum().backward()      # Reshape hands a view to Add, which gives it to both
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 10
    np.testing.assert_allclose(b.grad, np.full((2, 3), 2.0))
    c = Tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    (c + 0.0).backward(g)                           # the caller's array passes straight through
    c.grad *= 5
    np.testing.assert_allclose(g, [1.0, 1.0])
    s = Tensor([3.0], requires_grad=True)
    s.sum().backward()                              # Sum's gradient is a read-only broadcast view
    s.grad += 1                                     # must be writable (an optimizer may do this)
    np.testing.assert_allclose(s.grad, [2.0])
