"""No host read of a device array inside the training step, except the deliberate ones.

On the GPU every ``float(a)``, ``int(a)``, ``bool(a)``, ``a.item()``, ``a.tolist()``,
``numpy.asarray(a)`` or ``B.to_numpy(a)`` of a device array copies it to the host and waits
for every kernel queued before it.  A training step may do that at the few places listed in
``DELIBERATE_READS`` below, each with its reason; a new one fails these tests.

**What "the training step" is.**  The code that runs once per batch: the body of the
innermost loop, in ``minidl.train.fit`` or in what it calls, whose body reaches both a
``.backward()`` and a ``.step()`` call (found in the source with ``ast``, so the loop may
move between functions and files), and every package function that runs under it.  Those
are found by running ``fit`` on a small CNN with a profiler (``sys.setprofile``): once per
registered optimizer, with clipping and weight decay on, a batch larger than ``max_chunk``
(gradient accumulation) and the progress bar (``verbose=1``), so that the ops' and layers'
forward and backward, ``Optimizer.step`` and every optimizer's rule, clipping, weight decay
and the callbacks that run per step all run.  Their source, every branch, and the package
functions they call by a name that resolves statically, is then scanned with ``ast``.

**Host code and device code.**  Inside that scope, code that runs only where the array is
numpy's is host code: under ``if <x> is B.np`` (or ``and`` after it), in the ``else`` of
``is not B.np``, after ``if B.name() != "numpy": return``.  The functions in
``HOST_BY_DESIGN`` are host code as a whole (data loading gathers the batch in host memory
and moves it with one host-to-device copy), and so is everything they call.  Outside the
scope, host code (data files, checkpoints, plots, the lab, benchmarks) uses numpy on
purpose and is not scanned here; so is code before and after the loop (the checks before
training, the per-epoch evaluation and accuracy).

A static scan cannot know which argument is an array: a conversion of a Python number (a
hyperparameter) is listed in ``HOST_VALUES`` with what it converts.  ``KNOWN_DEFECTS`` lists
the reads that are in the step today but are not deliberate: each costs a synchronisation
per step on the GPU and should go (a listed place that is gone fails the stale-entry test,
so the lists shrink with the code).

The dynamic tests tell arrays from numbers: they run the step on ``DeviceArray``, a numpy
array standing in for a cupy one.  Whatever package code makes through the array module
(``xp.zeros``, ``B.asarray``...) is one, and so is every result of numpy on one, 0-d arrays
for scalars as in cupy: parameters, optimizer state, batches, activations and gradients.
Each way from it to the host is refused (``HostSyncRefused``) inside the step unless listed
in ``DELIBERATE_READS`` or ``KNOWN_DEFECTS``: ``float``, ``int``, ``bool`` (also ``if a:``),
``operator.index``, formatting, ``.item()``, ``.tolist()``, ``B.to_numpy``, and numpy
functions named through ``B.np`` (``numpy.asarray`` copies to the host, cupy refuses it; the
device code's rule is ``xp``).  Limits: the simulation runs numpy, so the branches for numpy
(``is B.np``) run too (their reads are let through, as on the GPU they are not taken), and the
dropout masks drawn from a numpy Generator are plain arrays.  Reads from the tests' own code,
from numpy itself, and before or after the loop are not the step's and pass.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import device_code as D
from minidl import backend as B
from minidl import models, nn, optim
from minidl.tensor import Parameter, Tensor
from minidl.train import fit

# ------------------------------------------------------------------ the allowed places
#: (function, call) -> why: device reads the training step makes on purpose (documented there)
DELIBERATE_READS = {
    ("forward_backward", "float(loss.data)"):
        "the step's loss, read once per step (once per chunk of an accumulated batch): the "
        "per-step loss of the History and the callbacks, and the divergence check",
    ("Optimizer.check_gradients", "bool(xp.isfinite(squares).all())"):
        "the NaN/Inf screen: one read of one reduction over every gradient per step",
    ("Optimizer.check_gradients", "bool(xp.isfinite(p.grad).all())"):
        "runs only after the screen fired: finds the parameter to name in the error",
    ("Optimizer._refuse_non_finite", "bool(xp.isfinite(v).all())"):
        "runs only in a guarded step (after the screen saw an overflowing square)",
    ("Optimizer._refuse_non_finite", "bool(xp.isfinite(p.data).all())"):
        "runs only in a guarded step (after the screen saw an overflowing square)",
    ("EpochTotals.accuracy", "int(self.correct)"):
        "the running accuracy, read only when a callback reads logs['accuracy'] (the logs are "
        "lazy): the progress bar of verbose=1 reads it at most every ProgressBar.REFRESH_SECONDS",
}

#: (function, call) -> why: L-BFGS's own algorithm decides on host numbers, as torch.optim.LBFGS
#: does (its tolerances, the curvature test, the line search): several reads per iteration
LBFGS_READS = {
    ("LBFGS.update", "float(xp.abs(g).max())"): "the small-gradient stop (tolerance_grad), each iteration",
    ("LBFGS.update", "bool(ys > CURVATURE_MIN)"): "the curvature test before a pair enters the history",
    ("LBFGS.update", "float(xp.abs(g).sum(dtype=B.np.float64))"): "the first step size, first iteration only",
    ("LBFGS.update", "bool(gtd > -group['tolerance_change'])"): "the directional-derivative stop",
    ("_Evaluation.__call__", "float(loss.item() if hasattr(loss, 'item') else loss)"): "the closure's loss, for the line search",
    ("_Evaluation.__call__", "loss.item()"): "the closure's loss, for the line search",
    ("_Evaluation.__call__", "float(w.dot(w))"): "the L2 term added to the loss the line search sees",
    ("LBFGS._minimize", "float(xp.abs(state['d'] * state['t']).max())"): "the small-step stop (tolerance_change)",
    ("_all_finite", "bool(xp.isfinite(v).all())"): "only in a guarded step (after the screen saw an overflow)",
}
DELIBERATE_READS.update(LBFGS_READS)

#: (function, call) -> what it converts: Python numbers and host values, not device arrays
HOST_VALUES = {
    ("first_lr", "float(lr)"): "the first param group's learning rate, a Python number",
    ("Tensor.__init__", "B.np.asarray(data)"):
        "Python numbers and lists only (an array takes the branch above it)",
    ("Tensor.__init__", "bool(requires_grad)"): "the requires_grad flag, a Python bool",
    ("Optimizer.decouples_weight_decay", "bool(group.get('decoupled_weight_decay', False))"):
        "a hyperparameter of the param group, a Python bool",
    ("MaskStream.next", "float(rate)"): "the dropout rate, a Python number",
    ("_default_threads", "int(env)"): "the MINIDL_NUM_THREADS environment variable, read at first use",
    ("flushed", "bool(getattr(_read(), _Layout.REGISTER) & _Layout.BITS)"):
        "a bit of the CPU's floating-point control register (subnormals flushed or not)",
}

#: (function, call) -> why: host reads in the step that are not deliberate; each one costs a
#: synchronisation per step on the GPU and should go (then its entry goes too)
KNOWN_DEFECTS = {}

#: functions that are host code as a whole, with what they do on the host
HOST_BY_DESIGN = {
    "ArrayDataset.batch": "gathers the batch from the host-resident uint8 images on the host, "
                          "then moves it to the device with one B.asarray (host to device)",
}

STATIC_ALLOWED = {**DELIBERATE_READS, **HOST_VALUES, **KNOWN_DEFECTS}
LOSS_READ = ("forward_backward", "float(loss.data)")
SCREEN_READ = ("Optimizer.check_gradients", "bool(xp.isfinite(squares).all())")


# ------------------------------------------------------------------------- the loop
def _scope_of(func):
    code = inspect.unwrap(func).__code__
    return _scope_at(code.co_filename, code.co_firstlineno)


@functools.lru_cache(maxsize=None)
def _reaches(module_name, qualname, attr, depth=0):
    scope = next(s for s in D.package()[module_name].scopes if s.qualname == qualname)
    return _nodes_reach(scope, list(scope.own_nodes()), attr, depth)


def _nodes_reach(scope, nodes, attr, depth=0):
    for node in nodes:
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == attr:
                return True
            target = D.resolve(scope, node)
            if target is not None and depth < 8 and _reaches(target.module.name, target.qualname, attr, depth + 1):
                return True
    return False


def _loop_nodes(loop):
    return [n for stmt in loop.body for n in ast.walk(stmt)]


@functools.lru_cache(maxsize=None)
def step_loop():
    """``(scope, loop)``: the innermost loop reached from ``fit`` whose body reaches both a
    ``.backward()`` and a ``.step()`` call (the loop over a epoch's batches)."""
    region = D.closure([_scope_of(fit)])
    candidates = []
    for scope in region:
        for node in scope.own_nodes():
            if isinstance(node, (ast.For, ast.While)):
                body = _loop_nodes(node)
                if _nodes_reach(scope, body, "backward") and _nodes_reach(scope, body, "step"):
                    candidates.append((scope, node))
    innermost = []
    for scope, loop in candidates:
        below = {(s.module.name, s.qualname) for s in D.closure(D.callees(scope, _loop_nodes(loop)))}
        inside = [(s, l) for s, l in candidates if (s, l) != (scope, loop) and (
            (s.module.name, s.qualname) in below
            or (s is scope and loop.body[0].lineno <= l.lineno <= loop.end_lineno))]
        if not inside:
            innermost.append((scope, loop))
    assert len(innermost) == 1, f"expected one training loop, found {[(s.qualname, l.lineno) for s, l in innermost]}"
    return innermost[0]


def _in_loop_body(frame, loop_scope, loop):
    """Whether ``frame``'s thread is inside the loop's body (a frame of its function, on a body line)."""
    path, start = str(loop_scope.module.path), loop_scope.start
    while frame is not None:
        code = frame.f_code
        if code.co_filename == path and code.co_firstlineno == start:
            return loop.body[0].lineno <= frame.f_lineno <= loop.end_lineno
        frame = frame.f_back
    return None


# ------------------------------------------------------------ running a small training
def small_cnn(seed=0):
    """Conv2D -> ReLU -> MaxPool2D -> Dropout (the fused block), then a Conv2D, ReLU and an
    overlapping MaxPool2D one by one, Flatten, Dense, ReLU, Dropout, Dense: 1x10x10 in, 3 out."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2D(1, 4, 3, rng=rng), nn.ReLU(), nn.MaxPool2D(2), nn.Dropout(0.25, seed=1),
        nn.Conv2D(4, 4, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2D(2, stride=1),
        nn.Flatten(), nn.Dense(36, 8, rng=rng), nn.ReLU(), nn.Dropout(0.5, seed=2), nn.Dense(8, 3, rng=rng))


def small_data(n=6, side=10, classes=3):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, side, side), dtype=np.uint8), np.arange(n) % classes


#: options every optimizer shares; those an optimizer accepts are switched on in the traced runs
SHARED_OPTIONS = {"weight_decay": 1e-4, "global_clipnorm": 1.0}    # (one clipping option at a time)


def optimizer_for(cls, params):
    accepted = cls(params).defaults
    return cls(params, **{k: v for k, v in SHARED_OPTIONS.items() if k in accepted})


@functools.lru_cache(maxsize=None)
def traced_step_scopes():
    """The package functions that run inside the training loop's body (see the module docstring)."""
    loop_scope, loop = step_loop()
    seen = {}

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(str(D.ROOT)):
            return
        code = frame.f_code
        key = (code.co_filename, code.co_firstlineno)
        if key not in seen and _in_loop_body(frame.f_back, loop_scope, loop):
            chain, f = [], frame
            while f is not None and not (f.f_code.co_filename == str(loop_scope.module.path)
                                         and f.f_code.co_firstlineno == loop_scope.start):
                chain.append((f.f_code.co_filename, f.f_code.co_firstlineno))
                f = f.f_back
            seen[key] = chain

    images, labels = small_data()
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        for cls in optim.REGISTRY.values():
            model = small_cnn()
            fit(model, optimizer_for(cls, model.parameters()), (images, labels), epochs=1,
                batch_size=4, max_chunk=3, verbose=1, seed=0)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    scopes = {}
    for chain in seen.values():
        found = [_scope_at(*k) for k in chain]
        if any(s is not None and s.qualname in HOST_BY_DESIGN for s in found):
            continue
        if found and found[0] is not None:
            scopes[(found[0].module.name, found[0].qualname)] = found[0]
    return list(scopes.values())


def _scope_at(filename, firstlineno):
    """The function a code object belongs to (a lambda's or comprehension's: the enclosing one)."""
    mod = D.module_of_path(filename)
    return None if mod is None else mod.innermost(firstlineno)


@functools.lru_cache(maxsize=None)
def step_scopes():
    """The traced functions, the functions nested in them and those they call by name."""
    loop_scope, loop = step_loop()
    roots = traced_step_scopes() + D.callees(loop_scope, _loop_nodes(loop))
    keep = [s for s in D.closure(roots) if s.qualname not in HOST_BY_DESIGN]
    return keep


@functools.lru_cache(maxsize=None)
def step_conversions():
    """Every host conversion in the training step: the loop's body and the step's functions."""
    loop_scope, loop = step_loop()
    lines = range(loop.body[0].lineno, loop.end_lineno + 1)
    found = [c for c in D.conversions_in(loop_scope) if c.lineno in lines]
    for scope in step_scopes():
        if scope is not loop_scope:
            found += D.conversions_in(scope)
    return found


# ------------------------------------------------------------------------ static tests
def test_the_training_loop_and_the_step_functions_are_found():
    loop_scope, loop = step_loop()
    names = {s.qualname for s in step_scopes()}
    assert isinstance(loop, (ast.For, ast.While))
    assert any(n.endswith(".forward") for n in names) and any(n.endswith(".backward") for n in names)
    assert "Tensor.backward" in names
    assert any(n.endswith(".step") and n.split(".")[0] == "Optimizer" for n in names)
    for name, cls in optim.REGISTRY.items():      # every optimizer's own rule ran under the loop
        own = {c.__name__ for c in cls.__mro__ if c not in (optim.Optimizer, object)}
        assert any(s.class_name in own for s in step_scopes()), name


def test_no_host_read_in_the_training_step_but_the_listed_ones():
    new = [f"{c.where}: {c.text}   (in {c.function})" for c in step_conversions()
           if not c.host_guarded and c.key not in STATIC_ALLOWED]
    assert new == [], ("host conversions in the training step that are not listed in "
                       "tests/test_host_sync.py (keep the step on the device, or list the place "
                       "with its reason):\n  " + "\n  ".join(new))


def test_every_listed_place_still_exists():
    scopes = [s for m in D.package().values() for s in m.scopes]
    present = {c.key for s in scopes for c in D.conversions_in(s)}
    stale = [key for key in STATIC_ALLOWED if key not in present]
    stale += [name for name in HOST_BY_DESIGN if not any(s.qualname == name for s in scopes)]
    assert stale == [], f"listed places that are no longer in the code (remove them): {stale}"


# ----------------------------------------------------------------- a fake device array
class HostSyncRefused(BaseException):
    """A host conversion of a DeviceArray in the training step (BaseException: no
    ``except Exception`` in the code under test swallows it)."""


_NUMPY_DIR = str(Path(np.__file__).resolve().parent)
_ORIGINAL = {name: getattr(np, name) for name in dir(np) if not name.startswith("_")}


def _to_device(value):
    if isinstance(value, DeviceArray):
        return value
    if isinstance(value, np.ndarray):
        return value.view(DeviceArray)
    if isinstance(value, np.generic):
        return _ORIGINAL["asarray"](value).view(DeviceArray)
    if isinstance(value, tuple):
        return tuple(_to_device(v) for v in value)
    if isinstance(value, list):
        return [_to_device(v) for v in value]
    return value


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, DeviceArray) else value


def _holds_device(args, kwargs):
    stack = list(args) + list(kwargs.values())
    while stack:
        v = stack.pop()
        if isinstance(v, DeviceArray):
            return True
        if isinstance(v, (list, tuple)):
            stack.extend(v)
    return False


class Simulation:
    """Records every host conversion of a DeviceArray made by package code, and refuses
    those of the training step that are not listed (see ``conversion``)."""

    def __init__(self, loop=None):
        self.loop = loop            # (scope, loop node): conversions outside its body are not the step's
        self.records = []           # (key, kind, where, in_step, allowed)

    def spelling(self, frame, name):
        """How the package line that called numpy's ``name`` spells it: "xp", "np", or "other"
        (an operator, a method, a call from compiled code such as numpy's random module);
        None when the caller is not package code (numpy itself, the tests, a library)."""
        mod = D.module_of_path(frame.f_code.co_filename)
        if mod is None:
            return None
        kinds = {k for attr, k in D.spelling_index(mod).get(frame.f_lineno, ()) if attr == name}
        return "xp" if "xp" in kinds else "np" if kinds else "other"

    def conversion(self, kind, frame):
        """Attribute a conversion made by ``frame``'s code; raise if the step may not make it."""
        while frame is not None and frame.f_code.co_filename == __file__:
            frame = frame.f_back
        if frame is None or frame.f_code.co_filename.startswith(_NUMPY_DIR):
            return                  # inside numpy itself (on the GPU: inside cupy)
        via_library = not frame.f_code.co_filename.startswith(str(D.ROOT))
        while frame is not None:
            mod = D.module_of_path(frame.f_code.co_filename)
            if mod is not None:
                scope = mod.innermost(frame.f_lineno)
                if not (mod.is_backend and scope.qualname in D.TRANSFERS):
                    break
                kind = scope.qualname      # B.to_numpy: the conversion of its caller
            frame = frame.f_back
        if frame is None:
            return                  # the tests' own host code
        statics = [c for c in _conversions_of(scope) if c.lineno <= frame.f_lineno <= c.end_lineno
                   and (c.kind == kind or (kind == "index" and c.kind == "int"))]
        if statics and not via_library:
            key, guarded = statics[0].key, all(c.host_guarded for c in statics)
        else:
            key, guarded = (scope.qualname, f"<implicit {kind}{' in a library call' if via_library else ''}>"), False
        in_step = True
        if self.loop is not None and threading.current_thread() is threading.main_thread():
            in_step = bool(_in_loop_body(frame, *self.loop))
        allowed = guarded or key in DELIBERATE_READS or key in KNOWN_DEFECTS or not in_step
        where = scope.where(frame.f_lineno)
        self.records.append({"key": key, "kind": kind, "where": where, "in_step": in_step,
                             "host_branch": guarded, "allowed": allowed})
        if not allowed:
            raise HostSyncRefused(f"{where}: {kind} of a device array in {key}")

    def step_reads(self):
        """The keys of the training step's host reads (not those of host-only branches)."""
        return [r["key"] for r in self.records if r["in_step"] and not r["host_branch"]]


_CONVERSIONS = {}


def _conversions_of(scope):
    if id(scope) not in _CONVERSIONS:
        _CONVERSIONS[id(scope)] = D.conversions_in(scope)
    return _CONVERSIONS[id(scope)]


_SIM = None


def _convert(kind):
    if _SIM is not None:
        _SIM.conversion(kind, sys._getframe(2))


class DeviceArray(np.ndarray):
    """A numpy array standing in for a cupy array: what numpy does on it stays a DeviceArray
    (ufuncs and numpy functions return DeviceArrays, 0-d ones for scalars, as cupy does), and
    each way to a host value is reported to the active Simulation: ``float()``, ``int()``,
    ``bool()`` (also the implicit truth value of ``if a:``), ``operator.index``, formatting,
    ``.item()``, ``.tolist()``, and numpy functions called through ``B.np`` (cupy refuses them).
    Where the array module is spelled ``xp``, numpy's functions make DeviceArrays (see
    ``fake_device``): parameters, optimizer state and batches all live on the fake device."""

    def __float__(self):
        _convert("float")
        return float(self.view(np.ndarray))

    def __int__(self):
        _convert("int")
        return int(self.view(np.ndarray))

    def __index__(self):
        _convert("index")
        return self.view(np.ndarray).__index__()

    def __bool__(self):
        _convert("bool")
        return bool(self.view(np.ndarray))

    def __complex__(self):
        _convert("complex")
        return complex(self.view(np.ndarray))

    def __format__(self, spec):
        _convert("format")
        return format(self.view(np.ndarray), spec)

    def item(self, *args):
        _convert("item")
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        _convert("tolist")
        return self.view(np.ndarray).tolist()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        frame = sys._getframe(1)
        if _SIM is not None and _SIM.spelling(frame, ufunc.__name__) == "np":
            _SIM.conversion(f"numpy.{ufunc.__name__}", frame)
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*[_plain(i) for i in inputs], **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    def __array_function__(self, func, types, args, kwargs):
        frame = sys._getframe(1)
        spelled = _SIM.spelling(frame, func.__name__) if _SIM is not None else None
        if spelled == "np":
            _SIM.conversion(f"numpy.{func.__name__}", frame)
        result = super().__array_function__(func, types, args, kwargs)
        return result if spelled == "np" else _to_device(result)


def _device_function(name, original):
    @functools.wraps(original)
    def call(*args, **kwargs):
        frame = sys._getframe(1)
        spelled = _SIM.spelling(frame, name) if _SIM is not None else None
        if spelled == "np" and _holds_device(args, kwargs):
            _SIM.conversion(f"numpy.{name}", frame)
        result = original(*args, **kwargs)
        return _to_device(result) if spelled == "xp" else result
    return call


def _patched_names():
    """numpy's plain functions that package code calls as ``xp.<name>`` (they make arrays on
    the device), and the host copies (``numpy.asarray``... of a device array is refused)."""
    names = {u.chain[0] for u in D.array_module_uses() if u.root == "xp"} | set(D.HOST_COPIES)
    return sorted(n for n in names if n in _ORIGINAL and inspect.isroutine(_ORIGINAL[n])
                  and not isinstance(_ORIGINAL[n], np.ufunc))


@contextlib.contextmanager
def fake_device(monkeypatch, loop=None):
    """Everything the package makes through ``xp`` is a DeviceArray inside this block."""
    global _SIM
    for name in _patched_names():
        monkeypatch.setattr(np, name, _device_function(name, _ORIGINAL[name]))
    _SIM = sim = Simulation(loop)
    try:
        yield sim
    finally:
        _SIM = None
        for name in _patched_names():
            monkeypatch.setattr(np, name, _ORIGINAL[name])


# ----------------------------------------------------------------------- dynamic tests
def test_a_training_step_of_the_article_cnn_reads_the_host_only_where_listed(monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    labels = np.array([3, 7])
    with fake_device(monkeypatch, step_loop()) as sim:
        model = models.mnist_cnn(seed=0)
        opt = optim.Adam(model.parameters())
        assert all(isinstance(p.data, DeviceArray) for p in model.parameters())
        history = fit(model, opt, (images, labels), epochs=1, batch_size=2, verbose=1, seed=0)
    assert len(history.step_loss) == 1
    reads = sim.step_reads()
    assert reads.count(LOSS_READ) == 1 and reads.count(SCREEN_READ) == 1
    # the progress bar reads the running accuracy at its last step (and at most twice a second)
    accuracy_read = ("EpochTotals.accuracy", "int(self.correct)")
    assert reads.count(accuracy_read) == 1
    assert [r for r in reads if r not in (LOSS_READ, SCREEN_READ, accuracy_read) and r not in KNOWN_DEFECTS] == []
    assert all(isinstance(v, DeviceArray) for s in opt.state.values() for v in s.values()
               if isinstance(v, np.ndarray))


@pytest.mark.parametrize("name", sorted(n for n in optim.REGISTRY if n != "lbfgs"))   # (LBFGS_READS)
def test_an_optimizer_step_reads_the_host_once(monkeypatch, name):
    rng = np.random.default_rng(1)
    with fake_device(monkeypatch) as sim:
        params = [Parameter(B.asarray(rng.standard_normal(s).astype(np.float32))) for s in [(3, 4), (4,)]]
        cls = optim.REGISTRY[name]
        opt = cls(params, **({"weight_decay": 1e-3} if "weight_decay" in cls(params).defaults else {}))
        for _ in range(2):
            for p in params:
                p.grad = B.asarray(rng.standard_normal(p.shape).astype(np.float32))
            opt.step()
    assert all(isinstance(p.data, DeviceArray) for p in params)
    assert sim.step_reads() == [SCREEN_READ, SCREEN_READ]


# ------------------------------------------------- the fake device, on code that is known
SAMPLE = '''
from minidl import backend as B


def loss_value(w, g):
    xp = B.get_array_module(w)
    w -= xp.multiply(g, 0.5)
    return float(w.sum())


def host_copy(w):
    return B.np.asarray(w)


def device_copy(w):
    xp = B.get_array_module(w)
    return xp.asarray(w)


def checked(t):
    if B.get_array_module(t) is B.np and int(t.max()) > 3:
        return 1
    return 0


def truth(w):
    return 1 if w.sum() else 0
'''


@pytest.fixture
def sample():
    path = D.ROOT / "_host_sync_sample.py"        # a name inside the package; no file is written
    mod = D.load_module(path, SAMPLE)
    D.register(mod)
    namespace = {}
    exec(compile(SAMPLE, str(path), "exec"), namespace)
    return mod, namespace


def test_the_static_scan_sees_each_kind_of_conversion(sample):
    mod, _ = sample
    found = {c.text: (c.kind, c.host_guarded) for s in mod.scopes for c in D.conversions_in(s)}
    assert found == {"float(w.sum())": ("float", False), "B.np.asarray(w)": ("numpy.asarray", False),
                     "int(t.max())": ("int", True)}


def test_the_fake_device_refuses_host_reads_and_keeps_device_work(monkeypatch, sample):
    _, ns = sample
    with fake_device(monkeypatch) as sim:
        w, g = B.zeros((2, 2)), B.ones((2, 2))
        assert isinstance(w, DeviceArray) and isinstance(ns["device_copy"](w), DeviceArray)
        assert isinstance(w + g, DeviceArray) and isinstance(w.sum(), DeviceArray)
        for fn in ("loss_value", "host_copy", "truth"):
            with pytest.raises(HostSyncRefused):
                ns[fn](w, g) if fn == "loss_value" else ns[fn](w)
        assert ns["checked"](B.asarray(np.array([1, 5]))) == 1      # a host branch: not refused
        with pytest.raises(HostSyncRefused, match="item"):
            Tensor(B.zeros(())).item()
        with pytest.raises(HostSyncRefused, match="to_numpy"):
            Tensor(B.zeros(3)).numpy()
        assert float(w.sum()) == -2.0                            # the test's own reads are free
    kinds = [r["kind"] for r in sim.records]
    assert kinds == ["float", "numpy.asarray", "bool", "int", "item", "to_numpy"]
