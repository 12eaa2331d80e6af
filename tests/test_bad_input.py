"""Bad input raises ValueError/TypeError naming the layer, what it expected and what it got."""
import numpy as np
import pytest

from minidl import Tensor, models, nn, ops


def f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def test_conv_wrong_rank():
    with pytest.raises(ValueError, match=r"Conv2D\(1->32\): expected a 4-D input \(N, C, H, W\), got shape \(28, 28\)"):
        nn.Conv2D(1, 32, 3)(f32(28, 28))


def test_conv_channel_mismatch():
    with pytest.raises(ValueError, match=r"Conv2D\(1->32\): expected input with 1 channels .* got shape \(2, 3, 28, 28\)"):
        nn.Conv2D(1, 32, 3)(f32(2, 3, 28, 28))


def test_conv_integer_input():
    with pytest.raises(TypeError, match=r"Conv2D\(1->32\): expected floating-point input, got dtype uint8"):
        nn.Conv2D(1, 32, 3)(np.zeros((2, 1, 28, 28), dtype=np.uint8))


def test_conv_float64_input_into_float32_layer():
    with pytest.raises(TypeError, match=r"expected input of dtype float32 .* got float64"):
        nn.Conv2D(1, 2, 3)(np.zeros((1, 1, 5, 5)))


def test_conv_input_smaller_than_kernel():
    with pytest.raises(ValueError, match=r"smaller than the 3x3 kernel"):
        nn.Conv2D(1, 2, 3)(f32(1, 1, 2, 2))


def test_dense_feature_mismatch():
    with pytest.raises(ValueError, match=r"Dense\(5408->256\): expected input with 5408 features .* got shape \(64, 100\)"):
        nn.Dense(5408, 256)(f32(64, 100))


def test_dense_wrong_rank():
    with pytest.raises(ValueError, match=r"Dense\(4->2\): expected a 2-D input"):
        nn.Dense(4, 2)(f32(3, 2, 2))


def test_model_on_wrong_image_size_names_the_dense_layer():
    with pytest.raises(ValueError, match=r"Dense\(5408->256\).*got shape \(2, 7200\)"):
        models.mnist_cnn(seed=0)(f32(2, 1, 32, 32))


def test_maxpool_wrong_rank_and_too_small():
    with pytest.raises(ValueError, match=r"MaxPool2D\(2, 2\): expected a 4-D input"):
        nn.MaxPool2D(2)(f32(4, 4))
    with pytest.raises(ValueError, match=r"smaller than the pool"):
        nn.MaxPool2D(3)(f32(1, 1, 2, 2))


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Conv2D(0, 2, 3), "in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2D(1, 2, 3, padding="full"), "padding must be 'valid', 'same'"),
    (lambda: nn.Conv2D(1, 2, 3, stride=0), "stride must be a positive int"),
    (lambda: nn.Dense(3, -1), "out_features must be a positive int, got -1"),
    (lambda: nn.Dropout(1.0), r"rate must be a number in \[0, 1\), got 1.0"),
    (lambda: nn.Dropout(-0.1), r"rate must be a number in \[0, 1\)"),
    (lambda: nn.MaxPool2D(0), "pool_size must be a positive int"),
    (lambda: nn.Sequential(nn.ReLU(), "relu"), "argument 1 must be a Module, got str"),
])
def test_bad_layer_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\] for 10 classes, got values from 0 to 10"):
        ops.softmax_cross_entropy(Tensor(f32(2, 10)), np.array([0, 10]))


def test_labels_wrong_count_and_dtype():
    with pytest.raises(ValueError, match="3 rows of logits but 2 labels"):
        ops.softmax_cross_entropy(Tensor(f32(3, 10)), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class labels expected, got dtype float64"):
        ops.softmax_cross_entropy(Tensor(f32(2, 10)), np.array([0.0, 1.0]))


def test_one_hot_shape_mismatch():
    with pytest.raises(ValueError, match=r"one-hot targets must have the logits' shape \(2, 10\), got \(2, 3\)"):
        ops.softmax_cross_entropy(Tensor(f32(2, 10)), np.zeros((2, 3)))


def test_backward_on_non_scalar_without_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="a gradient must be given for a non-scalar tensor"):
        (x * x).backward()


def test_matmul_shape_mismatch():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) do not align"):
        Tensor(f32(2, 3)) @ Tensor(f32(2, 3))
