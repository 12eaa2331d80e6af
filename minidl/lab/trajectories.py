"""Run optimizers on the 2-D test functions and record the path each one takes.

The optimizers are the same classes that train networks: one
``Parameter`` of shape (2,) holds the point (x, y); each step sets its
``.grad`` to the function's gradient there and calls ``opt.step()``.

Learning rates: every rule needs its own scale to make visible progress in a
few hundred steps (a plain gradient step on Rosenbrock must be ~1000 times
smaller than an Rprop/Adam step that ignores the gradient's size).  The rates
used when a row spec gives none are in :data:`LEARNING_RATES` and are written
in every legend; ``lr=...`` in a row spec overrides them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from minidl import backend as B
from minidl.lab import functions2d
from minidl.lab.specs import RowSpec, parse_specs

#: the optimizers drawn when none are chosen: the article's six, in its order
DEFAULT_OPTIMIZERS = ("sgd", "sgd:momentum=0.9", "adagrad", "rmsprop", "adadelta", "adam")

#: learning rate per row (looked up by the spec's label, then by its optimizer name) and per
#: function where one rate cannot fit all; "*" is used for the functions not listed.  Every
#: registered optimizer has a row (a test checks it).  Chosen by trying rates 1e-4 ... 10 over
#: 500 steps from each function's start: each rule makes visible progress on every function,
#: does not diverge on the convex ones (quadratic, sphere) and leaves the saddle inside the
#: window.  AdaDelta's rate is high because its first steps are ~sqrt(eps)/RMS[g] long;
#: LARS's and LAMB's steps are scaled by |w| (their trust ratio), Lion's and Rprop's by the sign
#: of the gradient only, so their rates are lengths per step.
LEARNING_RATES = {
    "sgd": {"*": 0.01, "quadratic": 0.015, "rosenbrock": 0.002, "rastrigin": 0.002},
    "sgd:momentum=0.9": {"*": 0.003, "quadratic": 0.01, "rosenbrock": 0.002, "saddle": 0.01,
                         "rastrigin": 0.002},
    "adagrad": {"*": 1.0, "saddle": 0.1},
    "rmsprop": {"*": 0.01},
    "rprop": {"*": 0.01},
    "adadelta": {"*": 10.0},
    "adam": {"*": 0.1, "saddle": 0.01},
    "adamw": {"*": 0.1, "saddle": 0.01},
    "adamax": {"*": 0.3, "saddle": 0.01},
    "nadam": {"*": 0.1, "saddle": 0.01},
    "lion": {"*": 0.03, "rosenbrock": 0.01, "beale": 0.01, "saddle": 0.01},
    "lamb": {"*": 0.1, "beale": 0.03, "saddle": 0.01},
    "ftrl": {"*": 1.0, "saddle": 0.1},
    "schedulefree_adamw": {"*": 0.3, "saddle": 0.01},
    "adafactor": {"*": 0.1, "saddle": 0.01},
    "muon": {"*": 0.1, "saddle": 0.01},
    "adabelief": {"*": 0.1, "saddle": 0.0003},
    "lars": {"*": 3.0},
    "adopt": {"*": 0.3, "rosenbrock": 1.0, "saddle": 0.003},
    "lookahead": {"*": 0.3, "saddle": 0.01},
    "radam": {"*": 0.03, "quadratic": 0.02, "rosenbrock": 0.003, "beale": 0.01, "rastrigin": 0.01,
              "sphere": 0.1},
    "asgd": {"*": 0.01, "quadratic": 0.015, "rosenbrock": 0.002, "rastrigin": 0.002},
    "lbfgs": {"*": 0.1, "saddle": 0.0001, "rastrigin": 0.01},
}

#: steps per run when none are asked for
DEFAULT_STEPS = 500

#: the most steps one run may take: every step stores its point and its loss (three float64
#: numbers, 24 MB per run at this cap, on top of the figures drawn from them); more is refused
MAX_STEPS = 1_000_000

#: a trajectory stops (and is marked diverged) once |x| or |y| passes this
DIVERGENCE_BOUND = 1e6


def check_steps(steps, name: str = "steps") -> int:
    """``steps`` as an int in 1..:data:`MAX_STEPS`; a ValueError naming ``name`` otherwise."""
    if isinstance(steps, bool) or not hasattr(steps, "__index__"):
        raise ValueError(f"{name}: expected a whole number of steps, got {steps!r}")
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"{name}: expected at least 1 step, got {steps}")
    if steps > MAX_STEPS:
        raise ValueError(f"{name}: at most {MAX_STEPS:,} steps (each step stores a point of the path in "
                         f"memory), got {steps}")
    return steps


def default_lr(optimizer: str, function: str, label: str | None = None) -> float | None:
    """The rate :data:`LEARNING_RATES` gives ``label`` (else ``optimizer``) on ``function``; None if none."""
    table = LEARNING_RATES.get(label) if label is not None else None
    if table is None:
        table = LEARNING_RATES.get(optimizer)
    if table is None:
        return None
    return table.get(function, table.get("*"))


def all_optimizers() -> list:
    """What ``--optimizers all`` draws: :data:`DEFAULT_OPTIMIZERS`, then every other registered
    optimizer by its name, in the registry's order.  All of them apply: L-BFGS's ``step()``
    without a closure is one iteration on the gradient in ``.grad``, as every step here is."""
    from minidl import optim

    names = [s for s in DEFAULT_OPTIMIZERS if s.partition(":")[0] in optim.REGISTRY]
    return names + [name for name in optim.REGISTRY if name not in names]


def default_specs(convention: str = "keras", everything: bool = False) -> list:
    """:data:`DEFAULT_OPTIMIZERS` that are registered (``everything``: :func:`all_optimizers`), parsed."""
    from minidl import optim

    names = all_optimizers() if everything else [s for s in DEFAULT_OPTIMIZERS
                                                 if s.partition(":")[0] in optim.REGISTRY]
    return parse_specs(names, default_convention=convention)


def expand_all(texts) -> list:
    """Row specs with each ``all`` replaced by :func:`all_optimizers` (``--optimizers all``)."""
    out = []
    for text in texts:
        out.extend(all_optimizers() if text.strip().lower() == "all" else [text])
    return out


@dataclass
class Trajectory:
    """The path of one optimizer on one function: points[0] is the start.

    A run ends early in one of two ways.  On a function with a minimum it *diverged* when the
    point stopped being finite or passed :data:`DIVERGENCE_BOUND`.  On a function without one
    (the saddle, unbounded below) leaving the plot window is the expected outcome, not a failure:
    the run *escaped*, and stops at the first point outside the window (the last one stored).
    """

    label: str
    spec: RowSpec
    function: str
    lr: float | None
    points: object  # host numpy array (n + 1, 2)
    losses: object  # host numpy array (n + 1,)
    diverged_at: int | None = None  # the step at which it left the finite world (functions with a minimum)
    escaped_at: int | None = None  # the step at which it left the window (functions without a minimum)
    extra: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.points) - 1

    def outcome(self, step: int | None = None) -> str:
        """"escaped (step N)", "diverged (step N)" or "": what happened by ``step`` (None: by the end)."""
        for word, at in (("escaped", self.escaped_at), ("diverged", self.diverged_at)):
            if at is not None and (step is None or at <= step):
                return f"{word} (step {at})"
        return ""

    def legend_at(self, step: int | None = None) -> str:
        """The legend entry as it reads at ``step``: the label, the rate, the outcome so far."""
        lr = "" if self.lr is None else f" (lr={self.lr:g})"
        outcome = self.outcome(step)
        return f"{self.label}{lr}" + (f", {outcome}" if outcome else "")

    @property
    def legend(self) -> str:
        return self.legend_at(None)

    def distance_to_minimum(self) -> float | None:
        return functions2d.get(self.function).distance_to_minimum(self.points[-1])


def _optimizer(spec: RowSpec, fn, param):
    """``spec``'s optimizer on ``param`` and its rate (:data:`LEARNING_RATES` where the spec gives none)."""
    from minidl import optim

    hyper = dict(spec.hyper)
    lr = hyper.get("lr")
    accepted = spec.accepted()
    if lr is None and "lr" in accepted:
        lr = default_lr(spec.optimizer, fn.name, spec.label)
        if lr is None:
            lr = accepted["lr"]
        hyper["lr"] = lr
    return optim.create(spec.optimizer, [param], convention=spec.convention, **hyper), lr


def _check_run(fn, spec, noise, start):
    """The start point as two floats, after checking the spec's batch, the noise and the start."""
    if spec.batch not in (None, "full"):
        raise ValueError(
            f"run_trajectory: row spec {spec.label!r} sets batch={spec.batch}, but a 2-D test function has "
            "no examples to sample; use noise=... (--noise) to imitate stochastic gradients")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"run_trajectory: noise must be a number >= 0, got {noise!r}")
    start = fn.start if start is None else tuple(float(v) for v in start)
    if len(start) != 2 or not all(math.isfinite(v) for v in start):
        raise ValueError(f"run_trajectory: start must be two finite numbers (x, y), got {start!r}")
    return start


def run_trajectory(function, spec: RowSpec, steps: int = DEFAULT_STEPS, start=None, noise: float = 0.0,
                   seed: int = 0) -> Trajectory:
    """Run ``spec``'s optimizer for ``steps`` steps on ``function`` from ``start``.

    ``noise`` > 0 adds Gaussian noise of that standard deviation to every
    gradient (a stand-in for the sampling noise of stochastic gradients).
    The point is kept in float64 on the active backend.
    """
    from minidl.tensor import Parameter

    fn = functions2d.get(function) if isinstance(function, str) else function
    steps = check_steps(steps, "run_trajectory: steps")
    start = _check_run(fn, spec, noise, start)
    xp = B.xp()
    param = Parameter(xp.asarray(start, dtype=B.np.float64), name=f"{fn.name} point")
    opt, lr = _optimizer(spec, fn, param)
    rng = B.np.random.default_rng(seed) if noise else None

    points = B.np.empty((steps + 1, 2))
    losses = B.np.empty(steps + 1)
    points[0] = start
    losses[0] = fn.value(points[0])
    stopped = None
    n = 0
    for t in range(1, steps + 1):
        g = fn.grad(param.data)
        if rng is not None:
            g = g + xp.asarray(noise * rng.standard_normal(2))
        param.grad = g
        try:
            opt.step()
        except FloatingPointError:
            stopped = t
            break
        w = B.to_numpy(param.data)
        if not (math.isfinite(w[0]) and math.isfinite(w[1])):
            stopped = t
            break
        points[t] = w
        losses[t] = fn.value(w)
        n = t
        if max(abs(w[0]), abs(w[1])) > DIVERGENCE_BOUND or (fn.unbounded and not fn.in_window(w)):
            stopped = t
            break
    escaped = fn.unbounded
    return Trajectory(spec.label, spec, fn.name, lr, points[: n + 1].copy(), losses[: n + 1].copy(),
                      diverged_at=None if escaped else stopped, escaped_at=stopped if escaped else None)


def run_all(functions, specs, steps: int = DEFAULT_STEPS, start=None, noise: float = 0.0, seed: int = 0) -> dict:
    """``{function name: [Trajectory per spec]}``, every optimizer from the same start."""
    out = {}
    for name in functions:
        fn = functions2d.get(name)
        out[fn.name] = [run_trajectory(fn, s, steps, start, noise, seed) for s in specs]
    return out


def summary_rows(results: dict) -> list:
    """One dict per (function, optimizer): final loss, distance to the minimum, divergence or escape."""
    rows = []
    for name, trajs in results.items():
        for tr in trajs:
            d = tr.distance_to_minimum()
            rows.append({"function": name, "optimizer": tr.label, "lr": tr.lr, "steps": tr.steps,
                         "final_x": float(tr.points[-1][0]), "final_y": float(tr.points[-1][1]),
                         "final_loss": float(tr.losses[-1]), "distance_to_min": d,
                         "diverged_at": tr.diverged_at, "escaped_at": tr.escaped_at,
                         "outcome": tr.outcome()})
    return rows


def format_summary(results: dict) -> str:
    """A fixed-width text table of :func:`summary_rows`."""
    rows = summary_rows(results)
    fw = max([len("function")] + [len(r["function"]) for r in rows]) + 1       # columns as wide as
    ow = max([len("optimizer")] + [len(r["optimizer"]) for r in rows]) + 1     # their longest entry
    head = f"{'function':<{fw}} {'optimizer':<{ow}} {'lr':>8} {'steps':>5} {'final (x, y)':>24} {'f':>11} {'|w - w*|':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lr = "default" if r["lr"] is None else f"{r['lr']:g}"
        d = "-" if r["distance_to_min"] is None else f"{r['distance_to_min']:.3g}"
        point = f"({r['final_x']:.4g}, {r['final_y']:.4g})"
        tail = f"  {r['outcome']}" if r["outcome"] else ""
        lines.append(f"{r['function']:<{fw}} {r['optimizer']:<{ow}} {lr:>8} {r['steps']:>5} {point:>24} "
                     f"{r['final_loss']:>11.4g} {d:>10}{tail}")
    return "\n".join(lines)
