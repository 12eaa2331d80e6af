"""Input checks shared by the ops: errors that name the layer, what it expected and what it got."""
from __future__ import annotations

from minidl.tensor import Tensor


def _data(x):
    return x.data if isinstance(x, Tensor) else x  # (a numpy array's own .data is a memoryview)


def check_ndim(x, ndim, layer, what, layout):
    """``x`` has ``ndim`` dimensions and at least one example (a batch of 0 is refused)."""
    shape = tuple(_data(x).shape)
    if len(shape) != ndim:
        raise ValueError(
            f"{layer}: expected a {ndim}-D {what} {layout}, got shape {shape} ({len(shape)}-D)"
        )
    if shape[0] == 0:
        raise ValueError(f"{layer}: expected a batch of at least one example {layout}, got an empty batch "
                         f"of shape {shape}")


def check_float(x, layer, dtype=None):
    """Floating-point input; if ``dtype`` is given, that exact dtype (no silent promotion)."""
    got = _data(x).dtype
    if got.kind != "f":
        raise TypeError(
            f"{layer}: expected floating-point input, got dtype {got}; "
            "convert images with .astype('float32') / 255"
        )
    if dtype is not None and got != dtype:
        raise TypeError(
            f"{layer}: expected input of dtype {dtype} (the parameters' dtype), got {got}"
        )
