"""The fast paths in the ops give the results of the plain formulas they replace.

* conv2d (per-sample im2col, bias folded into the GEMM) equals the convolution's
  definition, a sum over kernel offsets, built from the Tensor's basic ops;
* max_pool2d (running max of strided windows) equals the max over each window
  (reshape + max), with the gradient going to the first maximum on ties;
* ReLU as maximum(x, 0) equals x * (x > 0), gradient g * (x > 0);
* the dropout mask written in place equals (u >= rate) / (1 - rate) from the same draws;
* the fused Conv2D -> ReLU -> MaxPool2D op (minidl.perf) equals the three layers one by one
  (and relu(pool(x)) equals pool(relu(x)) exactly), forward and gradients;
* ``perf.fuse`` takes the fused path only where it applies; a plain Sequential never does;
* dropout masks drawn ahead (``perf.masks.MaskStream``) are the masks drawn in place;
* every optimizer's rule run in parts over threads (``perf.split_updates``) is bitwise the
  rule run whole.

GPU: the training step makes no host-device copies (skipped without CuPy).
"""
import numpy as np
import pytest

from minidl import backend as B
from minidl import models, nn, ops, optim, perf
from minidl.ops import noise as dropout_module
from minidl.perf import threads
from minidl.perf.conv_block import Conv2DMaxPoolReLU, conv2d_maxpool2d_relu
from minidl.perf.masks import MaskStream
from minidl.tensor import Parameter, Tensor


def leaf(a):
    return Tensor(a, requires_grad=True)


def conv_by_definition(x, w, b, stride, pad):
    """out[n,o,y,x] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n,c,y*s+i,x*s+j], from basic Tensor ops.

    ``x`` is the already padded input (a Tensor); one GetItem + MatMul per kernel offset.
    """
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]   # (N, C, OH, OW)
            term = patch.transpose(0, 2, 3, 1) @ w[:, :, i, j].transpose()       # (N, OH, OW, O)
            out = term if out is None else out + term
    return (out + b).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("c,stride,padding", [(1, 1, "valid"), (3, 2, "valid"), (2, 1, "same"), (2, 2, 1)])
def test_conv2d_equals_its_definition(float64, c, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, c, 9, 8))
    w = rng.standard_normal((4, c, 3, 3))
    b = rng.standard_normal(4)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    y = ops.conv2d(xt, wt, bt, stride=stride, padding=padding)
    g = rng.standard_normal(y.shape)
    y.backward(g)

    (pt, pb), (pl, pr) = ops.conv.conv_padding(padding, x.shape[2:], (3, 3), (stride, stride))
    xp_ = leaf(np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr))))
    w2, b2 = leaf(w), leaf(b)
    ref = conv_by_definition(xp_, w2, b2, stride, None)
    ref.backward(g)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad, w2.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bt.grad, b2.grad, rtol=1e-12, atol=1e-12)
    gx_ref = xp_.grad[:, :, pt:xp_.shape[2] - pb, pl:xp_.shape[3] - pr]
    np.testing.assert_allclose(xt.grad, gx_ref, rtol=1e-12, atol=1e-12)


def test_max_pool_equals_reshape_max(float64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 6))   # continuous values: no ties
    a = leaf(x)
    y = ops.max_pool2d(a, 2)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    b = leaf(x)
    ref = b.reshape(2, 3, 4, 2, 3, 2).max(axis=(3, 5))
    ref.backward(g)
    np.testing.assert_array_equal(y.numpy(), ref.numpy())
    np.testing.assert_array_equal(a.grad, b.grad)


@pytest.mark.parametrize("pool,stride,shape", [(2, 2, (2, 2, 7, 9)), (3, 2, (2, 2, 9, 8)), (2, 1, (1, 2, 5, 5))])
def test_max_pool_equals_window_loop(float64, pool, stride, shape):
    """Window by window, the gradient to the first maximum (ties from rounded values)."""
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal(shape), 1)        # rounding makes ties
    a = leaf(x)
    y = ops.max_pool2d(a, pool, stride)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    n, c, h, w = shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    ref, gref = np.empty((n, c, oh, ow)), np.zeros(shape)
    for ni in range(n):
        for ci in range(c):
            for yi in range(oh):
                for xi in range(ow):
                    win = x[ni, ci, yi * stride:yi * stride + pool, xi * stride:xi * stride + pool]
                    r, s = divmod(int(np.argmax(win)), pool)   # argmax: the first maximum
                    ref[ni, ci, yi, xi] = win[r, s]
                    gref[ni, ci, yi * stride + r, xi * stride + s] += g[ni, ci, yi, xi]
    np.testing.assert_array_equal(y.numpy(), ref)
    np.testing.assert_allclose(a.grad, gref, rtol=1e-14, atol=0)


def test_relu_equals_mask_formula():
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.5, -1e-30]], dtype=np.float32)
    g = np.arange(1, 7, dtype=np.float32).reshape(1, 6)
    a = leaf(x)
    y = a.relu()
    y.backward(g)
    np.testing.assert_array_equal(y.numpy(), x * (x > 0))
    np.testing.assert_array_equal(a.grad, g * (x > 0))
    assert y.dtype == np.float32 and a.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_equals_formula(dtype):
    mask = dropout_module.dropout_mask((50, 40), 0.3, np.random.default_rng(5), dtype)
    u = np.random.default_rng(5).random((50, 40), dtype=dtype)
    np.testing.assert_array_equal(mask, (u >= 0.3).astype(dtype) * dtype(1.0 / 0.7))
    assert mask.dtype == dtype


# ------------------------------------------------------------------ fused conv -> pool -> relu
FUSED_CASES = [
    # (N, C, H, W), out channels, kernel, stride, padding, pool
    ((3, 1, 12, 12), 4, 3, 1, "valid", 2),     # the CNN's block, smaller
    ((2, 3, 11, 9), 5, 3, 1, "valid", 2),      # odd conv output: last row/column not pooled
    ((2, 2, 9, 11), 3, 3, 2, "same", 2),
    ((2, 2, 10, 9), 3, 2, 1, 1, 3),
    ((2, 2, 12, 12), 3, 3, 1, "valid", (2, 3)),
]


def _three_layers(x, w, b, stride, padding, pool, relu_first):
    h = ops.conv2d(x, w, b, stride=stride, padding=padding)
    if relu_first:
        return ops.max_pool2d(h.relu(), pool)
    return ops.max_pool2d(h, pool).relu()


@pytest.mark.parametrize("relu_first", [True, False])
@pytest.mark.parametrize("shape,o,k,stride,padding,pool", FUSED_CASES)
def test_fused_conv_pool_relu_equals_layers(float64, shape, o, k, stride, padding, pool, relu_first):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((o, shape[1], k, k))
    w_flat = np.abs(w).reshape(o, -1).sum(axis=1)
    b = rng.standard_normal(o) * 0.5 - 0.5 * w_flat     # about half of the pooled values <= 0
    xf, wf, bf = leaf(x), leaf(w), leaf(b)
    y = conv2d_maxpool2d_relu(xf, wf, bf, stride, padding, pool)
    xr, wr, br = leaf(x), leaf(w), leaf(b)
    ref = _three_layers(xr, wr, br, stride, padding, pool, relu_first)
    assert y.shape == ref.shape
    assert (ref.numpy() == 0).any() and (ref.numpy() > 0).any()   # the ReLU matters here
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ref.backward(g)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    for fast, plain in ((xf, xr), (wf, wr), (bf, br)):
        np.testing.assert_allclose(fast.grad, plain.grad, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("relu_first", [True, False])
@pytest.mark.parametrize("shape,o,k,stride,padding,pool", FUSED_CASES)
def test_fused_block_with_dropout_equals_the_four_layers(float64, shape, o, k, stride, padding, pool,
                                                         relu_first):
    # the Dropout after the block joins the fused op: the same values and gradients as the
    # block's op followed by ops.dropout with the same mask, bit for bit
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((o, shape[1], k, k))
    b = rng.standard_normal(o) * 0.5 - 0.5 * np.abs(w).reshape(o, -1).sum(axis=1)
    masks = []

    def draw(shape):
        masks.append(dropout_module.dropout_mask(shape, 0.4, np.random.default_rng(9), np.float64))
        return masks[-1]

    xf, wf, bf = leaf(x), leaf(w), leaf(b)
    y = conv2d_maxpool2d_relu(xf, wf, bf, stride, padding, pool, dropout=draw)
    xr, wr, br = leaf(x), leaf(w), leaf(b)
    ref = ops.dropout(conv2d_maxpool2d_relu(xr, wr, br, stride, padding, pool), 0.4, mask=masks[0])
    assert len(masks) == 1 and masks[0].shape == y.shape
    assert ((ref.numpy() == 0) & (masks[0] > 0)).any() and (masks[0] == 0).any()
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ref.backward(g)
    assert np.array_equal(y.numpy(), ref.numpy())
    for fast, plain in ((xf, xr), (wf, wr), (bf, br)):
        assert np.array_equal(fast.grad, plain.grad)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("rate", [0.25, 0.0])
def test_sequential_fuses_the_dropout_after_the_block(float64, training, rate):
    def model():
        return nn.Sequential(nn.Conv2D(1, 3, 3, rng=np.random.default_rng(1)), nn.ReLU(), nn.MaxPool2D(2),
                             nn.Dropout(rate, seed=2),
                             nn.Flatten())

    x = np.random.default_rng(10).standard_normal((4, 1, 10, 10))
    fast, plain = perf.fuse(model()), model()
    for m in (fast, plain):
        m.train() if training else m.eval()
    outs = []
    for m in (fast, plain):
        xt = Tensor(x.copy(), requires_grad=True)
        out = m(xt)
        out.backward(np.ones(out.shape))
        outs.append((out.numpy(), xt.grad, [p.grad for p in m.parameters()], m[3].get_rng_state()))
    graph = _ops_in_graph(fast(Tensor(x, requires_grad=True)))
    assert Conv2DMaxPoolReLU in graph and dropout_module.DropoutFunction not in graph
    (y1, gx1, gp1, rng1), (y2, gx2, gp2, rng2) = outs
    # the fused convolution sums in another order than the layers (see the test above)
    for fast_value, plain_value in [(y1, y2), (gx1, gx2), *zip(gp1, gp2)]:
        np.testing.assert_allclose(fast_value, plain_value, rtol=1e-11, atol=1e-11)
    assert rng1 == rng2                    # the same draws from the layer's generator
    if training and rate:
        assert (y1 == 0).mean() > (model().eval()(Tensor(x)).numpy() == 0).mean()   # the mask was applied


def test_relu_and_pool_commute_exactly():
    """relu(pool(x)) and pool(relu(x)): the same values and the same gradients, bit for bit."""
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((4, 3, 8, 8)), 1).astype(np.float32)   # ties and zeros
    g = rng.standard_normal((4, 3, 4, 4)).astype(np.float32)
    a, b = leaf(x), leaf(x)
    ya = ops.max_pool2d(a, 2).relu()
    yb = ops.max_pool2d(b.relu(), 2)
    ya.backward(g)
    yb.backward(g)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    np.testing.assert_array_equal(a.grad, b.grad)


def _cnn_step(model, x, y):
    loss = ops.softmax_cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    return loss.item(), {n: p.grad.copy() for n, p in model.named_parameters()}


def test_cnn_fused_equals_layer_by_layer_float32():
    """The article's CNN in float32: loss and every gradient match with and without fusion."""
    rng = np.random.default_rng(6)
    x = rng.random((16, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    model = models.mnist_cnn(seed=1).eval()        # eval: no dropout draws to keep in step
    loss_fast, grads_fast = _cnn_step(perf.fuse(model), x, y)
    loss_plain, grads_plain = _cnn_step(model, x, y)
    assert loss_fast == pytest.approx(loss_plain, rel=1e-6)
    for name in grads_plain:
        assert grads_fast[name].dtype == np.float32
        np.testing.assert_allclose(grads_fast[name], grads_plain[name], rtol=1e-4, atol=1e-6, err_msg=name)


def _ops_in_graph(t):
    seen, stack = [], [t]
    while stack:
        node = stack.pop()
        if node._ctx is not None:
            seen.append(type(node._ctx))
            stack.extend(node._ctx.parents)
    return seen


def test_fuse_takes_the_fused_path_only_where_it_applies():
    x = np.random.default_rng(7).random((2, 1, 28, 28), dtype=np.float32)
    model = models.mnist_cnn(seed=0)
    assert Conv2DMaxPoolReLU in _ops_in_graph(perf.fuse(model)(x))
    # overlapping pool, a subclassed layer, the wrong order: layer by layer
    overlapping = nn.Sequential(nn.Conv2D(1, 2, 3), nn.ReLU(), nn.MaxPool2D(3, stride=2))

    class MyReLU(nn.ReLU):
        pass

    custom = nn.Sequential(nn.Conv2D(1, 2, 3), MyReLU(), nn.MaxPool2D(2))
    other = nn.Sequential(nn.ReLU(), nn.Conv2D(1, 2, 3), nn.MaxPool2D(2))
    for m in (overlapping, custom, other):
        assert Conv2DMaxPoolReLU not in _ops_in_graph(perf.fuse(m)(Tensor(x, requires_grad=True)))
    pool_then_relu = nn.Sequential(nn.Conv2D(1, 2, 3), nn.MaxPool2D(2), nn.ReLU())
    assert Conv2DMaxPoolReLU in _ops_in_graph(perf.fuse(pool_then_relu)(Tensor(x, requires_grad=True)))


def test_a_plain_model_runs_layer_by_layer_and_fuse_keeps_it_the_same_model():
    x = np.random.default_rng(8).random((2, 1, 28, 28), dtype=np.float32)
    model = models.mnist_cnn(seed=0)
    assert Conv2DMaxPoolReLU not in _ops_in_graph(model(x))
    fast = perf.fuse(model)
    assert fast is not model and perf.unfuse(fast) is model and perf.fuse(fast) is fast
    assert fast.parameters() == model.parameters() and list(fast.state_dict()) == list(model.state_dict())
    assert [id(m) for m in fast.children()] == [id(m) for m in model.children()]
    fast.eval()
    assert not model.training and not model[2].training
    fast.train()
    assert model.training and model[2].training

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = models.mnist_cnn(seed=0)

        def forward(self, x):
            return self.body(x)

    wrapped = Wrapper()
    assert perf.fuse(wrapped) is wrapped          # not a Sequential: as it is


def test_fused_op_checks_its_input():
    w, b = Tensor(np.zeros((2, 1, 3, 3), np.float32)), Tensor(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="channels"):
        conv2d_maxpool2d_relu(Tensor(np.zeros((1, 2, 8, 8), np.float32)), w, b)
    with pytest.raises(ValueError, match="smaller than the pool"):
        conv2d_maxpool2d_relu(Tensor(np.zeros((1, 1, 4, 4), np.float32)), w, b, pool_size=3)


# ---------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not B.cupy_available(), reason="CuPy or a GPU is missing")
def test_training_step_makes_no_host_device_copies(monkeypatch):
    """Forward, backward and the optimizer step on the GPU: no transfer, no synchronisation.

    Host <-> device copies are counted by wrapping cupy.asnumpy and cupy.asarray / cupy.array
    (with a host input); implicit device-to-host reads (bool(), float(), .item()) synchronise
    the device, which cupyx.allow_synchronize(False) turns into an error where CuPy has it.
    """
    import cupy
    import cupyx

    from minidl import optim

    copies = []

    def counting(fn, what, host_input_only=False):
        def wrapper(a, *args, **kwargs):
            if not host_input_only or not isinstance(a, cupy.ndarray):
                copies.append(what)
            return fn(a, *args, **kwargs)
        return wrapper

    with B.use_backend("cupy"):
        model = models.mnist_cnn(seed=0)
        opt = optim.create("adam", model.parameters())
        opt.check_finite = False     # its NaN/Inf test reads one flag back per step
        rng = np.random.default_rng(0)
        x = cupy.asarray(rng.random((64, 1, 28, 28), dtype=np.float32))
        y = cupy.asarray(rng.integers(0, 10, 64))

        def step():
            loss = ops.softmax_cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        step()                       # first step: state allocation
        cupy.cuda.get_current_stream().synchronize()
        monkeypatch.setattr(cupy, "asnumpy", counting(cupy.asnumpy, "asnumpy"))
        monkeypatch.setattr(cupy, "asarray", counting(cupy.asarray, "asarray(host)", True))
        monkeypatch.setattr(cupy, "array", counting(cupy.array, "array(host)", True))
        if hasattr(cupyx, "allow_synchronize"):
            with cupyx.allow_synchronize(False):
                step()
        else:
            step()
        assert copies == [], f"host-device copies inside the training step: {copies}"


# ------------------------------------------- dropout masks drawn ahead (perf.masks.MaskStream)
def _sequential_masks(seed, shapes, rate=0.25):
    rng = np.random.default_rng(seed)
    return [dropout_module.dropout_mask(s, rate, rng, np.float32) for s in shapes], rng.bit_generator.state


@pytest.mark.parametrize("count", [1, 2])
def test_mask_stream_gives_the_sequential_masks(count):
    before = threads.num_threads()
    threads.set_num_threads(count)
    try:
        # the shape changes (a last, smaller batch), a prefetch is asked for twice, and once not at all
        shapes = [(64, 32, 13, 13)] * 3 + [(16, 32, 13, 13)] + [(64, 32, 13, 13)] * 2
        expected, end_state = _sequential_masks(7, shapes)
        rng = np.random.default_rng(7)
        stream = MaskStream()
        got = []
        for i, shape in enumerate(shapes):
            if i != 4:
                stream.prefetch()
            if i == 2:
                stream.prefetch()                   # a second call while one is pending: nothing new
            got.append(stream.next(shape, 0.25, rng, np.float32))
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))
        assert rng.bit_generator.state == end_state  # the generator is where sequential draws leave it
        stream.prefetch()
        assert rng.bit_generator.state == end_state  # a pending draw does not move it
    finally:
        threads.set_num_threads(before)


@pytest.fixture
def two_threads():
    before = threads.num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(before)


@pytest.fixture(params=[1, 2], ids=["1 thread, blocks", "2 threads, parts"])
def thread_count(request):
    before = threads.num_threads()
    threads.set_num_threads(request.param)
    yield request.param
    threads.set_num_threads(before)


def test_mask_stream_drops_a_stale_draw_when_the_generator_was_reset(two_threads):
    layer = nn.Dropout(0.25, seed=3)
    model = perf.fuse(nn.Sequential(layer))        # draws the next mask when a pass starts
    model.train()
    x = Tensor(np.ones((64, 32, 13, 13), dtype=np.float32))
    model(x)
    saved = layer.get_rng_state()
    second = model(x).data.copy()
    layer.set_rng_state(saved)                      # e.g. a checkpoint loaded: the next mask is the second again
    assert np.array_equal(model(x).data, second)
    stream = next(iter(model._streams.values()))
    stream.prefetch()
    layer.rng.random(5)                             # someone else used the generator: redraw from it
    state = layer.get_rng_state()
    check = np.random.default_rng()
    check.bit_generator.state = state
    expected = dropout_module.dropout_mask(x.shape, 0.25, check, np.float32)
    assert np.array_equal(model(x).data, expected)


def test_a_model_with_a_pending_mask_can_be_copied():
    import copy
    import pickle

    model = perf.fuse(models.mnist_cnn(seed=0))
    model.train()
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    model(Tensor(x))
    for stream in model._streams.values():
        stream.prefetch()
    twin = copy.deepcopy(model)
    pickle.loads(pickle.dumps(model))
    # the copy's generator is in the same state, so it draws the same masks as the original
    assert np.array_equal(twin(Tensor(x)).data, model(Tensor(x)).data)


def test_mask_stream_draws_in_place_when_the_background_draw_failed(monkeypatch):
    from concurrent.futures import Future

    rng = np.random.default_rng(11)
    expected = dropout_module.dropout_mask((64, 32, 13, 13), 0.25, np.random.default_rng(11), np.float32)
    stream = MaskStream()
    stream._last = ((64, 32, 13, 13), 0.25, rng, np.float32)
    failed = Future()
    failed.set_exception(MemoryError("no memory in the worker"))
    stream._pending = (stream._key(stream._last), rng.bit_generator.state, failed, None)
    assert np.array_equal(stream.next((64, 32, 13, 13), 0.25, rng, np.float32), expected)


# ------------------------------------------- optimizer rules in parts (perf.split_updates)
VARIANTS = {"sgd": [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}],
            "rmsprop": [{}, {"centered": True, "momentum": 0.5}],
            "adam": [{}, {"amsgrad": True}],
            "adamw": [{}], "adamax": [{}], "nadam": [{}], "adagrad": [{}], "adadelta": [{}], "rprop": [{}],
            "lion": [{}, {"beta1": 1.0, "beta2": 0.5}],
            "ftrl": [{}, {"l1": 0.01, "l2": 0.01, "l2_shrinkage": 0.01, "beta": 0.5, "lr_power": -0.7}],
            "schedulefree_adamw": [{}, {"warmup_steps": 3}],
            "radam": [{}, {"decoupled_weight_decay": True}],
            "asgd": [{}, {"t0": 2.0}],
            "adabelief": [{}, {"amsgrad": True}, {"decoupled_weight_decay": True}],
            "adopt": [{}, {"clip": False}, {"decoupled_weight_decay": True}]}


def _cases():
    for name in optim.available():
        cls = optim.REGISTRY[name]
        if not cls.ELEMENTWISE:
            continue
        for convention in cls.DEFAULTS:
            for hyper in VARIANTS.get(name, [{}]):
                yield name, convention, hyper


def test_every_elementwise_optimizer_has_variants_listed():
    listed = set(VARIANTS)
    assert {n for n in optim.available() if optim.REGISTRY[n].ELEMENTWISE} <= listed


@pytest.mark.parametrize("name, convention, hyper", list(_cases()))
def test_rule_in_parts_is_bitwise_the_rule_whole(name, convention, hyper, thread_count, monkeypatch):
    """A parameter large enough to be cut in two parts (two threads) or six blocks (one thread),
    float32, 5 steps with weight decay and clipping: the same weights and state, bit for bit,
    with and without the split."""
    from minidl.perf import updates

    monkeypatch.setattr(updates, "PARALLEL_MIN_SIZE", 64)
    monkeypatch.setattr(updates, "PART_MIN_SIZE", 32)
    monkeypatch.setattr(updates, "BLOCK_SIZE", 32)
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((16, 12)).astype(np.float32)
    grads = [(rng.standard_normal((16, 12)) * 0.1).astype(np.float32) for _ in range(5)]
    results = []
    for split in (False, True):
        p = Parameter(w0.copy())
        opt = optim.create(name, [p], convention=convention, weight_decay=0.01, clipvalue=0.5, **hyper)
        if split:
            perf.split_updates(opt)
            assert updates.is_split(opt)
        for g in grads:
            p.grad = g.copy()
            opt.step()
        results.append((p.data.copy(), {k: (v.copy() if B.is_array(v) else v) for k, v in opt.state[p].items()}))
    (w_plain, s_plain), (w_split, s_split) = results
    np.testing.assert_array_equal(w_split, w_plain)
    assert s_split.keys() == s_plain.keys()
    for k in s_plain:
        if B.is_array(s_plain[k]):
            np.testing.assert_array_equal(s_split[k], s_plain[k], err_msg=k)
        else:
            assert s_split[k] == s_plain[k], k


def test_split_updates_really_cuts_the_parameter(two_threads, monkeypatch):
    from minidl.perf import updates

    monkeypatch.setattr(updates, "PARALLEL_MIN_SIZE", 64)
    monkeypatch.setattr(updates, "PART_MIN_SIZE", 32)
    p = Parameter(np.ones((16, 12), np.float32))
    opt = optim.Adam([p])
    sizes = []
    rule = type(opt).update

    def recording(self, w, g, state, group):
        sizes.append(w.size)
        rule(self, w, g, state, group)

    monkeypatch.setattr(type(opt), "update", recording)
    perf.split_updates(opt)
    p.grad = np.ones((16, 12), np.float32)
    opt.step()
    assert sorted(sizes) == [96, 96]                       # two parts, each whole (BLOCK_SIZE is 65536)
    monkeypatch.setattr(updates, "BLOCK_SIZE", 40)
    sizes.clear()
    opt.step()
    assert sorted(sizes) == [96, 96]                       # two threads: no blocks
    threads.set_num_threads(1)
    sizes.clear()
    opt.step()
    assert sizes == [40, 40, 40, 40, 32]                   # one thread: blocks of 40, in order, and the rest
    assert opt.state[p]["step"] == 3                       # every block advanced its copy alike, kept once
    perf.plain_updates(opt)
    sizes.clear()
    opt.step()
    assert sizes == [192]


def test_accelerated_trains_like_the_plain_model_and_undoes_itself():
    """Two steps of the CNN in float64 with and without the speed layer: the same loss and
    weights up to the fused convolution's summation order; the optimizer is plain again after."""
    rng = np.random.default_rng(5)
    x = rng.random((8, 1, 28, 28))
    y = rng.integers(0, 10, 8)
    finals = []
    with B.default_dtype("float64"):
        for fast in (False, True):
            model = models.mnist_cnn(seed=2)
            opt = optim.Adam(model.parameters())
            ctx = perf.accelerated(model, opt) if fast else _plain(model)
            with ctx as m:
                for _ in range(2):
                    opt.zero_grad()
                    ops.softmax_cross_entropy(m(x), y).backward()
                    opt.step()
            assert "update" not in vars(opt)
            finals.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


class _plain:
    def __init__(self, model):
        self.model = model

    def __enter__(self):
        return self.model

    def __exit__(self, *exc):
        return False
