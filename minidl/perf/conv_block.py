"""A fast path: convolution, then max pooling, then ReLU, as one op.

``conv2d_maxpool2d_relu(x, w, b, stride, padding, pool)`` returns exactly what the
teaching path returns::

    relu(max_pool2d(conv2d(x, w, b, stride, padding), pool))
        == max_pool2d(relu(conv2d(x, w, b, stride, padding)), pool)

(max and ReLU commute: both are monotone, so the largest element of a window is the
largest after the ReLU too, and the same element receives the gradient).  It is
used for non-overlapping pools (stride = pool size, as in Keras's default) by
``minidl.perf.fusion``, which runs it for a Conv2D -> ReLU -> MaxPool2D sequence (or
Conv2D -> MaxPool2D -> ReLU); ``tests/test_perf_parity.py`` checks that outputs and
gradients equal the layers' own composition.

Why it is faster (the three layers one by one write and read the full-size
convolution output several times):

* im2col orders each sample's output pixels by pool offset first: column
  ``(di, dj, py, px)`` is the convolution output pixel ``(py*PH + di, px*PW + dj)``
  (pool PH x PW).  The GEMM ``out[n] = wb @ cols[n]`` (bias folded in as a row of
  ones, as in ``conv.py``) then leaves the PH*PW members of every window in
  PH*PW contiguous blocks, and the pool is the running maximum of those blocks.
* the ReLU runs on the pooled output, PH*PW times smaller, and its mask comes
  from that output (``out > 0``), so nothing else is stored;
* a Dropout right after the block (``dropout=``) multiplies the output by its mask in
  place, the mask asked for only once the convolution is done (so a mask drawn in the
  background, ``perf.masks.MaskStream``, has had the convolution's time), and its backward is
  folded into the ReLU's: ``out > 0`` exactly where both the ReLU and the mask kept a value;
* backward writes the convolution's output gradient block by block (each block
  ``g * (winner == k)``), in the GEMM's own layout: no zero-fill, no strided scatter;
* pixels that no pool window covers (the last row/column of an odd-sized output)
  are never computed: they cannot change the output;
* on the CPU the GEMM, the pool and their backward run over chunks of
  ``CPU_CHUNK`` samples, so the chunk's convolution output (and its gradient) is
  still in the cache when the next step reads it; it is never written out whole.
"""
from __future__ import annotations

from minidl import backend as B
from minidl.ops.conv import check_conv_input, pair
from minidl.tensor import Function


#: samples per chunk on the CPU: the chunk's convolution output (8 x O x OH*OW floats, 0.7 MB
#: for the CNN) stays in the cache between the GEMM that writes it and the pool that reads it
CPU_CHUNK = 8


def _chunks(xp, n):
    step = CPU_CHUNK if xp is B.np else n    # on the GPU: one chunk, the largest kernels
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


class Conv2DMaxPoolReLU(Function):
    def forward(self, x, w, b, stride=(1, 1), pads=((0, 0), (0, 0)), pool=(2, 2), dropout=None):
        xp = B.get_array_module(x)
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        sh, sw = stride
        qh, qw = pool
        (pt, pb), (pl, pr) = pads
        if pt or pb or pl or pr:
            x = xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        oh = (x.shape[2] - kh) // sh + 1                  # the convolution's output size
        ow = (x.shape[3] - kw) // sw + 1
        ph, pw = oh // qh, ow // qw                        # the pooled output size
        k, q, p = c * kh * kw, qh * qw, ph * pw
        cols = xp.empty((n, k + 1, q * p), dtype=x.dtype)
        fields = cols[:, :k].reshape(n, c, kh, kw, qh, qw, ph, pw)
        for i in range(kh):
            for j in range(kw):
                for di in range(qh):
                    for dj in range(qw):
                        # conv pixel (py*QH + di, px*QW + dj) reads input row (py*QH + di)*SH + i
                        r0, c0 = di * sh + i, dj * sw + j
                        fields[:, :, i, j, di, dj] = x[:, :, r0:r0 + qh * sh * ph:qh * sh,
                                                       c0:c0 + qw * sw * pw:qw * sw]
        cols[:, k] = 1                                     # the bias row
        wb = xp.concatenate([w.reshape(o, k), b.reshape(o, 1)], axis=1)
        out = xp.empty((n, o, p), dtype=x.dtype)
        winner = xp.zeros((n, o, p), dtype=xp.uint8)      # which window member is the maximum
        chunks = _chunks(xp, n)
        z = xp.empty((chunks[0][1], o, q * p), dtype=x.dtype)
        better = xp.empty((chunks[0][1], o, p), dtype=xp.uint8)
        for lo, hi in chunks:
            m = hi - lo
            xp.matmul(wb, cols[lo:hi], out=z[:m])           # the convolution of samples lo..hi
            zq = z[:m].reshape(m, o, q, p)                 # window member r of every window: zq[:, :, r]
            pooled, win, bet = out[lo:hi], winner[lo:hi], better[:m]
            pooled[...] = zq[:, :, 0]
            for r in range(1, q):                          # as in pool.py: the first maximum wins
                xp.greater(zq[:, :, r], pooled, out=bet)
                bet *= xp.uint8(r)
                xp.maximum(win, bet, out=win)
                xp.maximum(pooled, zq[:, :, r], out=pooled)
            xp.maximum(pooled, 0, out=pooled)              # the ReLU, on the pooled values
        mask = None if dropout is None else dropout((n, o, ph, pw))
        if mask is not None:                               # a following Dropout
            mask = mask.reshape(n, o, p)
            out *= mask
        self.cols, self.w, self.winner, self.out, self.mask = cols, w, winner, out, mask
        self.geom = (x.shape, pads, stride, pool, ph, pw)
        return out.reshape(n, o, ph, pw)

    def backward(self, g):
        xp = B.get_array_module(g)
        w, cols, winner = self.w, self.cols, self.winner
        o, c, kh, kw = w.shape
        padded_shape, ((pt, pb), (pl, pr)), (sh, sw), (qh, qw), ph, pw = self.geom
        n, k, q, p = g.shape[0], c * kh * kw, qh * qw, ph * pw
        g = g.reshape(n, o, p)
        want_w = self.needs_grad[1] or self.needs_grad[2]
        gwb = xp.zeros((o, k + 1), dtype=g.dtype)
        gx = xp.zeros(padded_shape, dtype=g.dtype) if self.needs_grad[0] else None
        chunks = _chunks(xp, n)
        dz = xp.empty((chunks[0][1], o, q, p), dtype=g.dtype)
        gp = xp.empty((chunks[0][1], o, p), dtype=g.dtype)
        for lo, hi in chunks:
            m = hi - lo
            if self.mask is None:
                xp.multiply(g[lo:hi], self.out[lo:hi] > 0, out=gp[:m])    # through the ReLU
            else:                                           # through the Dropout, then the ReLU:
                xp.multiply(g[lo:hi], self.mask[lo:hi], out=gp[:m])      # out > 0 only where both kept it
                gp[:m] *= self.out[lo:hi] > 0
            for r in range(q):                              # through the pool: to each window's winner
                xp.multiply(gp[:m], winner[lo:hi] == r, out=dz[:m, :, r])
            dzc = dz[:m].reshape(m, o, q * p)
            if want_w:                                      # sum_n dz[n] @ cols[n].T; last column: bias
                gwb += xp.matmul(dzc, cols[lo:hi].transpose(0, 2, 1)).sum(axis=0)
            if gx is not None:
                dcols = xp.matmul(w.reshape(o, k).T, dzc).reshape(m, c, kh, kw, qh, qw, ph, pw)
                for i in range(kh):
                    for j in range(kw):
                        for di in range(qh):
                            for dj in range(qw):
                                r0, c0 = di * sh + i, dj * sw + j
                                gx[lo:hi, :, r0:r0 + qh * sh * ph:qh * sh,
                                   c0:c0 + qw * sw * pw:qw * sw] += dcols[:, :, i, j, di, dj]
        gw = gwb[:, :k].reshape(w.shape) if self.needs_grad[1] else None
        gb = xp.ascontiguousarray(gwb[:, k]) if self.needs_grad[2] else None
        if gx is not None and (pt or pb or pl or pr):
            gx = gx[:, :, pt:padded_shape[2] - pb, pl:padded_shape[3] - pr]
        return gx, gw, gb


def conv2d_maxpool2d_relu(x, weight, bias, stride=1, padding="valid", pool_size=2, layer="conv2d",
                          dropout=None):
    """``relu(max_pool2d(conv2d(x, weight, bias, stride, padding), pool_size))`` in one op.

    Only for non-overlapping pools (the pool's stride equals its size).  ``dropout``: a
    function of the output's shape that returns the scaled keep-mask of a Dropout that
    follows (or None for none); the op then returns ``relu(...) * mask``, exactly what
    ``ops.dropout(relu(...), rate, mask=mask)`` returns, values and gradients.
    """
    stride, pads, (oh, ow) = check_conv_input(x, weight, stride, padding, layer)
    pool = pair(pool_size, f"{layer}: pool_size")
    if oh < pool[0] or ow < pool[1]:
        raise ValueError(f"{layer}: convolution output of size {(oh, ow)} is smaller than the pool {pool}")
    return Conv2DMaxPoolReLU.apply(x, weight, bias, stride=stride, pads=pads, pool=pool, dropout=dropout)
