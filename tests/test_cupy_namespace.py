"""Every array-module call minidl makes exists in CuPy and takes the keywords minidl passes.

The names are collected from the package's source with ``ast`` (tests/device_code.py says
how an expression is recognised as the array module): every ``xp.<name>`` and
``xp.<sub>.<name>`` where ``xp`` is ``B.xp()``, ``B.get_array_module(...)``, a name bound to
one of them or a parameter called ``xp``; and every ``cupy.<...>`` the backend calls.
Host code names numpy on purpose (``B.np``, ``np = B.np``: data files, checkpoints, plots,
benchmarks); it always runs numpy and is not checked here.  Array methods (``a.astype``,
``a.sum``, ...) in device code are checked to exist on ``cupy.ndarray``.

CuPy imports on a machine without a GPU (CI installs ``cupy-cuda12x``, the ``gpu`` extra);
where it cannot be imported, these tests skip.  Nothing here runs a kernel: the keyword
check binds the call's arguments to ``inspect.signature`` where CuPy exposes one, and for
a ufunc (which exposes none) calls it with the keyword: CuPy parses a ufunc's keywords
before it touches the device, and rejects an unknown one with ``TypeError: Wrong
arguments``.  Whether the calls compute the right thing on a GPU is not checked here (see
the README's GPU status).
"""
from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest

import device_code as D


@pytest.fixture(scope="module")
def cupy():
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken CUDA wheel
        pytest.skip(f"CuPy cannot be imported here ({type(exc).__name__}: {exc}); "
                    "pip install 'cupy-cuda12x>=13' runs this check without a GPU")
    return cupy


def _resolve(module, chain):
    obj = module
    for name in chain:
        obj = getattr(obj, name)
    return obj


def ufunc_accepts(ufunc, keyword):
    """Whether a CuPy ufunc takes ``keyword`` (called on Python scalars; without a GPU the call
    fails after the keywords are parsed, with a CUDA error, unless a keyword is unknown)."""
    try:
        ufunc(*[0.0] * ufunc.nin, **{keyword: None})
    except TypeError as exc:
        if "Wrong arguments" in str(exc):
            return False
    except Exception:  # noqa: BLE001 - no GPU, or a value the ufunc refuses: the keyword was parsed
        pass
    return True


def doc_signature(obj):
    """The signature CuPy's compiled functions and methods write on their docstring's first
    line (``_ndarray_base.astype(self, dtype, order='K', ...) -> ...``), defaults dropped;
    None where there is none."""
    lines = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    match = re.match(r"^[\w.]*\((.*)\)\s*(->.*)?$", lines[0]) if lines else None
    if match is None:
        return None
    try:
        tree = ast.parse(f"def f({match.group(1)}): pass")
    except SyntaxError:
        return None
    args = tree.body[0].args
    args.defaults = [ast.Constant(None) for _ in args.defaults]
    args.kw_defaults = [None if d is None else ast.Constant(None) for d in args.kw_defaults]
    namespace = {}
    exec(compile(ast.fix_missing_locations(tree), "<cupy signature>", "exec"), namespace)
    sig = inspect.signature(namespace["f"])
    params = list(sig.parameters.values())
    if params and params[0].name == "self":                 # bound, or called on the array
        sig = sig.replace(parameters=params[1:])
    return sig


def keyword_problems(obj, use):
    """Why CuPy's ``obj`` cannot take the call ``use`` describes ("" if it can), or None where
    CuPy exposes no signature to check it against."""
    if type(obj).__name__ == "ufunc" and hasattr(obj, "nin"):
        bad = [k for k in use.keywords if not ufunc_accepts(obj, k)]
        if bad:
            return f"rejects keyword(s) {bad}"
        if not use.star and use.positional > obj.nargs:
            return f"takes at most {obj.nargs} positional arguments, {use.positional} given"
        return ""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = doc_signature(obj)
    if sig is None:
        return None
    placeholders = dict.fromkeys(use.keywords)
    try:
        if use.star or use.double_star:
            sig.bind_partial(**placeholders)
        else:
            sig.bind(*[None] * use.positional, **placeholders)
    except TypeError as exc:
        return str(exc)
    return ""


def test_the_collector_finds_every_spelling_of_the_array_module():
    uses = D.array_module_uses()
    chains = {(u.root,) + u.chain for u in uses}
    assert len(uses) > 50 and ("xp", "zeros_like") in chains and ("cupy", "asnumpy") in chains
    backend = D.package()[f"{D.PACKAGE}.backend"]
    assert any(u.where.startswith(backend.rel) and u.root == "xp" for u in uses)   # _state.xp.<name>
    assert any(u.keywords for u in uses)


def test_the_collector_on_code_that_is_known():
    source = (
        "from minidl import backend as B\n"
        "np = B.np\n"
        "def f(w, xp=None):\n"
        "    xp = B.get_array_module(w)\n"
        "    a = xp.add.at(w, [0], 1)\n"
        "    b = B.xp().zeros((2,), dtype=w.dtype)\n"
        "    c = B.get_array_module(w).multiply(w, 2, out=w)\n"
        "    return np.asarray(w), xp.linalg.norm(w, *a, ord=2, **b)\n"
        "def g(xp):\n"
        "    return xp.uint8\n")
    mod = D.load_module(D.ROOT / "_namespace_sample.py", source)
    got = {(u.chain, u.called, u.positional, u.keywords, u.star, u.double_star) for u in D.uses_in(mod)}
    assert got == {(("add", "at"), True, 3, (), False, False),
                   (("zeros",), True, 1, ("dtype",), False, False),
                   (("multiply",), True, 2, ("out",), False, False),
                   (("linalg", "norm"), True, 1, ("ord",), True, True),
                   (("uint8",), False, 0, (), False, False)}


def test_every_array_module_name_exists_in_cupy(cupy):
    missing = []
    for use in D.array_module_uses():
        try:
            _resolve(cupy, use.chain)
        except AttributeError:
            missing.append(f"{use.where}: {use.root}.{'.'.join(use.chain)} (in {use.function})")
    assert missing == [], "CuPy lacks:\n  " + "\n  ".join(missing)


def test_the_keyword_probe_tells_a_known_keyword_from_an_unknown_one(cupy):
    assert ufunc_accepts(cupy.multiply, "out") and ufunc_accepts(cupy.multiply, "dtype")
    assert not ufunc_accepts(cupy.multiply, "no_such_keyword")
    assert not ufunc_accepts(cupy.multiply, "where")       # numpy's ufuncs take it, CuPy's do not
    probe = D.Use("xp", ("zeros",), "x.py:1", "f", True, 1, ("no_such_keyword",))
    assert keyword_problems(cupy.zeros, probe)


def test_every_call_passes_arguments_cupy_accepts(cupy):
    problems, unchecked = [], set()
    for use in D.array_module_uses():
        if not use.called:
            continue
        why = keyword_problems(_resolve(cupy, use.chain), use)
        if why is None:
            if use.keywords:
                unchecked.add(".".join(use.chain))
        elif why:
            problems.append(f"{use.where}: {use.root}.{'.'.join(use.chain)}"
                            f"(... {', '.join(k + '=' for k in use.keywords)}): {why}")
    assert problems == [], "CuPy refuses these calls:\n  " + "\n  ".join(problems)
    # keywords passed to callables without a signature (CuPy's compiled methods): none, or a
    # short known list; a new one is worth a look by hand
    assert unchecked <= {"add.at"}, f"keywords not checkable against CuPy: {sorted(unchecked)}"


def test_every_array_method_of_device_code_exists_on_cupy_arrays(cupy):
    used = D.array_attributes(D.device_scopes())
    methods = {name: where for name, where in used.items() if hasattr(np.ndarray, name)}
    assert "astype" in methods and "reshape" in methods
    missing = [f"{where}: .{name}" for name, where in sorted(methods.items()) if not hasattr(cupy.ndarray, name)]
    assert missing == [], "cupy.ndarray lacks:\n  " + "\n  ".join(missing)


def test_array_method_calls_pass_arguments_cupy_arrays_accept(cupy):
    """``a.astype(dtype, copy=False)``, ``a.sum(axis=..., keepdims=...)``...: every call in
    device code of a name numpy's arrays have, bound to cupy.ndarray's documented signature
    (a call of the same name on another object, a Tensor's ``sum``, is checked as well: the
    arguments must then suit both)."""
    problems, checked = [], set()
    for use in D.method_calls(D.device_scopes()):
        name = use.chain[0]
        if not (hasattr(np.ndarray, name) and callable(getattr(np.ndarray, name))):
            continue
        why = keyword_problems(getattr(cupy.ndarray, name), use)
        if why:
            problems.append(f"{use.where}: .{name}({', '.join(k + '=' for k in use.keywords)}): {why}")
        elif why == "":
            checked.add(name)
    assert {"astype", "sum", "reshape"} <= checked
    assert problems == [], "cupy.ndarray refuses these calls:\n  " + "\n  ".join(problems)


def test_signatures_are_read_from_cupy_docstrings(cupy):
    sig = doc_signature(cupy.ndarray.astype)
    assert list(sig.parameters)[:2] == ["dtype", "order"] and "copy" in sig.parameters
    assert doc_signature(cupy.multiply.at) is not None
