"""Weight initialisation as Keras does it by default: Glorot (Xavier) uniform weights, zero biases.

    W ~ U(-limit, limit),   limit = sqrt(6 / (fan_in + fan_out))

Dense (in, out): fan_in = in, fan_out = out.
Conv2D (O, C, KH, KW): fan_in = C*KH*KW, fan_out = O*KH*KW.

Values are drawn on the host from a numpy Generator and then moved to the
active backend, so a seed gives the same initial weights on NumPy and CuPy.
``manual_seed(seed)`` seeds the generator used when a layer is given none.
"""
from __future__ import annotations

import math

from minidl import backend as B

_global_rng = B.np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator that layers built without an explicit ``rng`` draw from."""
    global _global_rng
    _global_rng = B.np.random.default_rng(seed)


def make_rng(rng=None):
    """A host numpy Generator: ``rng`` itself, a new one seeded by an int, or the global one."""
    if rng is None:
        return _global_rng
    if isinstance(rng, int):
        return B.np.random.default_rng(rng)
    return rng


def fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def glorot_uniform(shape, rng=None, dtype=None):
    """A backend array of ``shape`` drawn from Glorot uniform."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    host = make_rng(rng).uniform(-limit, limit, size=shape)
    return B.asarray(host, dtype=dtype or B.get_default_dtype())


def zeros(shape, dtype=None):
    return B.zeros(shape, dtype=dtype)
