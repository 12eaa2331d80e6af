"""Keras 3 (torch backend) for the parity tests of the keras convention (tests/ is on sys.path).

``keras64`` is a fixture giving the keras module with the torch backend and float64 as its
float type, or skipping the test with the reason when Keras 3 or torch is missing.  ``keras_run(keras, cls_name, w0, grads,
**kwargs)`` runs ``keras.optimizers.<cls_name>(**kwargs)`` on one float64 variable fed the
gradients ``grads`` and returns the weights after each step.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest


def _import_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch", reason="Keras parity runs Keras 3 on the torch backend, and torch is missing")
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (pip install keras)")
    if not keras.__version__.startswith("3."):
        pytest.skip(f"Keras {keras.__version__} is not Keras 3")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend here; the parity tests use torch")
    return keras


@pytest.fixture
def keras64(monkeypatch):
    """Keras 3 computing in float64 throughout, restored after the test: float64 as its float
    type (so the learning rate and the iteration count it keeps in variables are float64 too),
    and its type promotion told to keep float64 (on the torch and JAX backends it maps float64
    to float32 in ``ops.mean``, ``ops.maximum``, ``ops.norm``..., as TensorFlow does not)."""
    keras = _import_keras()
    from keras.src.backend.common import dtypes

    monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float64")
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield keras
    keras.config.set_floatx(before)


def keras_run(keras, cls_name, w0, grads, **kwargs):
    """Weights after each step of ``keras.optimizers.<cls_name>(**kwargs)`` on ``grads``, in float64."""
    var = keras.Variable(np.array(w0, dtype=np.float64), dtype="float64")
    opt = getattr(keras.optimizers, cls_name)(**kwargs)
    out = []
    with warnings.catch_warnings():      # Keras's torch backend warns about numpy's __array__ copy keyword
        warnings.simplefilter("ignore", DeprecationWarning)
        for g in grads:
            opt.apply_gradients([(keras.ops.convert_to_tensor(np.array(g, dtype=np.float64), dtype="float64"), var)])
            out.append(np.array(keras.ops.convert_to_numpy(var), dtype=np.float64))
    return out
