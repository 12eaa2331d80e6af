"""Elementwise functions beyond the Tensor's own (exp, log, relu): sin, cos, tanh, sqrt, absolute.

Each is a Function whose backward is the derivative written out:

    sin:       d/da sin(a)  = cos(a)
    cos:       d/da cos(a)  = -sin(a)
    tanh:      d/da tanh(a) = 1 - tanh(a)^2
    sqrt:      d/da sqrt(a) = 1 / (2 sqrt(a))
    absolute:  d/da |a|     = sign(a)   (0 at a = 0, as in PyTorch)

They serve the 2-D test functions (Rastrigin's cosines) and the expressions a user gives
``minidl trajectories --function``, whose gradients come from this autograd.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.tensor import Function


class Sin(Function):
    def forward(self, a):
        self.a = a
        return B.get_array_module(a).sin(a)

    def backward(self, g):
        return g * B.get_array_module(self.a).cos(self.a)


class Cos(Function):
    def forward(self, a):
        self.a = a
        return B.get_array_module(a).cos(a)

    def backward(self, g):
        return -g * B.get_array_module(self.a).sin(self.a)


class Tanh(Function):
    def forward(self, a):
        self.out = B.get_array_module(a).tanh(a)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Sqrt(Function):
    def forward(self, a):
        self.out = B.get_array_module(a).sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Absolute(Function):
    def forward(self, a):
        self.a = a
        return B.get_array_module(a).abs(a)

    def backward(self, g):
        return g * B.get_array_module(self.a).sign(self.a)


def sin(x):
    """sin(x) elementwise."""
    return Sin.apply(x)


def cos(x):
    """cos(x) elementwise."""
    return Cos.apply(x)


def tanh(x):
    """tanh(x) elementwise."""
    return Tanh.apply(x)


def sqrt(x):
    """sqrt(x) elementwise."""
    return Sqrt.apply(x)


def absolute(x):
    """|x| elementwise."""
    return Absolute.apply(x)
