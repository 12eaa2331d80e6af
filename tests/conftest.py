"""Shared fixtures: backend parametrisation (cupy skipped where it is missing), MNIST location."""
import os
from pathlib import Path

import pytest

from minidl import backend as B

BACKENDS = [
    "numpy",
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not B.cupy_available(), reason="CuPy or a GPU is missing")]),
]


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    """Run the test once per available backend, restoring numpy afterwards."""
    with B.use_backend(request.param):
        yield request.param


@pytest.fixture
def float64():
    with B.default_dtype("float64"):
        yield


def mnist_dir():
    """The real MNIST files: $MINIDL_DATA_DIR, or ../shared/data/mnist beside the checkout."""
    env = os.environ.get("MINIDL_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist")
    for c in candidates:
        if (c / "train-images-idx3-ubyte.gz").exists() or (c / "train-images-idx3-ubyte").exists():
            return c
    return None


@pytest.fixture
def mnist_path():
    path = mnist_dir()
    if path is None:
        pytest.skip("the real MNIST files are not here (set MINIDL_DATA_DIR)")
    return path
