"""``fuse(model)``: the same model, run with fused fast paths.

``fuse(Sequential(...))`` returns a :class:`FusedSequential`: the same layer objects under
the same names (so the same Parameters, the same ``state_dict`` keys and the same dropout
generators), whose forward pass runs

* ``Conv2D -> ReLU -> MaxPool2D`` or ``Conv2D -> MaxPool2D -> ReLU`` with a non-overlapping
  pool (stride = pool size) as one op, ``conv_block.conv2d_maxpool2d_relu``; a ``Dropout``
  right after the block joins the op (its mask drawn from the layer's generator as the layer
  would draw it);
* every other ``Dropout`` with its mask drawn ahead in a background thread
  (``masks.MaskStream``: the same masks, the generator left in the same state);
* every other layer as it is.

A fused model computes exactly what the layers compute one by one: forward values, the
gradients of the input and of the parameters, the masks and the generators' states
(``tests/test_perf_parity.py``), so the layers stay the readable definition.  Only the
plain layer classes are fused (a subclass may change ``forward``).  A model that is not a
``Sequential`` is returned as it is.
"""
from __future__ import annotations

from minidl import ops
from minidl.nn.layers import Conv2D, Dropout, MaxPool2D, ReLU
from minidl.nn.module import Module, Sequential, as_tensor
from minidl.perf.conv_block import conv2d_maxpool2d_relu
from minidl.perf.masks import MaskStream

#: a Dropout right after a fused block joins it (False: it runs as its own step)
FUSE_DROPOUT = True


def fuse(model: Module) -> Module:
    """An equivalent model with fast paths (see the module docstring); ``model`` is unchanged."""
    if isinstance(model, FusedSequential) or type(model) is not Sequential:
        return model
    return FusedSequential(model)


def unfuse(model: Module) -> Module:
    """The plain model behind a fused one (``model`` itself when it is not fused)."""
    return model.original if isinstance(model, FusedSequential) else model


class FusedSequential(Sequential):
    """The layers of a Sequential (the same objects, the same names), run through a plan of steps."""

    def __init__(self, model: Sequential):
        Module.__init__(self)
        for name, layer in model._modules.items():
            setattr(self, name, layer)
        object.__setattr__(self, "original", model)
        object.__setattr__(self, "training", model.training)
        object.__setattr__(self, "_streams", {})
        object.__setattr__(self, "_plan", self._make_plan(list(self._modules.values())))

    def _make_plan(self, layers) -> list:
        """``[(label, step), ...]``: what the forward pass runs, in order."""
        plan, i = [], 0
        while i < len(layers):
            block = _conv_block(layers, i, self._stream)
            if block is not None:
                step, count = block
                label = " + ".join(type(m).__name__ for m in layers[i:i + count]) + " (fused)"
            elif type(layers[i]) is Dropout:
                step, count, label = self._dropout_step(layers[i]), 1, f"{layers[i]!r} (mask drawn ahead)"
            else:
                step, count, label = layers[i], 1, repr(layers[i])
            plan.append((f"{i}-{i + count - 1} {label}" if count > 1 else f"{i} {label}", step))
            i += count
        return plan

    @property
    def plan(self) -> list:
        """The ``(label, step)`` pairs the forward pass runs (e.g. for a per-step timing)."""
        return list(self._plan)

    def _stream(self, layer) -> MaskStream:
        return self._streams.setdefault(id(layer), MaskStream())

    def _dropout_step(self, layer):
        stream = self._stream(layer)

        def dropout(x):
            x = as_tensor(x)
            if not layer.training or layer.rate == 0.0:
                return x
            mask = stream.next(x.shape, layer.rate, layer.rng, x.dtype)
            return ops.dropout(x, layer.rate, training=True, mask=mask)

        return dropout

    def forward(self, x):
        if self.training:
            for stream in self._streams.values():      # the next masks, drawn while the layers run
                stream.prefetch()
        for _, step in self._plan:
            x = step(x)
        return x

    # the plan holds closures over the layers: a copy (deepcopy, pickle) makes its own
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_plan")
        state["_streams"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        object.__setattr__(self, "_plan", self._make_plan(list(self._modules.values())))

    def train(self, mode: bool = True):
        super().train(mode)
        self.original.train(mode)
        return self


def _conv_block(layers, i, stream_of):
    """``(fn, count)``: ``fn(x)`` computes ``layers[i:i + count]`` as one op; or None.
    ``stream_of(layer)`` is the MaskStream of a Dropout that joins the block."""
    if i + 3 > len(layers) or type(layers[i]) is not Conv2D:
        return None
    conv, a, b = layers[i:i + 3]
    if type(a) is ReLU and type(b) is MaxPool2D:
        pool = b
    elif type(a) is MaxPool2D and type(b) is ReLU:
        pool = a
    else:
        return None
    if pool.stride != pool.pool_size:
        return None
    drop = layers[i + 3] if FUSE_DROPOUT and i + 3 < len(layers) and type(layers[i + 3]) is Dropout else None
    stream = None if drop is None else stream_of(drop)

    def block(x):
        x = as_tensor(x)
        mask_for = None
        if drop is not None and drop.training and drop.rate > 0.0:
            def mask_for(shape):
                return stream.next(shape, drop.rate, drop.rng, x.dtype)
        return conv2d_maxpool2d_relu(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                     pool.pool_size, layer=conv.label(), dropout=mask_for)

    return block, 3 if drop is None else 4
