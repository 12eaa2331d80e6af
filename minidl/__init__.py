"""minidl: a from-scratch deep-learning micro-framework for seeing and measuring optimizers.

    import minidl
    from minidl import nn, optim, ops
    minidl.set_backend("numpy")      # or "cupy"; also MINIDL_BACKEND=cupy

Importing ``minidl`` itself loads nothing heavy: the names below (and the subpackages)
are imported when first used, so the ``minidl`` command can configure the process
(OpenBLAS's thread spin, see minidl/perf/threads.py) before NumPy loads.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: name -> (module, attribute) of the top-level API, imported on first use
_API = {
    "set_backend": ("minidl.backend", "set_backend"),
    "use_backend": ("minidl.backend", "use_backend"),
    "gradcheck": ("minidl.gradient_check", "gradcheck"),
    "GradcheckError": ("minidl.gradient_check", "GradcheckError"),
    "manual_seed": ("minidl.nn.init", "manual_seed"),
    "Tensor": ("minidl.tensor", "Tensor"),
    "Parameter": ("minidl.tensor", "Parameter"),
    "no_grad": ("minidl.tensor", "no_grad"),
    "enable_grad": ("minidl.tensor", "enable_grad"),
}
_SUBPACKAGES = ("backend", "nn", "ops", "optim", "data", "train", "perf", "lab", "models", "tensor", "fileio")

__all__ = ["backend", "nn", "ops", "set_backend", "use_backend", "gradcheck", "manual_seed",
           "Tensor", "Parameter", "no_grad", "enable_grad", "__version__"]


def __getattr__(name):
    if name in _API:
        module, attribute = _API[name]
        value = getattr(importlib.import_module(module), attribute)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"minidl.{name}")
    else:
        raise AttributeError(f"module 'minidl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API) | set(_SUBPACKAGES))
