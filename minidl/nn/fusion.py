"""Fused fast paths that ``Sequential`` takes for some runs of layers.

``Sequential.forward`` asks :func:`match` at each position whether the layers that
start there have a fused op; the one there is:

* ``Conv2D -> ReLU -> MaxPool2D`` or ``Conv2D -> MaxPool2D -> ReLU`` with a
  non-overlapping pool (stride = pool size): ``ops.fused.conv2d_maxpool2d_relu``;
  a ``Dropout`` right after it joins the op (its mask comes from the layer, drawn as
  the layer itself would draw it).

A fused op computes exactly what the layers compute one by one (the forward values
and the gradients of the input and of the parameters; tests/test_perf_parity.py), so
the layers stay the readable definition.  Only the plain layer classes are fused
(a subclass may change ``forward``).  ``with fusion.disabled(): ...`` runs the
layers one by one, e.g. to time or to inspect them.
"""
from __future__ import annotations

import contextlib

from minidl.nn.layers import Conv2D, Dropout, MaxPool2D, ReLU
from minidl.nn.module import as_tensor
from minidl.ops.fused import conv2d_maxpool2d_relu

_enabled = True

#: a Dropout right after the block joins the fused op (False: it runs as its own layer)
FUSE_DROPOUT = True


@contextlib.contextmanager
def disabled():
    """Run every Sequential layer by layer inside this block."""
    global _enabled
    old, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = old


def is_enabled() -> bool:
    return _enabled


def match(layers, i):
    """``(fn, count)``: ``fn(x)`` computes ``layers[i:i + count]`` at once; or None."""
    if not _enabled or i + 3 > len(layers):
        return None
    conv, a, b = layers[i], layers[i + 1], layers[i + 2]
    if type(conv) is not Conv2D:
        return None
    if type(a) is ReLU and type(b) is MaxPool2D:
        pool = b
    elif type(a) is MaxPool2D and type(b) is ReLU:
        pool = a
    else:
        return None
    if pool.stride != pool.pool_size:
        return None

    drop = layers[i + 3] if FUSE_DROPOUT and i + 3 < len(layers) and type(layers[i + 3]) is Dropout else None

    def fused(x):
        x = as_tensor(x)
        mask_for = None if drop is None else (lambda shape: drop.mask_for(shape, x.dtype))
        return conv2d_maxpool2d_relu(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                     pool.pool_size, layer=conv._label(), dropout=mask_for)

    return fused, 3 if drop is None else 4
