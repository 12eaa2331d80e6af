"""Checks for an optimizer of your own: ``check_optimizer(MyOptimizer)``.

It runs the checks minidl's own optimizers pass (tests/test_optimizers.py) on any
:class:`minidl.optim.Optimizer` subclass, and raises :class:`OptimizerCheckError` naming the
first check that fails and what it saw::

    from minidl.testing import check_optimizer
    check_optimizer(SignSGD)                                  # the defaults of every convention
    check_optimizer(SignSGD, hand=[{"hyper": {"lr": 0.1}, "w0": [1.0], "grads": [[2.0], [-1.0]],
                                    "expected": [[0.9], [1.0]]}])

The checks, for each convention in ``DEFAULTS`` (float64 unless said):

* **construction**: the defaults build an optimizer; ``validate`` refuses ``lr=-1``;
* **no input mutated**: a step leaves the gradient arrays and the hyperparameters as they were;
* **finite and float32**: 20 steps on a random problem stay finite, and float32 stays float32;
* **state_dict round trip**: 10 steps, ``state_dict``, a new optimizer ``load_state_dict``\\ s it and
  goes on: the weights equal, bit for bit, those of 20 uninterrupted steps;
* **plain and accelerated paths equal**: for an ``ELEMENTWISE`` rule, ``minidl.perf.split_updates``
  (the rule in parts over threads) gives bitwise the weights and state of the rule run whole;
* **convergence**: on the quadratic f(w) = 0.5 * sum(c_i * w_i^2) (c from 1 to 10) the loss falls
  below ``converge_to`` of its start within ``steps`` (``converge=False`` skips it; or give
  ``converge={"lr": ..., "steps": ..., "converge_to": ...}``);
* **hand-computed steps**: each case of ``hand`` (``hyper``, ``w0``, ``grads`` and the ``expected``
  weights after each step, optionally ``convention`` and ``rtol``) is reproduced.

Returns a :class:`CheckReport` listing what was checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from minidl import backend as B
from minidl import perf
from minidl.optim import Optimizer
from minidl.tensor import Parameter

__all__ = ["check_optimizer", "OptimizerCheckError", "CheckReport"]

np = B.np


class OptimizerCheckError(AssertionError):
    """A check of :func:`check_optimizer` failed; the message names the check."""


@dataclass
class CheckReport:
    optimizer: str
    passed: list = field(default_factory=list)      # "convention: check" for each check passed

    def __str__(self):
        return f"{self.optimizer}: {len(self.passed)} checks passed\n" + "\n".join(f"  {c}" for c in self.passed)


def _fail(cls, convention, check, detail):
    raise OptimizerCheckError(f"{cls.__name__} ({convention} convention): {check}: {detail}")


def _problem(seed, shapes=((3, 4), (5,)), steps=20, dtype=np.float64):
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[(rng.standard_normal(s) * (1 + t % 3)).astype(dtype) for s in shapes] for t in range(steps)]
    return w0, grads


def _run(cls, convention, hyper, w0, grads, split=False, resume_at=None):
    """Weights and state after feeding ``grads`` (a list of per-parameter gradient lists)."""
    params = [Parameter(B.asarray(w.copy()), dtype=w.dtype) for w in w0]
    opt = cls(params, convention=convention, **hyper)
    if split:
        perf.split_updates(opt)
    for t, gs in enumerate(grads):
        if resume_at is not None and t == resume_at:
            saved = opt.state_dict()
            opt = cls(params, convention=convention, **hyper)
            opt.load_state_dict(saved)
        for p, g in zip(params, gs):
            p.grad = B.asarray(g.copy())
        opt.step()
    return [B.to_numpy(p.data).copy() for p in params], opt, params


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _check_construction(cls, convention, report):
    p = Parameter(np.zeros(3))
    try:
        cls([p], convention=convention)
    except Exception as exc:  # noqa: BLE001 - reported as the check's failure
        _fail(cls, convention, "construction", f"the defaults do not build an optimizer: {exc}")
    if "lr" in cls.DEFAULTS[convention]:
        try:
            cls([p], convention=convention, lr=-1.0)
        except ValueError:
            pass
        else:
            _fail(cls, convention, "validation", "lr=-1 is accepted (validate() should refuse it)")
    report.passed.append(f"{convention}: construction and validation")


def _check_inputs_untouched(cls, convention, hyper, report):
    w0, grads = _problem(1, steps=1)
    params = [Parameter(w.copy()) for w in w0]
    opt = cls(params, convention=convention, **hyper)
    groups_before = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    given = [g.copy() for g in grads[0]]
    for p, g in zip(params, given):
        p.grad = g
    opt.step()
    if not _same(given, grads[0]):
        _fail(cls, convention, "no input mutated", "step() changed a gradient array in place")
    if groups_before != [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]:
        _fail(cls, convention, "no input mutated", "step() changed a hyperparameter of a param group")
    report.passed.append(f"{convention}: no input mutated")


def _check_runs(cls, convention, hyper, report):
    w0, grads = _problem(2)
    weights, _, _ = _run(cls, convention, hyper, w0, grads)
    if not all(np.isfinite(w).all() for w in weights):
        _fail(cls, convention, "finite", "20 steps on a random problem gave NaN or Inf weights")
    w32, g32 = _problem(2, dtype=np.float32)
    weights32, opt32, params32 = _run(cls, convention, hyper, w32, g32)
    arrays = [v for s in opt32.state.values() for v in s.values() if B.is_array(v)]
    if any(p.data.dtype != np.float32 for p in params32) or any(a.dtype == np.float64 for a in arrays):
        _fail(cls, convention, "float32", "float32 parameters or their state became float64")
    resumed, _, _ = _run(cls, convention, hyper, w0, grads, resume_at=10)
    if not _same(weights, resumed):
        _fail(cls, convention, "state_dict round trip", "10 steps, state_dict, load_state_dict, 10 more steps "
              "differ from 20 uninterrupted steps")
    report.passed.append(f"{convention}: finite, float32 stays float32, state_dict round trip")


def _check_split(cls, convention, hyper, report):
    if not cls.ELEMENTWISE:
        return
    w0, grads = _problem(3, shapes=((300, 400),), steps=3, dtype=np.float32)
    before = perf.threads.num_threads()
    perf.set_num_threads(2)
    try:
        whole, opt_a, _ = _run(cls, convention, hyper, w0, grads)
        parts, opt_b, _ = _run(cls, convention, hyper, w0, grads, split=True)
    finally:
        perf.set_num_threads(before)
    states = [s for o in (opt_a, opt_b) for s in o.state.values()]
    same_state = all(np.array_equal(B.to_numpy(a), B.to_numpy(b)) if B.is_array(a) else a == b
                     for a, b in zip(states[0].values(), states[1].values()))
    if not _same(whole, parts) or not same_state:
        _fail(cls, convention, "plain and accelerated paths", "the rule run in parts over threads "
              "(minidl.perf.split_updates) differs from the rule run whole; an ELEMENTWISE rule must treat "
              "each element on its own (set ELEMENTWISE = False otherwise)")
    report.passed.append(f"{convention}: plain and accelerated (threads) paths equal")


def _check_convergence(cls, convention, hyper, converge, report):
    settings = {"steps": 2000, "converge_to": 0.01, **(converge or {})}
    curvature = np.linspace(1.0, 10.0, 8)
    p = Parameter(np.ones(8))
    opt = cls([p], convention=convention, **{**hyper, **{k: v for k, v in settings.items() if k == "lr"}})
    start = float(0.5 * (curvature * p.data ** 2).sum())
    for _ in range(settings["steps"]):
        p.grad = curvature * p.data
        opt.step()
    end = float(0.5 * (curvature * p.data ** 2).sum())
    if not end <= settings["converge_to"] * start:
        _fail(cls, convention, "convergence", f"on the quadratic the loss went from {start:.4g} to {end:.4g} in "
              f"{settings['steps']} steps (wanted below {settings['converge_to']} of the start; pass "
              "converge={'lr': ..., 'steps': ...} for another setting, or converge=False)")
    report.passed.append(f"{convention}: converges on a quadratic")


def _check_hand(cls, case, index, report):
    convention = case.get("convention") or next(iter(cls.DEFAULTS))
    w0 = [np.asarray(case["w0"], dtype=np.float64)]
    grads = [[np.asarray(g, dtype=np.float64)] for g in case["grads"]]
    params = [Parameter(w0[0].copy())]
    opt = cls(params, convention=convention, **case.get("hyper", {}))
    for t, (gs, expected) in enumerate(zip(grads, case["expected"]), start=1):
        params[0].grad = gs[0]
        opt.step()
        if not np.allclose(params[0].data, expected, rtol=case.get("rtol", 1e-12), atol=0):
            _fail(cls, convention, f"hand-computed case {index}", f"step {t} gives {params[0].data.tolist()}, "
                  f"expected {list(np.atleast_1d(expected))}")
    report.passed.append(f"{convention}: hand-computed case {index} ({len(grads)} steps)")


def check_optimizer(cls, hand=(), hyperparameters=None, converge=None, conventions=None) -> CheckReport:
    """Run every check above on ``cls`` (see the module docstring); raises OptimizerCheckError."""
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise TypeError(f"check_optimizer: expected a minidl.optim.Optimizer subclass, got {cls!r}")
    if not isinstance(cls.DEFAULTS, dict) or not cls.DEFAULTS:
        raise OptimizerCheckError(f"{cls.__name__}.DEFAULTS must map a convention to its defaults, "
                                  f"e.g. {{'paper': {{'lr': 0.01}}}}")
    report = CheckReport(cls.__name__)
    hyper = dict(hyperparameters or {})
    for convention in conventions or list(cls.DEFAULTS):
        _check_construction(cls, convention, report)
        _check_inputs_untouched(cls, convention, hyper, report)
        _check_runs(cls, convention, hyper, report)
        _check_split(cls, convention, hyper, report)
        if converge is not False:
            _check_convergence(cls, convention, hyper, converge, report)
    for i, case in enumerate(hand, start=1):
        _check_hand(cls, case, i, report)
    return report
