"""The array backend: the only module in minidl that imports numpy or cupy.

Every other module reaches array math through this one::

    from minidl import backend as B
    xp = B.xp()                 # the active array module (numpy or cupy)
    a = B.zeros((3, 4))         # default dtype (float32 unless changed)

Switching:

* ``set_backend("numpy" | "cupy")`` for the rest of the process;
* ``with use_backend("cupy"): ...`` for a temporary switch;
* the ``MINIDL_BACKEND`` environment variable chooses the start-up backend (read when a
  backend is first used; a bad value is reported then, naming the variable).

The default dtype is float32 (what deep-learning frameworks train in);
``set_default_dtype("float64")`` or ``with default_dtype("float64")`` selects
float64, which the gradient checker uses.

``np`` is numpy itself, exported for the host-side code (data loading,
checkpoints, plots) that must run on numpy whatever backend is active.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = [
    "np", "xp", "name", "set_backend", "use_backend", "get_array_module",
    "to_numpy", "asarray", "default_dtype", "set_default_dtype", "get_default_dtype",
    "zeros", "ones", "empty", "default_rng", "is_array", "synchronize", "device_name",
    "BackendUnavailable", "cupy_available",
]

_NAMES = ("numpy", "cupy")
_DTYPES = {"float32": np.float32, "float64": np.float64}


class BackendUnavailable(RuntimeError):
    """Raised when the cupy backend is asked for where CuPy or a GPU is missing."""


class _State:
    """The process-wide backend selection.  ``MINIDL_BACKEND`` is read when a backend is first
    used (not at import), so a bad value fails there, with a message that names it."""

    def __init__(self):
        self._name = self._xp = None
        self.dtype = np.float32

    def _from_env(self):
        env = os.environ.get("MINIDL_BACKEND", "").strip()
        if env and env.lower() not in _NAMES:
            raise ValueError(f"MINIDL_BACKEND={env!r}: expected one of {', '.join(_NAMES)} (or leave it unset "
                             "for numpy)")
        name = env.lower() or "numpy"
        try:
            self._xp = _import_cupy() if name == "cupy" else np
        except BackendUnavailable as exc:
            raise BackendUnavailable(f"MINIDL_BACKEND=cupy: {exc}") from None
        self._name = name

    @property
    def name(self):
        if self._name is None:
            self._from_env()
        return self._name

    @name.setter
    def name(self, value):
        self._name = value

    @property
    def xp(self):
        if self._xp is None:
            self._from_env()
        return self._xp

    @xp.setter
    def xp(self, value):
        self._xp = value


_state = _State()
_cupy = None  # the imported cupy module, once it has been asked for


def _import_cupy():
    """Import cupy and check a GPU is there; a clear error otherwise."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy  # noqa: WPS433 (the one guarded place that imports cupy)
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise BackendUnavailable(
            f"backend 'cupy' needs the CuPy package, which is not installed ({exc}). "
            f"Install it with: {install_hint('gpu')}  (CuPy for CUDA 12.x), or use the 'numpy' backend."
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise BackendUnavailable(
            f"backend 'cupy': CuPy is installed but no usable NVIDIA GPU was found ({exc}). "
            "Check the driver with nvidia-smi, or use the 'numpy' backend."
        ) from None
    if count < 1:  # pragma: no cover
        raise BackendUnavailable(
            "backend 'cupy': CuPy is installed but reports 0 GPUs; use the 'numpy' backend."
        )
    _cupy = cupy
    return cupy


def install_hint(extra: str) -> str:
    """The pip command that installs minidl's ``extra`` the way this minidl was installed: from
    its source folder (an editable or a local install) or from a package index."""
    import pathlib

    source = pathlib.Path(__file__).resolve().parents[1]
    if (source / "setup.cfg").is_file():
        return f"pip install -e '{source}[{extra}]'"
    return f"pip install 'minidl[{extra}]'"


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except BackendUnavailable:
        return False
    return True


def set_backend(name: str) -> None:
    """Select the array backend, ``"numpy"`` or ``"cupy"``, for the process."""
    if not isinstance(name, str) or name.lower() not in _NAMES:
        raise ValueError(f"set_backend: name must be one of {list(_NAMES)}, got {name!r}")
    name = name.lower()
    _state.xp = _import_cupy() if name == "cupy" else np
    _state.name = name


@contextlib.contextmanager
def use_backend(name: str):
    """Temporarily switch the backend: ``with use_backend("cupy"): ...``."""
    old_name, old_xp = _state.name, _state.xp
    set_backend(name)
    try:
        yield _state.xp
    finally:
        _state.name, _state.xp = old_name, old_xp


def name() -> str:
    """The active backend's name, ``"numpy"`` or ``"cupy"``."""
    return _state.name


def xp():
    """The active array module (numpy or cupy)."""
    return _state.xp


def get_array_module(array):
    """The module (numpy or cupy) that owns ``array``."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def is_array(obj) -> bool:
    """True for a numpy or cupy ndarray."""
    if isinstance(obj, np.ndarray):
        return True
    return _cupy is not None and isinstance(obj, _cupy.ndarray)


def to_numpy(array):
    """Copy an array to the host as a numpy array (no copy when it already is one)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return np.asarray(array)


def asarray(array, dtype=None):
    """Put ``array`` on the active backend (a host-to-device copy on cupy)."""
    return _state.xp.asarray(array, dtype=dtype)


def _resolve_dtype(dtype):
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        return _DTYPES[dtype]
    resolved = np.dtype(dtype).type
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype).name}")
    return resolved


def set_default_dtype(dtype) -> None:
    """Set the default float dtype: ``"float32"`` (the default) or ``"float64"``."""
    _state.dtype = _resolve_dtype(dtype)


def get_default_dtype():
    """The default float dtype (a numpy scalar type, ``numpy.float32`` by default)."""
    return _state.dtype


@contextlib.contextmanager
def default_dtype(dtype):
    """Temporarily change the default float dtype."""
    old = _state.dtype
    set_default_dtype(dtype)
    try:
        yield _state.dtype
    finally:
        _state.dtype = old


def zeros(shape, dtype=None):
    return _state.xp.zeros(shape, dtype=dtype or _state.dtype)


def ones(shape, dtype=None):
    return _state.xp.ones(shape, dtype=dtype or _state.dtype)


def empty(shape, dtype=None):
    return _state.xp.empty(shape, dtype=dtype or _state.dtype)


def default_rng(seed=None):
    """A random Generator of the active backend (``numpy.random.default_rng`` or cupy's)."""
    return _state.xp.random.default_rng(seed)


def synchronize() -> None:
    """Wait for the GPU to finish queued work (a no-op on numpy); use before timing."""
    if _state.name == "cupy":
        _cupy.cuda.get_current_stream().synchronize()


def device_name() -> str:
    """A human-readable name of the device the active backend computes on."""
    if _state.name == "cupy":
        props = _cupy.cuda.runtime.getDeviceProperties(_cupy.cuda.Device().id)
        dev = props["name"]
        return dev.decode() if isinstance(dev, bytes) else str(dev)
    import platform

    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"

