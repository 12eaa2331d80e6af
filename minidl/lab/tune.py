"""``minidl tune``: a fair comparison of optimizers, tuned on a validation split (DeepOBS's protocol).

For each problem (:mod:`minidl.lab.problems`) and each optimizer row:

1. **Stage ``grid``**: every point of the grid (``--grid KEY=LO:HI:N``: N log-spaced values,
   or ``KEY=v1,v2,...``; several ``--grid`` make their product; default ``lr=1e-5:1e1:13``),
   one seed (the first), ``--tune-epochs`` epochs, evaluated on the validation split (the last
   ``--validation`` training examples): the test set is never seen.
2. **Stage ``tuned``**: the best grid point of each row (:func:`minidl.lab.tune_views.score`:
   final validation accuracy or loss, or steps to the target; diverged points score worst),
   every seed, ``--epochs`` epochs, on the test set.
3. **Stage ``default``**: the row as given (its convention's defaults), every seed,
   ``--epochs`` epochs, on the test set.

Every run is a record of the run store (:mod:`minidl.lab.store`) trained by the executors
(:func:`minidl.lab.batch.run_batch`): a rerun skips every finished run, a killed tuning loses
only the runs in progress.  Stages 1 and 3 run as one batch, then stage 2.  The protocol is
written to ``OUT/tune.json``; the views (:mod:`minidl.lab.tune_views`) are drawn from the
records, so ``minidl report OUT`` rebuilds them.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass, field

from minidl import backend as B
from minidl.lab import problems as P
from minidl.lab.compare import check_seeds, rows_from
from minidl.lab.tune_views import METRICS, PROTOCOL_FILE, analyze, write_tune_views

DEFAULT_GRID = "lr=1e-5:1e1:13"
DEFAULT_OUT = os.path.join("minidl-runs", "tune")
ARTICLE_ROWS = ["adadelta:label=Adadelta", "adagrad:label=Adagrad", "adam:label=Adam", "rmsprop:label=RMSprop",
                "sgd:momentum=0.9,label=SGD with momentum", "sgd:label=SGD"]


# ------------------------------------------------------------------ grids
def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None


#: the most values one --grid key may take (each is a run per optimizer, seed and problem)
MAX_GRID_VALUES = 1000
#: ... and all keys together (their product)
MAX_GRID_POINTS = 10_000


def parse_grid(text: str) -> tuple:
    """``"lr=1e-5:1e1:13"`` -> ``("lr", [1e-05, 3.162e-05, ..., 10.0])`` (N values spaced evenly
    in log, 4 significant digits, both ends included); ``"beta1=0.8,0.9,0.99"`` -> the values."""
    where = f"--grid {text!r}"
    key, eq, rest = str(text).partition("=")
    key, rest = key.strip(), rest.strip()
    if not eq or not key or not rest:
        raise ValueError(f"{where}: expected KEY=LO:HI:N (N log-spaced values) or KEY=v1,v2,...")
    if ":" in rest:
        parts = rest.split(":")
        if len(parts) != 3:
            raise ValueError(f"{where}: expected KEY=LO:HI:N, e.g. lr=1e-5:1e1:13")
        low, high = _number(parts[0], where), _number(parts[1], where)
        try:
            count = int(parts[2])
        except ValueError:
            count = 0
        if not 0 < low < high or not 2 <= count <= MAX_GRID_VALUES:
            raise ValueError(f"{where}: expected 0 < LO < HI and an integer N from 2 to {MAX_GRID_VALUES}, "
                             f"got {rest!r}")
        span = math.log(high) - math.log(low)          # in logs: high / low may overflow
        values = [float(f"{math.exp(math.log(low) + span * i / (count - 1)):.4g}") for i in range(count)]
    else:
        values = [_number(v.strip(), where) for v in rest.split(",") if v.strip()]
        if len(values) > MAX_GRID_VALUES:
            raise ValueError(f"{where}: at most {MAX_GRID_VALUES} values, got {len(values)}")
    if len(set(values)) != len(values) or not values:
        shown = ", ".join(f"{v:g}" for v in values[:12]) + (", ..." if len(values) > 12 else "")
        raise ValueError(f"{where}: the values must be distinct (at 4 significant digits), got {shown}")
    return key, values


def grid_points(grids) -> list:
    """The product of several ``parse_grid`` results as dicts ``{key: value}``, in order."""
    keys = [k for k, _ in grids]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"--grid: {', '.join(repeated)} given more than once")
    total = math.prod(len(values) for _, values in grids)
    if total > MAX_GRID_POINTS:
        raise ValueError(f"--grid: {total:,} points (the product of {' x '.join(str(len(v)) for _, v in grids)}); "
                         f"at most {MAX_GRID_POINTS:,}")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(values for _, values in grids))]


def point_spec(spec, point: dict):
    """The row spec with the grid point's hyperparameters (ValueError naming a key it lacks)."""
    from minidl.lab.specs import check_values

    accepted = spec.accepted()
    for key in point:
        if key not in accepted:
            raise ValueError(f"--grid {key}: {spec.label} ({spec.optimizer}, {spec.convention} convention) has no "
                             f"hyperparameter {key!r}; accepted: {', '.join(sorted(accepted))}")
    new = dataclasses.replace(spec, hyper={**spec.hyper, **point})
    check_values(new, f"--grid {spec.label} {point}")
    return new


# ------------------------------------------------------------------ the plan
@dataclass
class TuneConfig:
    problems: list = field(default_factory=lambda: [P.DEFAULT_PROBLEM])
    optimizers: list = field(default_factory=lambda: list(ARTICLE_ROWS))
    grids: list = field(default_factory=lambda: [DEFAULT_GRID])
    tune_epochs: int = 2
    epochs: int | None = None          # None: each problem's default
    seeds: tuple = (0,)
    metric: str | None = None          # None: each problem's target metric
    target: float | None = None        # None: each problem's target
    validation: int | None = None      # None: a sixth of the training set, at most 10,000
    eval_every: int | None = None
    batch_size: int | None = None      # None: each problem's default
    dataset: str | None = None         # None: each problem's data set
    data_dir: str | None = None
    train_subset: int | None = None
    val_subset: int | None = None
    backend: str = "numpy"
    out: str = DEFAULT_OUT
    workers: int = 1
    scheduler: str | None = None
    threads: int | None = None
    verbose: int = 1
    command: str = ""
    figures: bool = True
    style: str = "paper"               # the figures' look: "paper" or "slides"


def _positive(value, option):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{option} must be a positive integer, got {value!r}")


def check(config: TuneConfig) -> None:
    """Every option that can be checked without data (ValueError naming it)."""
    for value, option in ((config.tune_epochs, "--tune-epochs"), (config.epochs, "--epochs"),
                          (config.validation, "--validation"), (config.eval_every, "--eval-every"),
                          (config.batch_size, "--batch-size"), (config.train_subset, "--train-subset"),
                          (config.val_subset, "--val-subset"), (config.workers, "--workers")):
        _positive(value, option)
    check_seeds(config.seeds)
    if config.metric is not None and config.metric not in METRICS:
        raise ValueError(f"--metric {config.metric!r}: accepted: {', '.join(METRICS)}")
    if not config.problems:
        raise ValueError("--problem: give at least one problem")
    for name in config.problems:
        P.get_problem(name)
    if len(set(config.problems)) != len(config.problems):
        raise ValueError("--problem: a problem is given twice")


class _Context:
    """What every run of one problem shares: its data set, fingerprint, sizes and settings."""

    def __init__(self, config: TuneConfig, problem, dtype: str):
        from minidl.lab.run import dataset_fingerprint

        self.problem, self.dtype = problem, dtype
        dataset = config.dataset or problem.dataset
        train = P.load_split(dataset, "train", data_dir=config.data_dir)
        test = P.load_split(dataset, "test", data_dir=config.data_dir)
        P.check_dataset(problem, train)
        self.dataset = train.name or dataset
        self.fingerprint = dataset_fingerprint(self.dataset, config.data_dir)
        from minidl.data import default_validation_size

        self.validation = config.validation or default_validation_size(len(train))
        if self.validation >= len(train):
            raise ValueError(f"--validation {self.validation}: {self.dataset} has {len(train):,} training examples")
        for subset, option, n in ((config.train_subset, "--train-subset", len(train) - self.validation),
                                  (config.val_subset, "--val-subset", min(self.validation, len(test)))):
            if subset and subset > n:
                raise ValueError(f"{option} {subset}: {self.dataset} leaves {n:,} examples for it")
        self.train_size = len(train)
        self.epochs = config.epochs or problem.epochs
        self.batch_size = config.batch_size or problem.batch_size
        value = problem.target if config.target is None else config.target
        self.target = {"metric": problem.target_metric, "value": float(value)}
        self.metric = config.metric or problem.target_metric


def _run_config(config: TuneConfig, ctx: _Context, spec, *, stage, seed, label, grid):
    from minidl.lab.run import make_config

    batch = spec.batch or ctx.batch_size
    validation = stage == "grid"
    if batch == "full":
        batch = config.train_subset or (ctx.train_size - ctx.validation if validation else ctx.train_size)
    run = make_config(spec, seed=seed, epochs=config.tune_epochs if validation else ctx.epochs,
                      batch_size=int(batch), dataset=ctx.dataset, fingerprint=ctx.fingerprint,
                      train_subset=config.train_subset, val_subset=config.val_subset, backend=config.backend,
                      dtype=ctx.dtype, problem=ctx.problem.name, label=label, data_dir=config.data_dir,
                      verbose=config.verbose, split="validation" if validation else "test",
                      validation=ctx.validation if validation else None, stage=stage,
                      eval_every=config.eval_every, target=ctx.target)
    run["tune"] = {"grid": grid}
    return run


@dataclass
class Plan:
    """The runs of stages grid and default, and what stage tuned needs to be made."""

    contexts: dict          # problem name -> _Context
    rows: list              # the optimizer rows (minidl.lab.compare.Row)
    points: list            # the grid points
    first: list             # configurations of stages grid and default


def plan(config: TuneConfig) -> Plan:
    """Check everything and make the configurations of stages grid and default."""
    check(config)
    rows = rows_from(config.optimizers)
    points = grid_points([parse_grid(g) for g in (config.grids or [DEFAULT_GRID])])
    specs = {row.label: [point_spec(row.spec, p) for p in points] for row in rows}
    with B.use_backend(config.backend):
        dtype = B.np.dtype(B.get_default_dtype()).name
    contexts = {name: _Context(config, P.get_problem(name), dtype) for name in config.problems}
    first = []
    for ctx in contexts.values():
        for row in rows:
            for point, spec in zip(points, specs[row.label]):
                first.append(_run_config(config, ctx, spec, stage="grid", seed=config.seeds[0],
                                         label=row.label, grid=point))
            for seed in config.seeds:
                first.append(_run_config(config, ctx, row.spec, stage="default", seed=seed, label=row.label, grid={}))
    return Plan(contexts=contexts, rows=rows, points=points, first=first)


def tuned_configs(config: TuneConfig, the_plan: Plan, records) -> list:
    """Stage tuned: each row's best grid point (from the records of stage grid), every seed."""
    analysis = analyze(records, {"metric": config.metric})
    out = []
    for name, ctx in the_plan.contexts.items():
        rows = {r["label"]: r for r in analysis["problems"].get(name, {}).get("rows", [])}
        for row in the_plan.rows:
            best = (rows.get(row.label) or {}).get("best")
            if best is None:
                continue
            spec = point_spec(row.spec, best["point"])
            for seed in config.seeds:
                out.append(_run_config(config, ctx, spec, stage="tuned", seed=seed, label=row.label,
                                       grid=best["point"]))
    return out


# ------------------------------------------------------------------ running
@dataclass
class Tuning:
    """What ``run_tuning`` did."""

    out: str
    records: list
    analysis: dict
    planned: int = 0
    trained: int = 0
    skipped: int = 0
    lost: list = field(default_factory=list)
    interrupted: bool = False
    views: list = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        failed = any(r["status"] == "failed" for r in self.records)
        return 1 if (failed or self.lost) else 0


def protocol(config: TuneConfig) -> dict:
    """What ``OUT/tune.json`` holds: the options that decide the views (the records hold the rest)."""
    return {"format": "minidl-tune-protocol/1", "problems": list(config.problems), "optimizers": list(config.optimizers),
            "grids": list(config.grids or [DEFAULT_GRID]), "tune_epochs": config.tune_epochs, "epochs": config.epochs,
            "seeds": list(config.seeds), "metric": config.metric, "target": config.target,
            "validation": config.validation, "eval_every": config.eval_every, "command": config.command}


def run_tuning(config: TuneConfig, progress=print) -> Tuning:
    """Plan, train stages grid and default, then stage tuned; write tune.json and the views."""
    from minidl.fileio import atomic_write
    from minidl.lab.batch import run_batch
    from minidl.lab.store import RunStore, dump_record

    store = RunStore(config.out)
    the_plan = plan(config)                  # every setting checked before a folder is made
    store.prepare()
    atomic_write(os.path.join(store.out, PROTOCOL_FILE), dump_record(protocol(config)))
    options = dict(workers=config.workers, scheduler=config.scheduler, threads=config.threads, progress=progress)
    progress(f"stages grid and default: {len(the_plan.first)} runs")
    first = run_batch(the_plan.first, store, **options)
    batches, records = [first], first.records(the_plan.first)
    if not first.interrupted:
        tuned = tuned_configs(config, the_plan, records)
        progress(f"stage tuned: {len(tuned)} runs")
        second = run_batch(tuned, store, **options)
        batches.append(second)
        records = records + second.records(tuned)
    result = Tuning(out=store.out, records=records, analysis=analyze(records, protocol(config)),
                    planned=sum(b.planned for b in batches), trained=sum(b.trained for b in batches),
                    skipped=sum(b.skipped for b in batches),
                    lost=[(c.get("label"), c["seed"], why) for b in batches for c, why in b.lost],
                    interrupted=any(b.interrupted for b in batches))
    result.views = write_tune_views(records, store.out, config.command, protocol(config),
                                    figures=config.figures and not result.interrupted, style=config.style)
    return result
