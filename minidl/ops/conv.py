"""2-D convolution (cross-correlation, as in every DL framework) by im2col and one GEMM.

Shapes: input ``x`` (N, C, H, W), weight ``w`` (O, C, KH, KW), bias ``b`` (O,),
output (N, O, OH, OW) with ``OH = (H + pad_top + pad_bottom - KH) // stride + 1``.

im2col lays the receptive fields out as a matrix ``cols`` of shape
(C*KH*KW, N*OH*OW): row ``(c, i, j)`` holds ``x_padded[:, c, i::stride, j::stride]``.
It is filled with one strided copy per kernel offset (KH*KW copies, each over
all samples, channels and pixels at once), so there is no Python loop over
pixels, channels or samples. Then

    out = w.reshape(O, C*KH*KW) @ cols + b        (one GEMM)
    dw  = g @ cols.T,   db = g.sum(axis=1),   dcols = w.T @ g

where ``g`` is the output gradient laid out as (O, N*OH*OW); col2im adds
``dcols`` back into the input gradient with the same KH*KW strided slices.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.tensor import Function


def _pair(value, what):
    if isinstance(value, int):
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
        cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw].transpose(1, 0, 2, 3)
        cols = cols.reshape(c * kh * kw, n * oh * ow)
        out = w.reshape(o, -1) @ cols
        out += b[:, None]
        self.cols, self.w, self.geom = cols, w, (x.shape, n, oh, ow, stride, pads)
        # (O, N, OH, OW) -> (N, O, OH, OW): a transposed view, made contiguous once
        return xp.ascontiguousarray(out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3))

    def backward(self, g):
        xp = B.get_array_module(g)
        w = self.w
        o, c, kh, kw = w.shape
        padded_shape, n, oh, ow, (sh, sw), ((pt, pb), (pl, pr)) = self.geom
        g2 = g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        gx = gw = gb = None
        if self.needs_grad[1]:
            gw = (g2 @ self.cols.T).reshape(w.shape)
        if self.needs_grad[2]:
            gb = g2.sum(axis=1)
        if self.needs_grad[0]:
            dcols = (w.reshape(o, -1).T @ g2).reshape(c, kh, kw, n, oh, ow)
            gx = xp.zeros(padded_shape, dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    gx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += dcols[:, i, j].transpose(1, 0, 2, 3)
            if pt or pb or pl or pr:
                gx = gx[:, :, pt:padded_shape[2] - pb, pl:padded_shape[3] - pr]
        return gx, gw, gb


def conv2d(x, weight, bias, stride=1, padding="valid", layer="conv2d"):
    """Convolve ``x`` (N, C, H, W) with ``weight`` (O, C, KH, KW) and add ``bias`` (O,).

    ``padding`` is ``"valid"`` (none), ``"same"`` (output size ceil(H / stride), the
    extra row/column at the bottom/right as in Keras) or an int.
    ``layer`` names the caller in error messages.
    """
    from minidl.ops.checks import check_float, check_ndim

    stride = _pair(stride, f"{layer}: stride")
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
    return Conv2DFunction.apply(x, weight, bias, stride=stride, pads=pads)
