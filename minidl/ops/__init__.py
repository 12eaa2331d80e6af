"""Differentiable operations (the functional API), each a Function with forward and backward.

The Tensor's own operators (+ - * / @ **, sum, mean, max, reshape, ...) live beside
``Tensor`` in ``minidl/tensor.py``.  Here, the layers' ops, one module per family:
``conv`` (conv2d by im2col), ``pool`` (max_pool2d), ``noise`` (dropout), ``affine``
(linear), ``loss`` (softmax, log_softmax and the fused softmax cross-entropy),
``elementwise`` (sin, cos, tanh, sqrt, absolute), and the input checks they share (``checks``).
"""
from minidl.ops.affine import linear
from minidl.ops.conv import conv2d, pair
from minidl.ops.elementwise import absolute, cos, sin, sqrt, tanh
from minidl.ops.loss import accuracy, log_softmax, softmax, softmax_cross_entropy
from minidl.ops.noise import dropout, dropout_mask
from minidl.ops.pool import max_pool2d
from minidl.tensor import unbroadcast


def relu(x):
    """max(x, 0) elementwise."""
    return x.relu()


def flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return x.reshape(x.shape[0], -1)


__all__ = [
    "conv2d", "max_pool2d", "dropout", "dropout_mask", "linear", "relu", "flatten", "pair",
    "softmax", "log_softmax", "softmax_cross_entropy", "accuracy", "unbroadcast",
    "sin", "cos", "tanh", "sqrt", "absolute",
]
