"""The optimizer comparison: the article's grid, presets beyond it, a run per row and seed.

``run_comparison(config)`` trains the article's CNN once per row and seed.  Every row of one
seed starts from the same initial weights (``mnist_cnn(seed)``) and sees the same shuffling
order (the loader's seed), so rows differ only by their optimizer (and batch size, where the
row says so).

Each finished run is one record in ``OUT/runs/`` (:mod:`minidl.lab.store`), named by the hash
of its complete configuration: the same command again trains nothing, another setting adds
records beside the old ones, and a killed comparison loses only the runs in progress.
``results.json``, ``results.csv``, ``table.md`` and the figures are views of the records that
the command asks for (:mod:`minidl.lab.views`), rewritten at the end.  Everything that can be
checked is checked before the first step (:func:`plan`): the out folder, every spec, the data
each row needs, the seeds.  The runs go to an executor (:mod:`minidl.lab.executors`): this
process, ``--workers N`` local processes, or a Dask cluster (``--scheduler``).

``perf=False`` (``--no-perf``) trains every run on the plain path, without the speed layer
(:mod:`minidl.perf`): its configurations say ``"perf": false``, so they are other records than
the default runs, and the two can be compared from one store.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from minidl import backend as B
from minidl.lab.article import ARTICLE
from minidl.lab.specs import RowSpec, parse_spec

__all__ = ["ARTICLE", "PRESETS", "Row", "CompareConfig", "Comparison", "rows_from", "plan", "run_comparison"]

#: preset name -> list of (row spec, train subset or None, note)
PRESETS = {
    "article": [
        ("adadelta:label=Adadelta", None, ""),
        ("adagrad:label=Adagrad", None, ""),
        ("adam:label=Adam", None, ""),
        ("rmsprop:label=RMSprop", None, ""),
        ("sgd:momentum=0.9,label=SGD with momentum", None, ""),
        ("sgd:label=SGD", None, ""),
    ],
}
PRESETS["extended"] = PRESETS["article"] + [
    ("gd:label=GD (full batch)", None, "one step per epoch on all training images"),
    ("sgd:batch=1,label=SGD (batch 1)", 6000, "batch 1 on the first 6,000 training images only"),
    ("sgd:momentum=0.9,nesterov=true,label=Nesterov", None, ""),
    ("adam:amsgrad=true,label=AMSGrad", None, ""),
    ("adamw:label=AdamW", None, ""),
    ("adamax:label=Adamax", None, ""),
    ("nadam:label=Nadam", None, ""),
    ("rmsprop:centered=true,label=RMSprop (centered)", None, ""),
]
#: the optimizers newer than the article, each at its convention's defaults, Adam as the reference
#: (docs/results.md section 5; Adafactor under the pytorch convention: Keras's rule divides 0 by 0
#: on a dead unit's row and column in float32)
PRESETS["modern"] = [(text, None, "") for text in (
    "adam:label=Adam", "adamw:label=AdamW", "nadam:label=Nadam", "radam:label=RAdam",
    "adabelief:label=AdaBelief", "adopt:label=ADOPT", "lion:label=Lion", "lamb:label=Lamb",
    "schedulefree_adamw:label=Schedule-Free AdamW", "adafactor:convention=pytorch,label=Adafactor (pytorch)",
    "muon:label=Muon", "lars:label=LARS", "lookahead:label=Lookahead (Adam)", "asgd:label=ASGD")]
PRESETS["conventions"] = [
    (f"{name}:convention={conv},label={title} ({conv})", None, "")
    for name, title in (("adadelta", "Adadelta"), ("adagrad", "Adagrad"), ("rmsprop", "RMSprop"), ("adam", "Adam"))
    for conv in ("keras", "pytorch", "paper")
]


@dataclass
class Row:
    spec: RowSpec
    train_subset: int | None = None
    note: str = ""

    @property
    def label(self) -> str:
        return self.spec.label


DEFAULT_OUT = os.path.join("minidl-runs", "compare")


@dataclass
class CompareConfig:
    """A comparison's settings.  ``epochs``, ``batch_size`` and ``dataset`` None take the
    problem's (mnist-cnn: the article's 10 epochs, batch 64, MNIST); ``target`` is a value of the
    problem's target metric, or ``{"metric", "value"}``; ``eval_every`` K also evaluates every K
    steps (time to target at step resolution)."""

    rows: list = field(default_factory=list)
    epochs: int | None = None
    batch_size: int | None = None
    dataset: str | None = None
    data_dir: str | None = None
    backend: str = "numpy"
    seeds: tuple = (0,)
    train_subset: int | None = None
    val_subset: int | None = None
    out: str = DEFAULT_OUT
    verbose: int = 1
    command: str = ""
    workers: int = 1
    scheduler: str | None = None
    threads: int | None = None
    problem: str = "mnist-cnn"
    target: float | dict | None = None
    eval_every: int | None = None
    figures: bool = True
    perf: bool = True          # False: the plain path, no speed layer (``--no-perf``)
    style: str = "paper"       # the figures' look: "paper" or "slides" (minidl.lab.plots.STYLES)
    loss_x: str = "epochs"     # train_loss_steps.png's x axis: "epochs", "examples" or "steps"


def rows_from(optimizers=None, preset=None) -> list:
    """Rows from ``--optimizers`` specs (checked now, before any training) or a preset."""
    if optimizers and preset:
        raise ValueError("give either --optimizers or --preset, not both")
    if not optimizers:
        preset = preset or "article"
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; accepted: {', '.join(PRESETS)}")
        return [Row(parse_spec(text), subset, note) for text, subset, note in PRESETS[preset]]
    rows = [Row(parse_spec(text)) for text in optimizers]
    labels = [r.label for r in rows]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"two rows share the label(s) {dupes}; add label=... to tell them apart")
    return rows


# ---------------------------------------------------------------- checks and plan
def _positive(value, option):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{option} must be a positive integer, got {value!r}")


def check_seeds(seeds) -> tuple:
    """Seeds are integers >= 0, each given once."""
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"--seeds: every seed must be an integer >= 0, got {s!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"--seeds: {', '.join(map(str, repeated))} given more than once; each seed is one run "
                         "(a repeated seed would train the same run twice)")
    return seeds


def _check_data(config, rows, n_train, n_val, dataset):
    if config.train_subset and config.train_subset > n_train:
        raise ValueError(f"--train-subset {config.train_subset}: {dataset} has {n_train:,} training images")
    if config.val_subset and config.val_subset > n_val:
        raise ValueError(f"--val-subset {config.val_subset}: {dataset} has {n_val:,} validation images")
    available = config.train_subset or n_train
    for row in rows:
        if row.train_subset and row.train_subset > available:
            where = (f"--train-subset {config.train_subset} leaves {available:,}" if config.train_subset
                     else f"{dataset} has {available:,}")
            fix = (f"give --train-subset {row.train_subset} or more (or none)" if row.train_subset <= n_train
                   else f"use a data set with {row.train_subset:,} training images or more")
            raise ValueError(f"row {row.label!r} trains on the first {row.train_subset:,} training images "
                             f"({row.note or 'its own subset'}), but {where}: {fix}, "
                             "or leave the row out with --optimizers")


def resolve_target(target, problem) -> dict | None:
    """``--target``: None, a value of the problem's target metric, or ``{"metric", "value"}``
    (``"val_accuracy"`` or ``"val_loss"``), as a run's ``{"metric", "value"}``."""
    from minidl.lab.problems import TARGET_METRICS

    if target is None:
        return None
    if isinstance(target, dict):
        metric, value = target.get("metric"), target.get("value")
    else:
        metric, value = problem.target_metric, target
    if metric not in TARGET_METRICS:
        raise ValueError(f"--target: the metric must be one of {', '.join(TARGET_METRICS)}, got {metric!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise ValueError(f"--target: expected a finite number for {metric}, got {value!r}")
    if metric == "val_accuracy" and not 0 < value <= 1:
        raise ValueError(f"--target: an accuracy target lies in (0, 1], got {value!r}")
    return {"metric": metric, "value": float(value)}


def _settings(config: CompareConfig):
    """The problem, and its budget and data set unless the config gives them."""
    from minidl.lab.problems import get_problem

    problem = get_problem(config.problem)
    return (problem, config.epochs or problem.epochs, config.batch_size or problem.batch_size,
            config.dataset or problem.dataset)


def _load_checked(config: CompareConfig, problem, dataset_name):
    """The training set (its shape checked against the problem) and the test set's size."""
    from minidl.lab import problems as P

    train = P.load_split(dataset_name, "train", data_dir=config.data_dir)
    P.check_dataset(problem, train)
    n_val = len(P.load_split(dataset_name, "test", data_dir=config.data_dir))
    _check_data(config, config.rows, len(train), n_val, dataset_name)
    return train


def plan(config: CompareConfig) -> list:
    """Every run of the comparison as a configuration (``minidl.lab.run.make_config``), in the
    order seed by seed, row by row.  Checks all that can be checked without training and
    raises ValueError (one line, naming the option or the row) on the first problem."""
    from minidl.lab.run import dataset_fingerprint, make_config
    from minidl.lab.store import config_id

    for value, option in ((config.epochs, "--epochs"), (config.batch_size, "--batch-size"),
                          (config.train_subset, "--train-subset"), (config.val_subset, "--val-subset"),
                          (config.workers, "--workers"), (config.threads, "--threads"),
                          (config.eval_every, "--eval-every")):
        _positive(value, option)
    seeds = check_seeds(config.seeds)
    if not config.rows:
        raise ValueError("no rows to compare: give --optimizers or --preset")
    problem, epochs, batch_size, dataset = _settings(config)
    target = resolve_target(config.target, problem)
    with B.use_backend(config.backend):          # no CuPy or no GPU: said now, not after a row
        dtype = B.np.dtype(B.get_default_dtype()).name
    train = _load_checked(config, problem, dataset)
    dataset = train.name or dataset
    fingerprint = dataset_fingerprint(dataset, config.data_dir)
    configs, seen = [], {}
    for seed in seeds:
        for row in config.rows:
            subset = row.train_subset or config.train_subset
            batch = row.spec.batch or batch_size
            batch = (subset or len(train)) if batch == "full" else int(batch)
            run = make_config(row.spec, seed=seed, epochs=epochs, batch_size=batch, dataset=dataset,
                              fingerprint=fingerprint, train_subset=subset, val_subset=config.val_subset,
                              backend=config.backend, dtype=dtype, problem=problem.name, label=row.label,
                              note=row.note, data_dir=config.data_dir, verbose=config.verbose,
                              eval_every=config.eval_every, target=target)
            if not config.perf:
                # the plain path (fit(perf=False)): no fusion, no split updates, no flushed
                # subnormals; written only when off, so the ids of default runs stay
                run.update(perf=False, flush_denormals=False)
            rid = config_id(run)
            if rid in seen:
                raise ValueError(f"rows {seen[rid]!r} and {row.label!r} are the same run (every setting and "
                                 "hyperparameter equal once defaults are filled in); leave one out")
            seen[rid] = row.label
            configs.append(run)
    return configs


# ---------------------------------------------------------------- running
@dataclass
class Comparison:
    """What ``run_comparison`` did: the records the views show, and what happened to the rest."""

    out: str
    records: list                    # the command's records, in command order, labelled as in it
    planned: int = 0
    trained: int = 0
    skipped: int = 0
    lost: list = field(default_factory=list)        # (label, seed, reason)
    problems: list = field(default_factory=list)    # files of runs/ that are not records
    interrupted: bool = False
    executor: str = ""
    views: list = field(default_factory=list)

    @property
    def failed(self) -> list:
        return [r for r in self.records if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C, 1 when a run failed or was lost, else 0 (diverged runs are results)."""
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.lost) else 0


def run_comparison(config: CompareConfig, progress=print) -> Comparison:
    """Check and plan every run, train those without a final record, write the views."""
    from minidl.lab.batch import run_batch
    from minidl.lab.store import RunStore
    from minidl.lab.views import write_views

    from minidl.lab.views import check_figure_options

    check_figure_options(config.style, config.loss_x)
    store = RunStore(config.out)
    configs = plan(config)                   # every setting checked (no folder made yet) ...
    removed = store.prepare()                # ... and the --out folder, all before any training
    for path in removed:
        progress(f"removed the stale temporary file {path}")

    def text_views(batch):                   # now and then while runs come back
        write_views(batch.records(configs), store.out, config.command, figures=False)

    batch = run_batch(configs, store, workers=config.workers, scheduler=config.scheduler,
                      threads=config.threads, progress=progress, on_progress=text_views)
    result = Comparison(out=store.out, records=batch.records(configs), planned=batch.planned,
                        trained=batch.trained, skipped=batch.skipped, problems=batch.problems,
                        lost=[(c.get("label"), c["seed"], reason) for c, reason in batch.lost],
                        interrupted=batch.interrupted, executor=batch.executor)
    result.views = write_views(result.records, store.out, config.command,
                               figures=config.figures and not result.interrupted, style=config.style,
                               loss_x=config.loss_x)
    return result
