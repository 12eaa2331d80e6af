"""2-D max pooling over (N, C, H, W) by strided slices.

For a pool of KH x KW and stride (SH, SW), the output is
``out[n, c, y, x] = max_{i<KH, j<KW} in[n, c, y*SH + i, x*SW + j]``,
computed as the running maximum of the KH*KW strided slices
``in[:, :, i::SH, j::SW]`` (one vectorised operation per offset).  The
forward remembers which offset won each window (the first one on ties), and
the backward sends each window's gradient to that one element only; where
windows overlap (stride < pool) the contributions add up.
Output size: ``OH = (H - KH) // SH + 1`` (no padding, as Keras's "valid").
"""
from __future__ import annotations

from minidl import backend as B
from minidl.ops.checks import check_ndim
from minidl.ops.conv import pair
from minidl.tensor import Function


class MaxPool2DFunction(Function):
    def forward(self, x, pool=(2, 2), stride=(2, 2)):
        xp = B.get_array_module(x)
        kh, kw = pool
        sh, sw = stride
        n, c, h, w = x.shape
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        out = x[:, :, 0:sh * oh:sh, 0:sw * ow:sw].copy()     # offset k = 0
        winner = xp.zeros((n, c, oh, ow), dtype=xp.uint8)  # offset (i * KW + j) of each max
        better = xp.empty((n, c, oh, ow), dtype=xp.uint8)
        for k in range(1, kh * kw):
            i, j = divmod(k, kw)
            window = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            # winner = k where this offset is strictly larger (so ties keep the first);
            # k exceeds every earlier offset, so that is max(winner, k * (window > out))
            xp.greater(window, out, out=better)
            better *= xp.uint8(k)
            xp.maximum(winner, better, out=winner)
            xp.maximum(out, window, out=out)
        self.winner, self.geom = winner, (x.shape, pool, stride, oh, ow)
        return out

    def backward(self, g):
        xp = B.get_array_module(g)
        shape, (kh, kw), (sh, sw), oh, ow = self.geom
        gx = xp.zeros(shape, dtype=g.dtype)
        overlap = sh < kh or sw < kw
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            window = gx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            if overlap:   # windows share input elements: their gradients add up
                window += g * (self.winner == k)
            else:         # each input element lies in at most one window: write in place
                xp.multiply(g, self.winner == k, out=window)
        return gx


def max_pool2d(x, pool_size=2, stride=None, layer="max_pool2d"):
    """Max-pool ``x`` (N, C, H, W); ``stride`` defaults to ``pool_size`` (as in Keras)."""
    pool = pair(pool_size, f"{layer}: pool_size")
    stride = pool if stride is None else pair(stride, f"{layer}: stride")
    check_ndim(x, 4, layer, "input", "(N, C, H, W)")
    h, w = x.shape[2:]
    if h < pool[0] or w < pool[1]:
        raise ValueError(f"{layer}: input of spatial size {(h, w)} is smaller than the pool {pool}")
    return MaxPool2DFunction.apply(x, pool=pool, stride=stride)
