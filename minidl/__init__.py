"""minidl: a from-scratch deep-learning micro-framework for seeing and measuring optimizers.

    import minidl
    from minidl import nn, optim, ops
    minidl.set_backend("numpy")      # or "cupy"; also MINIDL_BACKEND=cupy
"""
from minidl import backend, nn, ops
from minidl.backend import set_backend, use_backend
from minidl.gradcheck import gradcheck
from minidl.nn.init import manual_seed
from minidl.tensor import Parameter, Tensor, enable_grad, no_grad

__version__ = "0.1.0"

__all__ = [
    "backend", "nn", "ops", "set_backend", "use_backend", "gradcheck", "manual_seed",
    "Tensor", "Parameter", "no_grad", "enable_grad", "__version__",
]
