"""2-D convolution (cross-correlation, as in every DL framework) by im2col and GEMMs.

Shapes: input ``x`` (N, C, H, W), weight ``w`` (O, C, KH, KW), bias ``b`` (O,),
output (N, O, OH, OW) with ``OH = (H + pad_top + pad_bottom - KH) // stride + 1``.

The definition, for every sample n, output channel o and output pixel (y, x):

    out[n, o, y, x] = b[o] + sum_{c, i, j} w[o, c, i, j] * x_padded[n, c, y*SH + i, x*SW + j]

im2col lays each sample's receptive fields out as a matrix ``cols[n]`` of shape
(C*KH*KW + 1, OH*OW): row ``(c, i, j)`` holds ``x_padded[n, c, i::SH, j::SW]``
(flattened), and the last row is all ones.  It is filled with one strided copy per
kernel offset (KH*KW copies, each over all samples, channels and pixels at once),
so there is no Python loop over pixels, channels or samples.  With the bias
appended to the weight matrix as its last column, ``wb = [w.reshape(O, C*KH*KW) | b]``
(O, C*KH*KW + 1), the sum above is one matrix product per sample:

    out[n] = wb @ cols[n]                      (O, OH*OW): already in (N, O, OH, OW) order
    dwb    = sum_n g[n] @ cols[n].T            -> dw = dwb[:, :-1], db = dwb[:, -1] = sum of g
    dcols[n] = w.reshape(O, C*KH*KW).T @ g[n]

``g[n]`` is the output gradient of sample n as (O, OH*OW); col2im adds ``dcols``
back into the input gradient with the same KH*KW strided slices.  The column of
ones computes the bias and its gradient inside the GEMMs (no separate pass over
the output), and the per-sample layout (a batched matmul) gives the output in
(N, O, OH, OW) order, so neither direction transposes the large output array.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.ops.checks import check_float, check_ndim
from minidl.tensor import Function


def pair(value, what):
    """``(a, b)`` from an int or a pair of positive ints; ``what`` names it in the error."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"{what} must be a positive int or a pair of them, got {value!r}")
    return value


def conv_padding(padding, in_hw, kernel, stride):
    """((top, bottom), (left, right)) for ``"valid"``, ``"same"`` (Keras/TF rule) or ints."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        pads = []
        for n, k, s in zip(in_hw, kernel, stride):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, int) and padding >= 0:
        return (padding, padding), (padding, padding)
    raise ValueError(f"padding must be 'valid', 'same' or a non-negative int, got {padding!r}")


def conv_output_hw(in_hw, kernel, stride, pads):
    return tuple((n + p0 + p1 - k) // s + 1 for n, k, s, (p0, p1) in zip(in_hw, kernel, stride, pads))


class Conv2DFunction(Function):
    def forward(self, x, w, b, stride=(1, 1), pads=((0, 0), (0, 0))):
        xp = B.get_array_module(x)
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        sh, sw = stride
        (pt, pb), (pl, pr) = pads
        oh, ow = conv_output_hw((h, wd), (kh, kw), stride, pads)
        if pt or pb or pl or pr:
            x = xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        k = c * kh * kw
        cols = xp.empty((n, k + 1, oh * ow), dtype=x.dtype)
        fields = cols[:, :k].reshape(n, c, kh, kw, oh, ow)   # a view: row (c, i, j) of cols
        for i in range(kh):
            for j in range(kw):
                fields[:, :, i, j] = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
        cols[:, k] = 1                                       # the bias row
        wb = xp.concatenate([w.reshape(o, k), b.reshape(o, 1)], axis=1)
        out = xp.matmul(wb, cols)                            # (N, O, OH*OW), bias included
        self.cols, self.w, self.geom = cols, w, (x.shape, n, oh, ow, stride, pads)
        return out.reshape(n, o, oh, ow)

    def backward(self, g):
        xp = B.get_array_module(g)
        w = self.w
        o, c, kh, kw = w.shape
        k = c * kh * kw
        padded_shape, n, oh, ow, (sh, sw), ((pt, pb), (pl, pr)) = self.geom
        g3 = g.reshape(n, o, oh * ow)
        gx = gw = gb = None
        if self.needs_grad[1] or self.needs_grad[2]:
            # sum over samples of g[n] @ cols[n].T: the last column is the bias gradient
            gwb = xp.matmul(g3, self.cols.transpose(0, 2, 1)).sum(axis=0)
            gw = gwb[:, :k].reshape(w.shape) if self.needs_grad[1] else None
            gb = xp.ascontiguousarray(gwb[:, k]) if self.needs_grad[2] else None
        if self.needs_grad[0]:
            dcols = xp.matmul(w.reshape(o, k).T, g3).reshape(n, c, kh, kw, oh, ow)
            gx = xp.zeros(padded_shape, dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    gx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += dcols[:, :, i, j]
            if pt or pb or pl or pr:
                gx = gx[:, :, pt:padded_shape[2] - pb, pl:padded_shape[3] - pr]
        return gx, gw, gb


def check_conv_input(x, weight, stride, padding, layer):
    """Validate a convolution's input against its weight; returns (stride pair, pads, output size)."""
    stride = pair(stride, f"{layer}: stride")
    check_ndim(x, 4, layer, "input", "(N, C, H, W)")
    check_float(x, layer, weight.dtype)
    o, c, kh, kw = weight.shape
    if x.shape[1] != c:
        raise ValueError(
            f"{layer}: expected input with {c} channels (N, {c}, H, W), got shape {tuple(x.shape)}"
        )
    pads = conv_padding(padding, x.shape[2:], (kh, kw), stride)
    out_hw = conv_output_hw(x.shape[2:], (kh, kw), stride, pads)
    if min(out_hw) < 1:
        raise ValueError(
            f"{layer}: input of spatial size {tuple(x.shape[2:])} is smaller than the "
            f"{kh}x{kw} kernel with padding {padding!r}"
        )
    return stride, pads, out_hw


def conv2d(x, weight, bias, stride=1, padding="valid", layer="conv2d"):
    """Convolve ``x`` (N, C, H, W) with ``weight`` (O, C, KH, KW) and add ``bias`` (O,).

    ``padding`` is ``"valid"`` (none), ``"same"`` (output size ceil(H / stride), the
    extra row/column at the bottom/right as in Keras) or an int.
    ``layer`` names the caller in error messages.
    """
    stride, pads, _ = check_conv_input(x, weight, stride, padding, layer)
    return Conv2DFunction.apply(x, weight, bias, stride=stride, pads=pads)
