"""Finite-difference checks of every op and layer (float64)."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, gradcheck, nn, ops
from minidl.gradient_check import GradcheckError

rng = np.random.default_rng(0)


def r(*shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("name,fn,inputs", [
    ("add_broadcast", lambda a, b: a + b, [r(3, 4), r(4)]),
    ("sub", lambda a, b: a - b, [r(3, 1), r(1, 4)]),
    ("rsub", lambda a: 2.0 - a, [r(3)]),
    ("mul_broadcast", lambda a, b: a * b, [r(2, 3, 4), r(3, 1)]),
    ("div", lambda a, b: a / b, [r(3, 4), r(4) ** 2 + 0.5]),
    ("rdiv", lambda a: 1.0 / a, [np.abs(r(5)) + 0.5]),
    ("neg", lambda a: -a, [r(3)]),
    ("pow", lambda a: a ** 3, [r(4)]),
    ("pow_frac", lambda a: a ** 0.5, [np.abs(r(4)) + 0.5]),
    ("matmul", lambda a, b: a @ b, [r(3, 4), r(4, 5)]),
    ("matmul_vec", lambda a, b: a @ b, [r(3, 4), r(4)]),
    ("matmul_batched", lambda a, b: a @ b, [r(2, 3, 4), r(4, 2)]),
    ("sum_all", lambda a: a.sum(), [r(3, 4)]),
    ("sum_axis", lambda a: a.sum(axis=1), [r(3, 4, 2)]),
    ("sum_keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), [r(3, 4, 2)]),
    ("mean", lambda a: a.mean(axis=0), [r(3, 4)]),
    ("mean_all", lambda a: a.mean(), [r(3, 4)]),
    ("max_axis", lambda a: a.max(axis=1), [r(4, 5)]),
    ("max_all", lambda a: a.max(), [r(4, 5)]),
    ("reshape", lambda a: a.reshape(2, 6), [r(3, 4)]),
    ("transpose", lambda a: a.transpose(2, 0, 1), [r(2, 3, 4)]),
    ("T", lambda a: a.T, [r(2, 3)]),
    ("getitem", lambda a: a[1:, ::2], [r(3, 4)]),
    ("exp", lambda a: a.exp(), [r(3, 2)]),
    ("log", lambda a: a.log(), [np.abs(r(3, 2)) + 0.1]),
    ("relu", lambda a: a.relu(), [r(4, 5) + 0.05]),
    ("sin", lambda a: ops.sin(a), [r(3, 4)]),
    ("cos", lambda a: ops.cos(a), [r(3, 4)]),
    ("tanh", lambda a: ops.tanh(a), [r(3, 4)]),
    ("sqrt", lambda a: ops.sqrt(a), [np.abs(r(3, 4)) + 0.2]),
    ("absolute", lambda a: ops.absolute(a), [r(3, 4) + 0.05]),
    ("softmax", lambda a: ops.softmax(a), [r(3, 5)]),
    ("log_softmax", lambda a: ops.log_softmax(a), [r(3, 5)]),
    ("linear", lambda x, w, b: ops.linear(x, w, b), [r(4, 3), r(3, 2), r(2)]),
    ("flatten", lambda a: ops.flatten(a), [r(2, 3, 2, 2)]),
])
def test_op_gradients(name, fn, inputs):
    assert gradcheck(fn, inputs)


def test_softmax_cross_entropy_integer_labels():
    labels = np.array([0, 2, 1, 2])
    assert gradcheck(lambda z, y: ops.softmax_cross_entropy(z, y), [r(4, 3), labels])


def test_softmax_cross_entropy_one_hot():
    onehot = np.eye(3)[[1, 0, 2]]
    assert gradcheck(lambda z: ops.softmax_cross_entropy(z, Tensor(onehot)), [r(3, 3)])


@pytest.mark.parametrize("stride,padding,shape", [
    (1, "valid", (2, 2, 6, 5)),
    (1, "same", (2, 2, 5, 5)),
    (2, "valid", (2, 3, 7, 7)),
    (2, "same", (1, 2, 6, 7)),
    ((2, 1), 1, (2, 1, 5, 6)),
])
def test_conv2d_gradients(stride, padding, shape):
    w = r(3, shape[1], 3, 2)
    b = r(3)
    assert gradcheck(lambda x, w, b: ops.conv2d(x, w, b, stride=stride, padding=padding), [r(*shape), w, b])


@pytest.mark.parametrize("pool,stride", [(2, None), (3, 2), (2, 1), ((2, 3), (1, 2))])
def test_max_pool_gradients(pool, stride):
    # distinct values so that each window has one clear maximum
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0
    assert gradcheck(lambda x: ops.max_pool2d(x, pool, stride), [x])


def test_max_pool_sends_gradient_to_one_element_per_window():
    x = Tensor(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]), requires_grad=True)  # ties: one winner
    ops.max_pool2d(x, 2).sum().backward()
    assert x.grad.sum() == 1.0 and x.grad[0, 0, 0, 0] == 1.0


def test_dropout_with_fixed_mask():
    mask = (rng.random((4, 5)) > 0.3) / 0.7
    assert gradcheck(lambda x: ops.dropout(x, 0.3, mask=Tensor(mask).data), [r(4, 5)])


def _layer_check(layer, x, loss=None):
    """Check d(out)/d(input) and d(out)/d(every parameter) of a float64 layer."""
    def fn(x, *params):  # the params are the layer's own, reached through the layer
        out = layer(x)
        return loss(out) if loss else out

    assert gradcheck(fn, [x, *layer.parameters()])


def test_dense_layer(float64):
    _layer_check(nn.Dense(4, 3, rng=0), r(5, 4))


def test_conv_layer_same_stride2(float64):
    _layer_check(nn.Conv2D(2, 3, 3, stride=2, padding="same", rng=0), r(2, 2, 6, 6))


def test_conv_layer_valid(float64):
    _layer_check(nn.Conv2D(1, 2, (3, 2), rng=0), r(2, 1, 5, 6))


def test_maxpool_layer_overlapping(float64):
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) / 10.0
    _layer_check(nn.MaxPool2D(3, stride=2), x)


def test_flatten_and_relu_layers(float64):
    _layer_check(nn.Sequential(nn.ReLU(), nn.Flatten()), r(2, 3, 2, 2) + 0.05)


def test_dropout_layer_in_eval_mode_is_identity(float64):
    layer = nn.Dropout(0.5, seed=0).eval()
    x = r(3, 4)
    np.testing.assert_array_equal(layer(Tensor(x)).data, x)
    _layer_check(layer, x)


def test_small_cnn_end_to_end(float64):
    model = nn.Sequential(nn.Conv2D(1, 2, 3, rng=0), nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(),
                          nn.Dense(2 * 3 * 3, 3, rng=1))
    labels = np.array([0, 2])
    x = rng.permutation(2 * 8 * 8).reshape(2, 1, 8, 8) / 50.0
    _layer_check(model, x, loss=lambda out: ops.softmax_cross_entropy(out, labels))


def test_gradcheck_detects_a_wrong_backward():
    class BadSquare(minidl.tensor.Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, g):
            return g * self.a  # should be 2 * g * a

    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda a: BadSquare.apply(a), [r(3)])
