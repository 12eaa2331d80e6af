import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl import backend as B

PKG = Path(minidl.__file__).resolve().parent


def test_only_backend_imports_numpy_or_cupy():
    offenders = []
    for path in PKG.rglob("*.py"):
        if path.name == "backend.py" and path.parent == PKG:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("numpy", "cupy"):
                    offenders.append(f"{path.relative_to(PKG)}:{node.lineno} imports {name}")
    assert offenders == []


def test_default_backend_and_dtype():
    assert B.name() == "numpy"
    assert B.xp() is np
    assert B.get_default_dtype() is np.float32
    assert B.zeros((2, 3)).dtype == np.float32


def test_default_dtype_switch():
    with B.default_dtype("float64"):
        assert B.ones(2).dtype == np.float64
        assert minidl.Tensor([1.0, 2.0]).dtype == np.float64
    assert B.ones(2).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64|must be one of"):
        B.set_default_dtype("int32")


def test_set_backend_rejects_unknown_name():
    with pytest.raises(ValueError, match="'numpy', 'cupy'.*'torch'"):
        B.set_backend("torch")


def test_use_backend_restores():
    with B.use_backend("numpy") as xp:
        assert xp is np
    assert B.name() == "numpy"


def test_transfers_roundtrip():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    dev = B.asarray(a)
    back = B.to_numpy(dev)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, a)


@pytest.mark.skipif(B.cupy_available(), reason="CuPy and a GPU are present")
def test_cupy_missing_gives_install_hint():
    with pytest.raises(B.BackendUnavailable, match=r"pip install minidl\[gpu\]|GPU"):
        B.set_backend("cupy")
    assert B.name() == "numpy"


def test_env_variable_selects_backend():
    code = "from minidl import backend as B; print(B.name())"
    env = dict(os.environ, MINIDL_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"
    env["MINIDL_BACKEND"] = "nonsense"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "nonsense" in bad.stderr


def test_rng_is_backend_generator():
    a = B.default_rng(3).random(4, dtype=np.float32)
    b = B.default_rng(3).random(4, dtype=np.float32)
    np.testing.assert_array_equal(a, b)
