"""Layers and containers: ``Module``, ``Sequential`` and thin layers over ``minidl.ops``."""
from minidl.nn import init
from minidl.nn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from minidl.nn.module import Module, Sequential
from minidl.nn.quadratic import QuadraticForm

__all__ = ["Module", "Sequential", "Conv2D", "Dense", "Dropout", "Flatten", "MaxPool2D", "ReLU", "QuadraticForm", "init"]
