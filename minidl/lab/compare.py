"""The optimizer comparison: the article's grid, presets beyond it, results files.

``run_comparison(config)`` trains the article's CNN once per row and seed. Every
row of one seed starts from the same initial weights (``mnist_cnn(seed)``) and
sees the same shuffling order (the loader's seed), so rows differ only by their
optimizer (and batch size, where the row says so).  After each finished row the
results are written to ``--out`` (``results.json``, ``results.csv``,
``table.md``), so a killed run loses at most the row in progress, and the same
command with the same ``--out`` skips the rows already done.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field

from minidl import backend as B
from minidl.lab.specs import RowSpec, parse_spec

#: The article's table: val accuracy / val loss at epochs 1, 5, 10, and the total time (s).
ARTICLE = {
    "Adadelta": {1: (0.4612, 2.2474), 5: (0.7776, 1.6943), 10: (0.8375, 0.9026), "time": 8 * 60 + 2},
    "Adagrad": {1: (0.8411, 0.7804), 5: (0.9133, 0.3194), 10: (0.9286, 0.2519), "time": 7 * 60 + 33},
    "Adam": {1: (0.9772, 0.0701), 5: (0.9884, 0.0344), 10: (0.9908, 0.0297), "time": 7 * 60 + 20},
    "RMSprop": {1: (0.9783, 0.0712), 5: (0.9846, 0.0484), 10: (0.9857, 0.0501), "time": 10 * 60 + 1},
    "SGD with momentum": {1: (0.9168, 0.2929), 5: (0.9585, 0.1421), 10: (0.9697, 0.1008), "time": 7 * 60 + 4},
    "SGD": {1: (0.9124, 0.3157), 5: (0.9569, 0.1451), 10: (0.9693, 0.1040), "time": 6 * 60 + 42},
}

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


@dataclass
class CompareConfig:
    rows: list = field(default_factory=list)
    epochs: int = 10
    batch_size: int = 64
    dataset: str = "mnist"
    data_dir: str | None = None
    backend: str = "numpy"
    seeds: tuple = (0,)
    train_subset: int | None = None
    val_subset: int | None = None
    out: str | None = None
    verbose: int = 1
    command: str = ""

    def key(self) -> dict:
        """What must match for a row of an earlier run to be reused on resume."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "dataset": self.dataset,
                "backend": self.backend, "train_subset": self.train_subset, "val_subset": self.val_subset}


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


# ---------------------------------------------------------------- running
def _environment(config) -> dict:
    import matplotlib
    import tqdm

    import minidl

    return {
        "backend": config.backend, "device": B.device_name(), "python": platform.python_version(),
        "platform": platform.platform(), "minidl": minidl.__version__, "numpy": B.np.__version__,
        "matplotlib": matplotlib.__version__, "tqdm": tqdm.__version__,
        "cupy": _cupy_version(), "cpu_count": os.cpu_count(),
    }


def _cupy_version():
    if B.name() != "cupy":
        return None
    return B.xp().__version__


def load_results(path) -> dict | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def run_comparison(config: CompareConfig, progress=print) -> dict:
    """Train every row for every seed; returns (and writes, with ``out``) the results dict."""
    from minidl import data as D
    from minidl import models
    from minidl.train import fit

    B.set_backend(config.backend)
    train_full = D.load_dataset(config.dataset, "train", data_dir=config.data_dir)
    val = D.load_dataset(config.dataset, "test", data_dir=config.data_dir)
    if config.val_subset:
        val = val.subset(config.val_subset)
    if config.train_subset:
        train_full = train_full.subset(config.train_subset)

    results_path = os.path.join(config.out, "results.json") if config.out else None
    results = load_results(results_path) if results_path else None
    if results is not None and results.get("config_key") != config.key():
        progress(f"{results_path} was made with other settings ({results.get('config_key')}); starting afresh")
        results = None
    if results is None:
        results = {"config_key": config.key(), "runs": []}
    results.update({
        "command": config.command, "environment": _environment(config),
        "dataset": config.dataset, "train_size": len(train_full), "val_size": len(val),
        "seeds": list(config.seeds), "labels": [r.label for r in config.rows],
        "started": results.get("started") or time.strftime("%Y-%m-%d %H:%M:%S"),
    })
    done = {(r["label"], r["seed"]) for r in results["runs"]}

    for seed in config.seeds:
        for row in config.rows:
            if (row.label, seed) in done:
                progress(f"[skip] {row.label} (seed {seed}): already in {results_path}")
                continue
            train = train_full.subset(row.train_subset) if row.train_subset else train_full
            batch = row.spec.batch or config.batch_size
            batch = len(train) if batch == "full" else int(batch)
            model = models.mnist_cnn(seed=seed, num_classes=train.num_classes,
                                     in_channels=train.image_shape[0])
            optimizer = row.spec.create(model.parameters())
            if config.verbose:
                progress(f"== {row.label} (seed {seed}): {optimizer!r}, batch {batch}, {len(train)} images")
            history = fit(model, optimizer, train, val, epochs=config.epochs, batch_size=batch,
                          seed=seed, verbose=config.verbose, progress_desc=row.label)
            hist = history.to_dict()
            # per-step losses at 4 significant digits keep results.json small (they feed one figure)
            hist["step_loss"] = [float(f"{v:.4g}") for v in hist["step_loss"]]
            results["runs"].append({
                "label": row.label, "seed": seed, "spec": _spec_dict(row.spec), "batch_size": batch,
                "train_size": len(train), "note": row.note, "optimizer": repr(optimizer),
                "history": hist,
                "total_seconds": sum(hist["train_seconds"]) + sum(hist["eval_seconds"]),
            })
            results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
            if config.out:
                write_outputs(results, config.out, figures=False)
    if config.out:
        write_outputs(results, config.out, figures=True)
    return results


def _spec_dict(spec: RowSpec) -> dict:
    d = asdict(spec)
    d["hyper"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d["hyper"].items()}
    return d


# ---------------------------------------------------------------- tables
def _fmt_time(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}:{sec:02d} min"


def summarize(results: dict) -> list:
    """One dict per label: epochs, mean and std (over seeds) of val acc/loss per epoch, times."""
    rows = []
    for label in results["labels"]:
        runs = [r for r in results["runs"] if r["label"] == label]
        if not runs:
            continue
        n_epochs = min(len(r["history"]["val_acc"]) for r in runs)
        stats = {}
        for metric in ("val_acc", "val_loss", "train_loss", "train_acc"):
            per_epoch = [[r["history"][metric][e] for r in runs] for e in range(n_epochs)]
            stats[metric] = [(_mean(v), _std(v)) for v in per_epoch]
        times = [r["total_seconds"] for r in runs]
        rows.append({"label": label, "epochs": n_epochs, "seeds": [r["seed"] for r in runs],
                     "stats": stats, "time": (_mean(times), _std(times)),
                     "note": runs[0].get("note", ""), "batch_size": runs[0]["batch_size"],
                     "train_size": runs[0]["train_size"]})
    return rows


def _mean(values):
    return sum(values) / len(values)


def _std(values):
    if len(values) < 2:
        return 0.0
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _cell(stats, epoch_index, with_std):
    (acc, acc_sd), (loss, loss_sd) = stats["val_acc"][epoch_index], stats["val_loss"][epoch_index]
    if with_std:
        return f"{acc:.4f}±{acc_sd:.4f} / {loss:.4f}±{loss_sd:.4f}"
    return f"{acc:.4f} / {loss:.4f}"


def table_epochs(n_epochs: int) -> list:
    """The epochs the article's table shows: 1, 5 and the last (fewer when there are fewer)."""
    return sorted({e for e in (1, 5, n_epochs) if e <= n_epochs})


def format_table(results: dict, side_by_side: bool = False) -> str:
    """The article's table format as Markdown: val acc / val loss at epochs 1, 5, last; time.

    ``side_by_side``: each measured cell is followed by the article's cell for that
    epoch and the difference (measured - article) of accuracy and loss; rows the
    article did not have show a dash.
    """
    rows = summarize(results)
    if not rows:
        return "(no finished rows)"
    n_epochs = max(r["epochs"] for r in rows)
    epochs = table_epochs(n_epochs)
    multi = len(results.get("seeds", [0])) > 1
    head = ["Optimizer"]
    for e in epochs:
        head.append(f"Epoch {e} val acc / loss")
        if side_by_side:
            head += [f"Article epoch {e}", "Δ acc / Δ loss"]
    head.append("Total time")
    if side_by_side:
        head.append("Article time")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        art = ARTICLE.get(r["label"]) if side_by_side else None
        cells = [r["label"] + (" †" if r["note"] else "")]
        for e in epochs:
            cells.append(_cell(r["stats"], e - 1, multi) if e <= r["epochs"] else "")
            if side_by_side:
                if art and e in art and e <= r["epochs"]:
                    acc, loss = r["stats"]["val_acc"][e - 1][0], r["stats"]["val_loss"][e - 1][0]
                    cells += [f"{art[e][0]:.4f} / {art[e][1]:.4f}",
                              f"{acc - art[e][0]:+.4f} / {loss - art[e][1]:+.4f}"]
                else:
                    cells += ["—", "—"]
        t, t_sd = r["time"]
        cells.append(_fmt_time(t) + (f" ± {t_sd:.0f} s" if multi else ""))
        if side_by_side:
            cells.append(_fmt_time(art["time"]) if art else "—")
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"† {r['label']}: {r['note']}" for r in rows if r["note"]]
    env = results.get("environment", {})
    info = (f"{results.get('dataset')}: {results.get('train_size')} training / {results.get('val_size')} "
            f"validation images; backend {env.get('backend')} on {env.get('device')}; "
            f"seeds {results.get('seeds')}" + ("; cells are mean ± std over seeds" if multi else ""))
    if side_by_side:
        info += ("; the article's times are Keras on its own (unknown) machine, "
                 "so only its accuracies and losses compare")
    return "\n".join(lines + [""] + notes + ([""] if notes else []) + [info])


def write_csv(results: dict, path: str) -> None:
    cols = ["label", "seed", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
            "train_seconds", "eval_seconds", "batch_size", "train_size"]
    lines = [",".join(cols)]
    for run in results["runs"]:
        h = run["history"]
        for i, epoch in enumerate(h["epoch"]):
            vals = [run["label"], run["seed"], epoch, h["train_loss"][i], h["train_acc"][i],
                    h["val_loss"][i], h["val_acc"][i], h["train_seconds"][i], h["eval_seconds"][i],
                    run["batch_size"], run["train_size"]]
            lines.append(",".join(_csv_field(v) for v in vals))
    _atomic_write(path, "\n".join(lines) + "\n")


def _csv_field(value) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f'"{text}"' if ("," in text or '"' in text) else text


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _dump_json(results: dict) -> str:
    """Indented at the top, one line per run (a run's lists would otherwise take a line per number)."""
    runs = results.get("runs", [])
    head = {k: v for k, v in results.items() if k != "runs"}
    text = json.dumps(head, indent=1)[:-2]
    body = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in runs)
    return f"{text},\n \"runs\": [\n  {body}\n ]\n}}\n"


def write_outputs(results: dict, out: str, figures: bool = True) -> None:
    """results.json, results.csv, table.md and (with ``figures``) the PNG figures."""
    os.makedirs(out, exist_ok=True)
    _atomic_write(os.path.join(out, "results.json"), _dump_json(results))
    write_csv(results, os.path.join(out, "results.csv"))
    table = format_table(results)
    _atomic_write(os.path.join(out, "table.md"),
                  f"# Optimizer comparison\n\nCommand: `{results.get('command', '')}`\n\n{table}\n")
    if figures:
        from minidl.lab import plots

        plots.compare_figures(results, out)
