"""Differentiable operations (the functional API), each a Function with forward and backward.

``basic``: the Tensor's operators (+ - * / @ **, sum, mean, max, reshape, ...);
``conv``, ``pool``, ``dropout``, ``linear``: the layers' ops;
``loss``: softmax, log_softmax and the fused softmax cross-entropy.
"""
from minidl.ops.basic import unbroadcast
from minidl.ops.conv import conv2d
from minidl.ops.dropout import MaskStream, dropout, dropout_mask
from minidl.ops.linear import linear
from minidl.ops.loss import accuracy, log_softmax, softmax, softmax_cross_entropy
from minidl.ops.pool import max_pool2d


def relu(x):
    """max(x, 0) elementwise."""
    return x.relu()


def flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return x.reshape(x.shape[0], -1)


__all__ = [
    "conv2d", "max_pool2d", "dropout", "dropout_mask", "MaskStream", "linear", "relu", "flatten",
    "softmax", "log_softmax", "softmax_cross_entropy", "accuracy", "unbroadcast",
]
