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
     "times": {"started", "finished", "wall_seconds", "train_seconds", "eval_seconds"},
     "environment": {... "load_average_before": [1, 5, 15 min], "load_average_after": ...}}
"""
from __future__ import annotations

import math
import os
import platform
import time

from minidl import backend as B
from minidl.lab.store import RECORD_FORMAT, config_id
from minidl.lab.threads import thread_info

#: problem name -> how its model is built from (seed, training set); one today
PROBLEMS = {"mnist-cnn": "the article's CNN (Conv2D 32 3x3, MaxPool, Dropout, Dense 256, Dropout, Dense 10)"}

#: History's per-epoch lists -> their names in a record
HISTORY_KEYS = {"epoch": "epoch", "train_loss": "train_loss", "train_acc": "train_accuracy",
                "val_loss": "val_loss", "val_acc": "val_accuracy", "lr": "lr",
                "train_seconds": "train_seconds", "eval_seconds": "eval_seconds"}


# ------------------------------------------------------------------ configurations
def resolved_optimizer(spec) -> dict:
    """A row spec as the optimizer it builds: name, convention and every hyperparameter with
    its default filled in (tuples as lists), so an id changes when a default would."""
    hyper = {**spec.accepted(), **spec.hyper}
    return {"name": spec.optimizer, "convention": spec.convention,
            "hyper": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(hyper.items())}}


def dataset_fingerprint(name: str, data_dir=None) -> dict:
    """What identifies the data set's content (``minidl.data.fingerprint``: the sha256 of each
    file; for the embedded set, its generator's version and parameters)."""
    from minidl import data as D

    return D.fingerprint(name, data_dir=data_dir)


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
                label: str | None = None, note: str = "", data_dir=None, verbose: int = 0) -> dict:
    """The complete configuration of one run (see :mod:`minidl.lab.store` for its id)."""
    import minidl

    return {
        "problem": problem, "dataset": dataset, "data": content_identity(fingerprint),
        "train_subset": train_subset, "val_subset": val_subset,
        "optimizer": resolved_optimizer(spec), "batch_size": int(batch_size), "epochs": int(epochs),
        "seed": int(seed), "backend": backend, "dtype": dtype, "flush_denormals": True,
        "minidl": minidl.__version__,
        "label": label if label is not None else spec.label, "note": note, "data_dir": data_dir,
        "data_files": fingerprint, "verbose": verbose,
    }


# ------------------------------------------------------------------ running
def build_model(problem: str, seed: int, train):
    from minidl import models

    if problem != "mnist-cnn":
        raise ValueError(f"unknown problem {problem!r}; accepted: {', '.join(PROBLEMS)}")
    return models.mnist_cnn(seed=seed, num_classes=train.num_classes, in_channels=train.image_shape[0])


def create_optimizer(resolved: dict, params):
    from minidl import optim

    hyper = {k: (tuple(v) if isinstance(v, list) else v) for k, v in resolved["hyper"].items()}
    return optim.create(resolved["name"], params, convention=resolved["convention"], **hyper)


def load_data(config: dict):
    """The run's training and validation sets, cut to its subsets."""
    from minidl import data as D

    train = D.load_dataset(config["dataset"], "train", data_dir=config.get("data_dir"))
    val = D.load_dataset(config["dataset"], "test", data_dir=config.get("data_dir"))
    if config["train_subset"]:
        train = train.subset(config["train_subset"])
    if config["val_subset"]:
        val = val.subset(config["val_subset"])
    return train, val


def _train(config: dict, history, record: dict):
    """Train; fills ``record`` with sizes and the optimizer; returns (status, divergence)."""
    from minidl import train as T

    train, val = load_data(config)
    record["train_size"], record["val_size"] = len(train), len(val)
    model = build_model(config["problem"], config["seed"], train)
    optimizer = create_optimizer(config["optimizer"], model.parameters())
    record["optimizer"] = repr(optimizer)
    verbose = config.get("verbose", 0)
    if verbose:
        print(f"== {config.get('label')} (seed {config['seed']}): {optimizer!r}, batch "
              f"{config['batch_size']}, {len(train)} images", flush=True)
    try:
        # a diverging run overflows on its way: that is recorded below, not warned about
        with B.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            T.fit(model, optimizer, train, val, epochs=config["epochs"], batch_size=config["batch_size"],
                  seed=config["seed"], verbose=verbose, progress_desc=config.get("label"), history=history,
                  flush_denormals=config.get("flush_denormals", True))
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


def execute(config: dict) -> dict:
    """Train one configuration; its record (never raises for a run that fails or diverges)."""
    from minidl.train import History

    started, load_before = time.time(), _load_average()
    record = {"format": RECORD_FORMAT, "id": config_id(config), "config": config,
              "label": config.get("label"), "status": None, "divergence": None, "error": None,
              "train_size": None, "val_size": None, "optimizer": None}
    history = History()
    try:
        with B.use_backend(config["backend"]), B.default_dtype(config["dtype"]):
            record["status"], record["divergence"] = _train(config, history, record)
            record["environment"] = _environment()
    except KeyboardInterrupt:
        record["status"] = "interrupted"
    except Exception as exc:  # noqa: BLE001 - a failing run is an outcome, recorded with its message
        record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"
    finished = time.time()
    record.setdefault("environment", _environment())
    record["environment"].update(load_average_before=load_before, load_average_after=_load_average())
    record["history"] = _compact_history(history)
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
                       "train_seconds": sum(history.train_seconds), "eval_seconds": sum(history.eval_seconds)}
    return record
