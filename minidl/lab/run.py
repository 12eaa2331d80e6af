"""One run: a pure function from a configuration (a plain dict) to a record (a plain dict).

``make_config`` writes down everything a run depends on; ``execute(config)`` trains it and
returns its record, whatever happens: a run whose loss or weights go non-finite is a record
with status ``diverged``, one that raises is ``failed`` (with the message), one stopped by
Ctrl-C is ``interrupted``.  ``execute`` writes no file, so any executor (this process, local
worker processes, a Dask cluster) can run it and send the record back to the one process
that writes the store (:mod:`minidl.lab.store`).

A record::

    {"format": "minidl-run/1", "id": <config_id(config)>, "config": {...}, "label": ...,
     "status": "ok" | "diverged" | "failed" | "interrupted",
     "divergence": {"step": from 0, as fit counts, "epoch": from 0, "what": "loss" | ...} | None,
     "error": "TypeError: ..." | None,
     "history": {"epoch": [...], "train_loss": [...], "train_accuracy": [...],
                 "val_loss": [...], "val_accuracy": [...], "lr": [...],
                 "train_seconds": [...], "eval_seconds": [...], "steps_per_epoch": [...]},
     "step_loss": [...],                       # every step's loss, 4 significant digits
     "train_size": n, "val_size": n, "optimizer": "Adam(lr=0.001, ...)",
     "times": {"started", "finished", "wall_seconds", "train_seconds", "eval_seconds", "warmup_seconds"},
     "environment": {... "load_average_before": [1, 5, 15 min], "load_average_after": ...},
     "problem": "mnist-cnn", "split": "test" | "validation", "stage": None | "grid" | "tuned" | "default",
     "load_average": {"start": [1, 5, 15 min], "end": [...]},
     "evaluations": {"step": [...], "epoch": [...], "train_seconds": [...], "val_loss": [...],
                     "val_accuracy": [...], "target_reached": [...]},          # with eval_every
     "target": {"metric", "value", "reached", "steps_to_target", "epochs_to_target",
                "seconds_to_target"} | None}                                   # with a target

Speed layer: ``config["perf"]`` False trains on the plain path (``fit(perf=False)``, no
``minidl.perf``); absent, the speed layer is on, so earlier ids stay.

Splits: ``"test"`` (the default) trains on the training set and evaluates on the test set;
``"validation"`` holds out the last ``config["validation"]`` training examples (default: a
sixth, at most 10,000) and evaluates on them, so tuning never sees the test set.  A record's
``history`` names its metrics after the split too (``test_accuracy`` / ``validation_accuracy``
beside ``val_accuracy``).

Timing: before the run, one untimed warm-up step on a copy of the model and optimizer (the
first batch) pays for the first-call costs (allocations, thread pools, BLAS set-up), so the
first epoch is not charged for them; the run's own weights and generators are untouched.
``eval_every`` K evaluates every K steps as well as after each epoch; every evaluation is
kept out of ``train_seconds``.  Time to target is the first evaluation (per step or per epoch)
that meets the target: its step, its epoch (fractional when it falls inside one) and the
training seconds up to it.
"""
from __future__ import annotations

import math
import os
import platform
import time

from minidl import backend as B
from minidl.lab import problems as _problems
from minidl.lab.store import RECORD_FORMAT, config_id
from minidl.lab.threads import thread_info
from minidl.train.callbacks import Callback

#: problem name -> its description (the problems themselves: minidl.lab.problems)
PROBLEMS = {name: problem.description for name, problem in _problems.PROBLEMS.items()}
SPLITS = ("test", "validation")

#: History's per-epoch lists -> their names in a record
HISTORY_KEYS = {"epoch": "epoch", "train_loss": "train_loss", "train_acc": "train_accuracy",
                "val_loss": "val_loss", "val_acc": "val_accuracy", "lr": "lr",
                "train_seconds": "train_seconds", "eval_seconds": "eval_seconds"}


# ------------------------------------------------------------------ configurations
def resolved_optimizer(spec) -> dict:
    """A row spec as the optimizer it builds: name, convention and every hyperparameter with
    its default filled in (tuples as lists), so an id changes when a default would.

    An optimizer from outside minidl (``module:Class`` or an entry point) also gets
    ``source_sha256``, the hash of the file that defines it, so editing one's own rule makes
    new runs instead of reusing the old rule's records."""
    hyper = {**spec.accepted(), **spec.hyper}
    resolved = {"name": spec.optimizer, "convention": spec.convention,
                "hyper": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(hyper.items())}}
    sources = _outside_sources(spec.optimizer, hyper.get("inner"))
    if sources:
        resolved["source_sha256"] = sources
    return resolved


def _outside_sources(*names) -> dict:
    """``{name: sha256 of its source file}`` for each optimizer named that is not minidl's own
    (``module:Class``, an entry point, a class; an inner optimizer given by name too)."""
    from minidl import optim

    found = {}
    for name in names:
        if name is None:
            continue
        cls = optim.resolve(name)
        if not cls.__module__.startswith("minidl."):
            found[name if isinstance(name, str) else f"{cls.__module__}:{cls.__qualname__}"] = source_sha256(cls)
    return found


def source_sha256(cls) -> str | None:
    """sha256 of the source file that defines ``cls`` (None when there is none to read, as
    for a class typed into an interactive session)."""
    import hashlib
    import inspect

    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return None
    if not path or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_fingerprint(name: str, data_dir=None) -> dict:
    """What identifies the data set's content (``minidl.data.fingerprint``: the sha256 of each
    file; for the embedded set and the quadratic, their generator's version and parameters)."""
    return _problems.fingerprint(name, data_dir=data_dir)


def content_identity(fingerprint: dict) -> dict:
    """The part of a fingerprint that says which images and labels a run saw: the sha256 of
    each file's uncompressed content, so a .gz and a raw copy of one file are the same data."""
    files = fingerprint.get("files")
    if not isinstance(files, dict):
        return fingerprint
    return {"name": fingerprint.get("name"),
            "content_sha256": {k: (v.get("content_sha256") or v.get("sha256")) if isinstance(v, dict) else v
                               for k, v in sorted(files.items())}}


def make_config(spec, *, seed: int, epochs: int, batch_size: int, dataset: str, fingerprint: dict,
                train_subset, val_subset, backend: str, dtype: str, problem: str = "mnist-cnn",
                label: str | None = None, note: str = "", data_dir=None, verbose: int = 0,
                split: str = "test", validation=None, stage=None, eval_every=None, target=None) -> dict:
    """The complete configuration of one run (see :mod:`minidl.lab.store` for its id).

    ``split="validation"`` evaluates on the last ``validation`` training examples (None: the
    default size); ``stage`` names the tuning stage; ``eval_every`` K evaluates every K steps;
    ``target`` is ``{"metric": "val_accuracy" | "val_loss", "value": x}``.  Each is written only
    when given, so the ids of runs made without them stay what they were."""
    import minidl

    config = {
        "problem": problem, "dataset": dataset, "data": content_identity(fingerprint),
        "train_subset": train_subset, "val_subset": val_subset,
        "optimizer": resolved_optimizer(spec), "batch_size": int(batch_size), "epochs": int(epochs),
        "seed": int(seed), "backend": backend, "dtype": dtype, "flush_denormals": True,
        "minidl": minidl.__version__,
        "label": label if label is not None else spec.label, "note": note, "data_dir": data_dir,
        "data_files": fingerprint, "verbose": verbose,
    }
    config.update(_extra_settings(split, validation, stage, eval_every, target))
    return config


def _extra_settings(split, validation, stage, eval_every, target) -> dict:
    """The optional settings of a configuration, checked; only those that are given."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    extra = {}
    if split == "validation":
        if validation is not None and (isinstance(validation, bool) or not isinstance(validation, int)
                                       or validation < 1):
            raise ValueError(f"--validation must be a positive integer, got {validation!r}")
        extra.update(split=split, validation=validation)
    if stage is not None:
        extra["stage"] = str(stage)
    if eval_every is not None:
        if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1:
            raise ValueError(f"--eval-every must be a positive integer (steps), got {eval_every!r}")
        extra["eval_every"] = eval_every
    if target is not None:
        if not isinstance(target, dict) or target.get("metric") not in _problems.TARGET_METRICS \
                or not isinstance(target.get("value"), (int, float)) or isinstance(target.get("value"), bool):
            raise ValueError(f"--target: expected a metric of {', '.join(_problems.TARGET_METRICS)} and a number, "
                             f"got {target!r}")
        extra["target"] = {"metric": target["metric"], "value": float(target["value"])}
    return extra


# ------------------------------------------------------------------ running
def build_model(problem: str, seed: int, train):
    """The problem's model for ``train`` (minidl.lab.problems), from ``seed``."""
    if problem not in _problems.PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}; accepted: {', '.join(PROBLEMS)}")
    return _problems.PROBLEMS[problem].build(seed, train)


def create_optimizer(resolved: dict, params):
    """The optimizer a configuration names, over ``params``; refuses one whose source file is
    not the one the configuration was made with (a worker with another copy of the code)."""
    from minidl import optim

    for name, expected in resolved.get("source_sha256", {}).items():
        found = source_sha256(optim.resolve(name))
        if found != expected:
            raise ValueError(f"optimizer {name!r}: its source file here has sha256 {str(found)[:12]}..., "
                             f"the run was configured with {str(expected)[:12]}...; the same code must run "
                             "everywhere")
    hyper = {k: (tuple(v) if isinstance(v, list) else v) for k, v in resolved["hyper"].items()}
    return optim.create(resolved["name"], params, convention=resolved["convention"], **hyper)


def load_data(config: dict):
    """The run's training and evaluation sets, cut to its subsets: with ``split`` "validation"
    the last ``validation`` training examples are the evaluation set (and never trained on),
    else the test set is."""
    from minidl.data import validation_split

    train = _problems.load_split(config["dataset"], "train", data_dir=config.get("data_dir"))
    if config.get("split", "test") == "validation":
        train, val = validation_split(train, config.get("validation"), what="--validation")
    else:
        val = _problems.load_split(config["dataset"], "test", data_dir=config.get("data_dir"))
    if config["train_subset"]:
        train = train.subset(config["train_subset"], what="--train-subset")
    if config["val_subset"]:
        val = val.subset(config["val_subset"], what="--val-subset")
    return train, val


class StepEvaluations(Callback):
    """A fit callback: every ``every`` steps (None: never), evaluate on ``val`` and note the
    training seconds so far, keeping the evaluation's own time out of them; after each epoch,
    a validation loss that is NaN or Inf ends the run as diverged (``Diverged``, ``what``
    naming the validation loss), as a training loss that is does.

    ``rows`` collects one dict per evaluation (step counted from 1, epoch as a fraction,
    train_seconds, val_loss, val_accuracy); ``paused[e]`` is the evaluation time spent inside
    epoch ``e``, which fit's clock counted as training (:func:`execute` moves it back)."""

    def __init__(self, every, val, loss, batch_size: int = 256):
        super().__init__()
        self.every, self.val, self.loss, self.batch_size = every, val, loss, batch_size
        self.rows, self.paused = [], []
        self._before = 0.0            # training seconds of the finished epochs

    def on_epoch_begin(self, epoch, logs=None):
        B.synchronize()
        self._epoch, self._start, self._pause = epoch, time.perf_counter(), 0.0
        self._first_step = len(self.history.step_loss)

    def on_step_end(self, step, loss):
        from minidl.train.evaluation import evaluate_dataset

        if not self.every or (step + 1) % self.every:
            return
        B.synchronize()
        now = time.perf_counter()
        seconds = self._before + (now - self._start - self._pause)
        self.optimizer.eval()
        try:
            val_loss, val_acc = evaluate_dataset(self.model, self.val, self.batch_size, self.loss)
        finally:
            self.optimizer.train()
        B.synchronize()
        self._pause += time.perf_counter() - now
        steps = max(1, int(self.params.get("steps") or 1))
        self.rows.append({"step": step + 1, "epoch": round(self._epoch + (step + 1 - self._first_step) / steps, 4),
                          "train_seconds": seconds, "val_loss": val_loss, "val_accuracy": val_acc})

    def on_epoch_end(self, epoch, logs=None):
        from minidl.train.errors import Diverged

        self.paused.append(self._pause)
        self._before += logs["train_seconds"] - self._pause
        val_loss = logs.get("val_loss")
        if val_loss is not None and not math.isfinite(val_loss):
            # the training loss stayed finite, but the run's result is not: a divergence too
            raise Diverged(len(self.history.step_loss) - 1, epoch,
                           f"the validation loss after epoch {epoch} is {val_loss} (the training loss "
                           "was finite)", self.history, val_loss)


def _warm_up(model, optimizer, train, config: dict, loss) -> float:
    """One untimed training step on copies of the model and optimizer (the first batch), so the
    run's first epoch does not pay the first-call costs; the run's objects are untouched.
    Returns the seconds it took.  A step that goes non-finite is ignored (the run will say so)."""
    import copy

    from minidl.train.fitting import fit   # the function itself (tests that spy on minidl.train.fit see the run's)

    start = time.perf_counter()
    model_copy, optimizer_copy = copy.deepcopy((model, optimizer))
    first = train.subset(min(int(config["batch_size"]), len(train)))
    try:
        with B.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit(model_copy, optimizer_copy, first, None, epochs=1, batch_size=len(first), loss=loss,
                  seed=config["seed"], verbose=0, perf=config.get("perf", True),
                  flush_denormals=config.get("flush_denormals", True))
    except FloatingPointError:
        pass
    B.synchronize()
    return time.perf_counter() - start


def _train(config: dict, history, record: dict, watch_box: list):
    """Train; fills ``record`` with sizes, the optimizer and the warm-up time; returns
    (status, divergence).  The StepEvaluations callback is put in ``watch_box``."""
    from minidl import train as T

    train, val = load_data(config)
    record["train_size"], record["val_size"] = len(train), len(val)
    model = build_model(config["problem"], config["seed"], train)
    loss = _problems.PROBLEMS[config["problem"]].loss
    optimizer = create_optimizer(config["optimizer"], model.parameters())
    record["optimizer"] = repr(optimizer)
    verbose = config.get("verbose", 0)
    if verbose:
        print(f"== {config.get('label')} (seed {config['seed']}): {optimizer!r}, batch "
              f"{config['batch_size']}, {len(train)} images", flush=True)
    record["warmup_seconds"] = _warm_up(model, optimizer, train, config, loss)
    watch = StepEvaluations(config.get("eval_every"), val, loss)
    watch_box.append(watch)
    try:
        # a diverging run overflows on its way: that is recorded below, not warned about
        with B.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            T.fit(model, optimizer, train, val, epochs=config["epochs"], batch_size=config["batch_size"],
                  loss=loss, seed=config["seed"], verbose=verbose, progress_desc=config.get("label"),
                  history=history, perf=config.get("perf", True),
                  flush_denormals=config.get("flush_denormals", True), callbacks=[watch])
    except FloatingPointError as exc:          # minidl.train.Diverged, or an optimizer's own
        return "diverged", _divergence(exc, history)
    return "ok", None


def _divergence(exc, history) -> dict:
    """Where and how a run went non-finite: ``step`` (counted from 0 over the run, as fit's
    messages and ``History.step_loss`` count), ``epoch`` (from 0) and ``what`` (``"loss"``,
    or the optimizer's message naming the parameter)."""
    step = getattr(exc, "step", None)
    if step is None:          # an optimizer's FloatingPointError: the step after the recorded ones
        step = len(history.step_loss)
    divergence = {"step": int(step), "epoch": int(getattr(exc, "epoch", len(history))),
                  "what": str(getattr(exc, "what", None) or exc)}
    loss = getattr(exc, "loss", None)
    if isinstance(loss, float) and not math.isfinite(loss):
        divergence["loss"] = str(loss)          # "nan" or "inf": JSON has no such numbers
    return divergence


def _load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


def _environment() -> dict:
    import minidl
    from minidl.lab.threads import available_cores

    return {"host": platform.node(), "pid": os.getpid(), "python": platform.python_version(),
            "platform": platform.platform(), "minidl": minidl.__version__, "numpy": B.np.__version__,
            "backend": B.name(), "device": B.device_name(), "cpu_count": os.cpu_count(),
            "cores_available": available_cores(), "threads": thread_info()}


def _compact_history(history) -> dict:
    data = history.to_dict()
    out = {HISTORY_KEYS[k]: data[k] for k in HISTORY_KEYS}
    out["steps_per_epoch"] = data["steps_per_epoch"]
    return out


def _utc(seconds: float) -> str:
    """ISO 8601 in UTC, to the millisecond (records sort by it)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


def _timed_history(history, watch) -> dict:
    """The record's history, the evaluations inside each epoch moved from train to eval seconds."""
    out = _compact_history(history)
    paused = watch.paused if watch is not None else []
    for epoch, seconds in enumerate(paused[:len(out["train_seconds"])]):
        out["train_seconds"][epoch] -= seconds
        out["eval_seconds"][epoch] += seconds
    return out


def evaluation_points(record: dict) -> list:
    """Every evaluation of a record in training order: ``{"step", "epoch", "train_seconds",
    "val_loss", "val_accuracy"}``, the per-step ones (``eval_every``) and those after each epoch
    (step: steps so far; epoch: epochs so far; train_seconds: training time so far)."""
    history = record.get("history") or {}
    points, steps, seconds = [], 0, 0.0
    for e in range(len(history.get("epoch") or [])):
        steps += history["steps_per_epoch"][e]
        seconds += history["train_seconds"][e]
        points.append({"step": steps, "epoch": e + 1, "train_seconds": seconds,
                       "val_loss": history["val_loss"][e], "val_accuracy": history["val_accuracy"][e]})
    evaluations = record.get("evaluations") or {}
    for k in range(len(evaluations.get("step") or [])):
        points.append({key: evaluations[key][k] for key in ("step", "epoch", "train_seconds", "val_loss",
                                                              "val_accuracy")})
    return sorted(points, key=lambda p: (p["step"], p["epoch"]))


def time_to_target(points, metric: str, value: float) -> dict:
    """The first of ``points`` (``evaluation_points``) whose ``metric`` meets ``value``:
    ``{"metric", "value", "reached", "steps_to_target", "epochs_to_target", "seconds_to_target"}``
    (the three None when it is never met)."""
    out = {"metric": metric, "value": value, "reached": False, "steps_to_target": None,
           "epochs_to_target": None, "seconds_to_target": None}
    for point in points:
        if _problems.target_reached(metric, point.get(metric), value):
            out.update(reached=True, steps_to_target=point["step"], epochs_to_target=point["epoch"],
                       seconds_to_target=round(point["train_seconds"], 4))
            break
    return out


def _add_evaluations(record: dict, watch) -> None:
    """The per-step evaluations, the metrics under their split's name and the time to target."""
    config, history = record["config"], record["history"]
    if config.get("eval_every"):
        rows = watch.rows if watch is not None else []
        record["evaluations"] = {key: [row[key] for row in rows] for key in
                                 ("step", "epoch", "train_seconds", "val_loss", "val_accuracy")}
    name = record["split"]
    history[f"{name}_loss"], history[f"{name}_accuracy"] = history["val_loss"], history["val_accuracy"]
    target = config.get("target")
    record["target"] = None
    if target:
        metric, value = target["metric"], target["value"]
        history["target_reached"] = [_problems.target_reached(metric, v, value) for v in history[metric]]
        if "evaluations" in record:
            record["evaluations"]["target_reached"] = [_problems.target_reached(metric, v, value)
                                                       for v in record["evaluations"][metric]]
        record["target"] = time_to_target(evaluation_points(record), metric, value)


def execute(config: dict) -> dict:
    """Train one configuration; its record (never raises for a run that fails or diverges)."""
    from minidl.train import History

    started, load_before = time.time(), _load_average()
    record = {"format": RECORD_FORMAT, "id": config_id(config), "config": config,
              "label": config.get("label"), "status": None, "divergence": None, "error": None,
              "problem": config.get("problem"), "split": config.get("split", "test"),
              "stage": config.get("stage"), "train_size": None, "val_size": None, "optimizer": None}
    history, watch_box = History(), []
    try:
        with B.use_backend(config["backend"]), B.default_dtype(config["dtype"]):
            record["status"], record["divergence"] = _train(config, history, record, watch_box)
            record["environment"] = _environment()
    except KeyboardInterrupt:
        record["status"] = "interrupted"
    except Exception as exc:  # noqa: BLE001 - a failing run is an outcome, recorded with its message
        record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"
    finished, load_after = time.time(), _load_average()
    record.setdefault("environment", _environment())
    record["environment"].update(load_average_before=load_before, load_average_after=load_after)
    record["load_average"] = {"start": load_before, "end": load_after}
    watch = watch_box[0] if watch_box else None
    record["history"] = _timed_history(history, watch)
    _add_evaluations(record, watch)
    # the per-step losses feed one figure: 4 significant digits keep a record small; they
    # stop before the first non-finite one (that one is in record["divergence"])
    finite = []
    for value in history.step_loss:
        if not math.isfinite(value):
            break
        finite.append(float(f"{value:.4g}"))
    record["step_loss"] = finite
    record["times"] = {"started": _utc(started), "finished": _utc(finished),
                       "wall_seconds": round(finished - started, 3),
                       "train_seconds": sum(record["history"]["train_seconds"]),
                       "eval_seconds": sum(record["history"]["eval_seconds"]),
                       "warmup_seconds": record.pop("warmup_seconds", None)}
    return record
