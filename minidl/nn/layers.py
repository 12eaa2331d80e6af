"""Thin layers over the ops in ``minidl.ops``: each holds its parameters and calls one op.

Signatures follow Keras's arguments in PyTorch's channels-first layout:
``Conv2D(in_channels, out_channels, kernel_size, stride=1, padding="valid")``,
``MaxPool2D(pool_size, stride=None)``, ``Dropout(rate, seed=None)``,
``Dense(in_features, out_features)``, ``Flatten()``, ``ReLU()``.
"""
from __future__ import annotations

from minidl import backend as B
from minidl import ops
from minidl.nn import init
from minidl.nn.module import Module, as_tensor
from minidl.tensor import Parameter


def _positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return value


class Conv2D(Module):
    """2-D convolution over NCHW input; weight (out, in, kh, kw), Glorot-uniform, zero bias."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="valid", *, rng=None):
        super().__init__()
        _positive_int(in_channels, "in_channels", "Conv2D")
        _positive_int(out_channels, "out_channels", "Conv2D")
        kh, kw = ops.pair(kernel_size, "Conv2D: kernel_size")
        ops.pair(stride, "Conv2D: stride")
        if padding not in ("valid", "same") and not (isinstance(padding, int) and padding >= 0):
            raise ValueError(f"Conv2D: padding must be 'valid', 'same' or an int >= 0, got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.weight = Parameter(init.glorot_uniform((out_channels, in_channels, kh, kw), rng))
        self.bias = Parameter(init.zeros((out_channels,)))

    def forward(self, x):
        return ops.conv2d(as_tensor(x), self.weight, self.bias, self.stride, self.padding, layer=self.label())

    def label(self):
        return f"Conv2D({self.in_channels}->{self.out_channels})"

    def extra_repr(self):
        kh, kw = self.kernel_size
        return f"{self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding!r}"


class Dense(Module):
    """Fully connected: ``y = x @ W + b`` with W (in_features, out_features) as in Keras."""

    def __init__(self, in_features, out_features, *, rng=None):
        super().__init__()
        _positive_int(in_features, "in_features", "Dense")
        _positive_int(out_features, "out_features", "Dense")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.glorot_uniform((in_features, out_features), rng))
        self.bias = Parameter(init.zeros((out_features,)))

    def forward(self, x):
        return ops.linear(as_tensor(x), self.weight, self.bias, layer=self.label())

    def label(self):
        return f"Dense({self.in_features}->{self.out_features})"

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"


class MaxPool2D(Module):
    """Max pooling over NCHW input; ``stride`` defaults to ``pool_size``."""

    def __init__(self, pool_size=2, stride=None):
        super().__init__()
        self.pool_size = ops.pair(pool_size, "MaxPool2D: pool_size")
        self.stride = self.pool_size if stride is None else ops.pair(stride, "MaxPool2D: stride")

    def forward(self, x):
        return ops.max_pool2d(as_tensor(x), self.pool_size, self.stride, layer=self.label())

    def label(self):
        return f"MaxPool2D{self.pool_size}"

    def extra_repr(self):
        return f"pool_size={self.pool_size}, stride={self.stride}"


class Dropout(Module):
    """Inverted dropout: ``rate`` is the fraction of units dropped (as in Keras); identity in eval mode."""

    def __init__(self, rate, seed=None):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = B.default_rng(seed)

    def forward(self, x):
        x = as_tensor(x)
        if not self.training or self.rate == 0.0:
            return x
        mask = ops.dropout_mask(x.shape, self.rate, self.rng, x.dtype)
        return ops.dropout(x, self.rate, training=True, mask=mask)

    def get_rng_state(self):
        """The generator's state (a JSON-able dict) on NumPy; used by checkpoints."""
        return self.rng.bit_generator.state

    def set_rng_state(self, state):
        self.rng.bit_generator.state = state

    def extra_repr(self):
        return f"rate={self.rate}"


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W)."""

    def forward(self, x):
        return ops.flatten(as_tensor(x))


class ReLU(Module):
    def forward(self, x):
        return as_tensor(x).relu()
