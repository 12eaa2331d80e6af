"""Views of run records: the table, results.json, results.csv, table.md and the figures (each
a PNG with an SVG beside it, in the ``"paper"`` or the ``"slides"`` style).

Everything here is computed from records alone (:mod:`minidl.lab.store`), so ``minidl
compare`` and ``minidl report`` draw the same views from the same records.  A record's
``label`` is the name its row is shown under (``compare`` passes the labels of the command;
``report`` those the records were made with).  Records of one *row* differ only by seed.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time

from minidl.fileio import atomic_write
from minidl.lab.article import ARTICLE
from minidl.lab.store import dump_record, identity

METRICS = ("val_accuracy", "val_loss", "train_loss", "train_accuracy")
VIEW_FILES = ("results.json", "results.csv", "table.md")
FIGURE_FILES = ("val_accuracy.png", "val_loss.png", "train_loss_steps.png", "time.png")


# ------------------------------------------------------------------ rows
def flat_config(record: dict) -> dict:
    """A record's configuration as one flat dict (the keys ``--filter`` accepts): the run's
    settings, ``optimizer`` (its name), ``convention``, each hyperparameter, ``label``,
    ``status`` and ``id``."""
    config = record["config"]
    flat = {k: v for k, v in config.items() if k not in ("optimizer", "data", "data_files")}
    optimizer = config.get("optimizer") or {}
    flat.update(optimizer.get("hyper") or {})
    flat.update(optimizer=optimizer.get("name"), convention=optimizer.get("convention"),
                label=record.get("label"), status=record.get("status"), id=record.get("id"))
    return flat


def _row_key(record: dict) -> str:
    """What the records of one row share: every setting but the seed and the descriptions."""
    same = {k: v for k, v in identity(record["config"]).items() if k != "seed"}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()


def group_rows(records) -> list:
    """Rows in the order of their first record: ``{"label", "records"}`` (by seed).

    Rows that would share a label get the settings that tell them apart appended to it
    (``adam [epochs=2]``), so no two rows of a table have one name."""
    groups: dict = {}
    for record in records:
        groups.setdefault(_row_key(record), []).append(record)
    rows = [{"label": str(rs[0].get("label") or rs[0]["config"].get("label") or rs[0]["id"]),
             "records": sorted(rs, key=lambda r: r["config"]["seed"])} for rs in groups.values()]
    by_label: dict = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    for same in by_label.values():
        if len(same) < 2:
            continue
        flats = [flat_config(row["records"][0]) for row in same]
        keys = sorted({k for f in flats for k in f} - {"seed", "id", "label", "status", "verbose", "data_dir", "note",
                                                       "data_files"})
        differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
        for row, flat in zip(same, flats):
            row["label"] += " [" + ", ".join(f"{k}={flat.get(k)}" for k in differ) + "]"
    return rows


def _mean(values):
    return sum(values) / len(values)


def _std(values):
    if len(values) < 2:
        return 0.0
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _epoch_values(records, metric, epoch_index):
    values = []
    for r in records:
        column = r["history"].get(metric) or []
        if epoch_index < len(column) and column[epoch_index] is not None:
            values.append(column[epoch_index])
    return values


def summarize(records) -> list:
    """One dict per row: label, seeds, statuses, per-epoch mean/std/count of every metric,
    the divergences and failures, and the mean/std time of its finished runs."""
    rows = []
    for row in group_rows(records):
        runs = row["records"]
        # the epochs the runs were to train (a diverged run's later epochs are its outcome too)
        n_epochs = max([len(r["history"].get("epoch") or []) for r in runs]
                       + [int(r["config"].get("epochs") or 0) for r in runs])
        stats = {m: [] for m in METRICS}
        for metric in METRICS:
            for e in range(n_epochs):
                v = _epoch_values(runs, metric, e)
                stats[metric].append((_mean(v), _std(v), len(v)) if v else (None, None, 0))
        timed = [r for r in runs if r["status"] == "ok"] or [r for r in runs if r["history"].get("epoch")]
        times = [r["times"]["train_seconds"] + r["times"]["eval_seconds"] for r in timed]
        first = runs[0]
        rows.append({
            "label": row["label"], "records": runs, "seeds": [r["config"]["seed"] for r in runs],
            "statuses": [r["status"] for r in runs], "epochs": n_epochs, "stats": stats,
            "time": (_mean(times), _std(times)) if times else None,
            "times": times, "timed": timed,
            "diverged": [(r["config"]["seed"], r["divergence"]) for r in runs if r["status"] == "diverged"],
            "failed": [(r["config"]["seed"], r.get("error") or r["status"]) for r in runs
                       if r["status"] in ("failed", "interrupted")],
            "note": first["config"].get("note", ""), "batch_size": first["config"].get("batch_size"),
            "train_size": first.get("train_size"), "val_size": first.get("val_size"),
        })
    return rows


# ------------------------------------------------------------------ the table
def md_cell(text) -> str:
    """``text`` safe inside a Markdown table cell: ``|`` escaped, line breaks as spaces."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())


def md_code(text) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    text = " ".join(str(text).split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fmt_time(seconds: float) -> str:
    """A duration for a table: ``"0.38 s"``, ``"12.3 s"`` under a minute, ``"7:20 min"`` (minutes
    and seconds) from a minute on."""
    if seconds < 59.95:
        return f"{seconds:.{_decimals(seconds)}f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}:{sec:02d} min"


def _decimals(seconds: float) -> int:
    return 2 if seconds < 10 else 1


def fmt_spread(seconds: float, spread: float) -> str:
    """The std of a time as the table writes it beside :func:`fmt_time`: as many decimals as the time."""
    return f"± {spread:.{_decimals(seconds) if seconds < 59.95 else 0}f} s"


def table_epochs(n_epochs: int) -> list:
    """The epochs the article's table shows: 1, 5 and the last (fewer when there are fewer)."""
    return sorted({e for e in (1, 5, n_epochs) if 1 <= e <= n_epochs})


def loss_only(records) -> bool:
    """Whether every record is of a problem scored on its loss (the quadratic): its accuracy is
    always 1 and the table shows the loss alone."""
    from minidl.lab.problems import PROBLEMS

    names = {r["config"].get("problem", "mnist-cnn") for r in records}
    return bool(names) and all(n in PROBLEMS and PROBLEMS[n].target_metric == "val_loss" for n in names)


def fmt_loss(value) -> str:
    """A loss in a table cell: 4 decimals, or 4 significant digits once it reaches 10,000 (a
    diverging run's 1e33 would be 38 characters)."""
    return f"{value:.4f}" if abs(value) < 1e4 or value != value else f"{value:.4g}"


def _cell(row, epoch_index, with_std, loss_alone: bool = False) -> str:
    acc, acc_sd, n = row["stats"]["val_loss" if loss_alone else "val_accuracy"][epoch_index] \
        if epoch_index < row["epochs"] else (None, None, 0)
    if n == 0:
        if row["diverged"]:
            return f"diverged (step {min(d['step'] for _, d in row['diverged'])})"
        if row["failed"]:
            return "failed" if "failed" in row["statuses"] else "interrupted"
        return "—"
    loss, loss_sd, _ = row["stats"]["val_loss"][epoch_index]
    if loss_alone:
        text = f"{loss:.4g}±{loss_sd:.2g}" if with_std else f"{loss:.4g}"
    else:
        text = (f"{acc:.4f}±{acc_sd:.4f} / {fmt_loss(loss)}±{fmt_loss(loss_sd)}" if with_std
                else f"{acc:.4f} / {fmt_loss(loss)}")
    if n < len(row["records"]):
        text += f" ({n} of {len(row['records'])} seeds)"
    return text


def _article_cells(row, art, e):
    acc, _, n = row["stats"]["val_accuracy"][e - 1] if e <= row["epochs"] else (None, None, 0)
    if not (art and e in art and n):
        return ["—", "—"]
    loss = row["stats"]["val_loss"][e - 1][0]
    return [f"{art[e][0]:.4f} / {art[e][1]:.4f}", f"{acc - art[e][0]:+.4f} / {loss - art[e][1]:+.4f}"]


#: a row this far (in final validation accuracy) behind the best one, at its default learning
#: rate, gets the footnote of :func:`default_lr_note`
BEHIND = 0.05


def _default_lr(record):
    """The default learning rate of a record's optimizer under its convention (None when the
    optimizer is not one minidl can name or has no ``lr``)."""
    from minidl.lab.specs import accepted_hyperparameters

    optimizer = record["config"].get("optimizer") or {}
    try:
        return accepted_hyperparameters(optimizer.get("name"), optimizer.get("convention")).get("lr")
    except (ValueError, TypeError, ImportError, AttributeError):
        return None


def behind_at_default_lr(rows) -> dict:
    """``{label: default lr}`` of the rows that sit at their convention's default learning rate
    and end :data:`BEHIND` or more below the best row in final validation accuracy."""
    finals = {r["label"]: r["stats"]["val_accuracy"][-1][0] for r in rows if r["epochs"]}
    best = max((v for v in finals.values() if v is not None), default=None)
    slow = {}
    for r in rows if best is not None else []:
        first = r["records"][0]
        hyper = (first["config"].get("optimizer") or {}).get("hyper") or {}
        default = _default_lr(first)
        value = finals.get(r["label"])
        if value is not None and default is not None and hyper.get("lr") == default and value <= best - BEHIND:
            slow[r["label"]] = default
    return slow


def default_lr_note(rows) -> str | None:
    """A footnote (‡) for the rows of :func:`behind_at_default_lr`: the default, not the rule, is
    what holds them back (Keras's Adadelta takes lr = 0.001 where the paper has none), with where
    to look next."""
    slow = [f"{md_cell(label)} (lr = {lr:g})" for label, lr in behind_at_default_lr(rows).items()]
    if not slow:
        return None
    return (f"‡ {', '.join(slow)}: at the default learning rate of {'its' if len(slow) == 1 else 'their'} "
            f"convention, {BEHIND:g} or more below the best row. Defaults differ between libraries "
            "(Keras's Adadelta takes lr = 0.001, PyTorch's 1.0), so this is the default, not the rule: "
            "`minidl compare --preset conventions` trains them under each convention, and `minidl tune` "
            "finds each one's best learning rate (docs/benchmark.md).")


def _notes(rows) -> list:
    notes = [f"† {md_cell(r['label'])}: {md_cell(r['note'])}" for r in rows if r["note"]]
    lr_note = default_lr_note(rows)
    notes += [lr_note] if lr_note else []
    for r in rows:
        for seed, d in r["diverged"]:
            what = f"the training loss is {d.get('loss', 'not finite')}" if d["what"] == "loss" else d["what"]
            notes.append(f"{md_cell(r['label'])} (seed {seed}): diverged at step {d['step']} "
                         f"(epoch {d['epoch']}; both counted from 0, as fit counts): {md_cell(what)}")
        for seed, error in r["failed"]:
            notes.append(f"{md_cell(r['label'])} (seed {seed}): {md_cell(error)}")
    return notes


def format_table(records, side_by_side: bool = False) -> str:
    """The article's table as Markdown: val acc / val loss at epochs 1, 5, last; time.

    ``side_by_side``: each measured cell is followed by the article's cell for that epoch and
    the difference (measured - article) of accuracy and loss; rows the article lacks show a dash.
    """
    rows = summarize(records)
    if not rows:
        return "(no runs recorded)"
    epochs = table_epochs(max(r["epochs"] for r in rows)) or [1]
    multi = any(len(r["records"]) > 1 for r in rows)
    loss_alone = loss_only(records)
    target = next((r["target"] for r in records if r.get("target")), None)
    head = ["Optimizer"]
    for e in epochs:
        head.append(f"Epoch {e} val loss" if loss_alone else f"Epoch {e} val acc / loss")
        if side_by_side:
            head += [f"Article epoch {e}", "Δ acc / Δ loss"]
    head.append("Total time")
    if side_by_side:
        head.append("Article time")
    if target:
        goal = f"{target['metric']} {'<=' if target['metric'].endswith('loss') else '>='} {target['value']:g}"
        head += [f"Steps to {goal}", "Seconds to target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    slow = behind_at_default_lr(rows)
    for r in rows:
        art = ARTICLE.get(r["label"]) if side_by_side else None
        cells = [md_cell(r["label"]) + (" †" if r["note"] else "") + (" ‡" if r["label"] in slow else "")]
        for e in epochs:
            cells.append(_cell(r, e - 1, multi, loss_alone))
            if side_by_side:
                cells += _article_cells(r, art, e)
        if r["time"] is None:
            cells.append("—")
        else:
            t, t_sd = r["time"]
            cells.append(fmt_time(t) + (f" {fmt_spread(t, t_sd)}" if len(r["records"]) > 1 else ""))
        if side_by_side:
            cells.append(fmt_time(art["time"]) if art else "—")
        if target:
            cells += target_cells(r["records"])
        lines.append("| " + " | ".join(cells) + " |")
    notes = _notes(rows)
    return "\n".join(lines + [""] + notes + ([""] if notes else []) + [_info(rows, multi, side_by_side)])


def target_cells(records) -> list:
    """Median steps and training seconds to the target over a row's seeds, a seed that never
    reached it counting as infinitely slow: "not reached (k of n)" when the median did not."""
    import statistics

    marks = [r.get("target") or {} for r in records]
    cells = []
    for key, fmt in (("steps_to_target", lambda v: f"{v:g}"), ("seconds_to_target", fmt_time)):
        values = [m[key] if m.get("reached") else math.inf for m in marks]
        median = statistics.median(values) if values else math.inf
        reached = sum(bool(m.get("reached")) for m in marks)
        cells.append(fmt(median) if math.isfinite(median) else
                     (f"not reached ({reached} of {len(marks)})" if reached else "not reached"))
    return cells


def _info(rows, multi, side_by_side) -> str:
    first = rows[0]["records"][0]
    config, env = first["config"], first.get("environment", {})
    seeds = sorted({s for r in rows for s in r["seeds"]})
    per_row = {tuple(r["seeds"]) for r in rows}
    info = (f"{config.get('dataset')}: {first.get('train_size')} training / {first.get('val_size')} "
            f"validation images; backend {config.get('backend')} on {env.get('device')}; "
            + (f"seeds {seeds}" if len(per_row) == 1 else "seeds differ by row: "
               + "; ".join(f"{md_cell(r['label'])} {r['seeds']}" for r in rows))
            + ("; cells are mean ± std over seeds" if multi else ""))
    if side_by_side:
        info += ("; the article's times are Keras on its own (unknown) machine, "
                 "so only its accuracies and losses compare")
    return info


# ------------------------------------------------------------------ files
CSV_COLUMNS = ("label", "seed", "status", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
               "lr", "train_seconds", "eval_seconds", "batch_size", "train_size", "optimizer", "convention",
               "epochs", "dataset", "id")


def csv_text(records) -> str:
    """One line per recorded epoch (a run without one gets a line with an empty epoch)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        config, h = r["config"], r["history"]
        fixed = {"label": r.get("label"), "seed": config["seed"], "status": r["status"],
                 "batch_size": config.get("batch_size"), "train_size": r.get("train_size"),
                 "optimizer": config["optimizer"]["name"], "convention": config["optimizer"]["convention"],
                 "epochs": config.get("epochs"), "dataset": config.get("dataset"), "id": r["id"]}
        epochs = h.get("epoch") or []
        for i, epoch in enumerate(epochs or [None]):
            row = dict(fixed, epoch="" if epoch is None else epoch + 1)
            for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr",
                        "train_seconds", "eval_seconds"):
                column = h.get(key) or []
                row[key] = column[i] if i < len(column) and column[i] is not None else ""
            writer.writerow([row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


def results_view(records, command: str = "", store: str = "runs", trained_by: str | None = None) -> dict:
    """``results.json``: the command, a summary per row and the records it was drawn from
    (less their per-step losses, which stay in ``runs/``)."""
    rows = []
    for r in summarize(records):
        last = r["stats"]["val_accuracy"][-1] if r["epochs"] else (None, None, 0)
        rows.append({"label": r["label"], "seeds": r["seeds"], "statuses": r["statuses"],
                     "ids": [x["id"] for x in r["records"]], "epochs": r["epochs"],
                     "final_val_accuracy": last[0], "final_val_accuracy_std": last[1]})
    # the records without their per-step losses (those stay in runs/): a view of many runs stays small
    runs = [{k: v for k, v in r.items() if k != "step_loss"} for r in records]
    return {"format": "minidl-results/1", "command": command, "trained_by": trained_by or _trained_by(records) or command,
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "store": store, "rows": rows, "runs": runs}


def steps_per_epoch(record: dict):
    """The training steps of one epoch of ``record``: as its history counted them, else
    ceil(train size / batch size), else its steps over its epochs (None when nothing says)."""
    counted = [n for n in (record.get("history") or {}).get("steps_per_epoch") or [] if n]
    if counted:
        return counted[0]
    train_size, batch_size = record.get("train_size"), record["config"].get("batch_size")
    if train_size and batch_size:
        return math.ceil(train_size / batch_size)
    epochs = len((record.get("history") or {}).get("epoch") or [])
    return len(record.get("step_loss") or []) / epochs if epochs else None


def machine_loaded(record: dict) -> bool:
    """Whether the 1-minute load average at the start or the end of the run exceeded the cores
    it could use (its own threads count in the load, so a loaded run had company)."""
    env = record.get("environment") or {}
    load = record.get("load_average") or {}
    cores = env.get("cores_available") or env.get("cpu_count")
    marks = (load.get("start") or env.get("load_average_before"), load.get("end") or env.get("load_average_after"))
    return bool(cores) and any(mark and mark[0] is not None and mark[0] > cores for mark in marks)


def _divergence_text(records) -> str:
    return f"diverged at step {min(r['divergence']['step'] for r in records)}"


def _step_series(row) -> dict:
    """One row of train_loss_steps.png: the finished seeds' step losses (every seed's when none
    finished), a note naming the seeds left out, and where the row diverged when all its seeds did."""
    runs = [r for r in row["records"] if r.get("step_loss")]
    drawn = [r for r in runs if r["status"] == "ok"] or runs
    left_out = [r for r in runs if r not in drawn]
    note = None
    if left_out:
        note = "not averaged: " + ", ".join(
            f"seed {r['config']['seed']} " + (f"diverged at step {r['divergence']['step']}"
                                              if r["status"] == "diverged" else r["status"]) for r in left_out)
    diverged = _divergence_text(drawn) if drawn and all(r["status"] == "diverged" for r in drawn) else None
    first = (drawn or row["records"])[0]
    return {"label": row["label"], "losses": [r["step_loss"] for r in drawn], "seeds": len(drawn),
            "steps_per_epoch": steps_per_epoch(first), "batch_size": first["config"].get("batch_size"),
            "train_size": first.get("train_size"), "note": note, "diverged": diverged}


def figure_data(records) -> dict:
    """The plain data the comparison figures draw (:mod:`minidl.lab.plots` takes it): each list
    has one entry per row, in the rows' order, so a row has the same line style in every figure."""
    rows = summarize(records)
    curves = {}
    for metric in ("val_accuracy", "val_loss"):
        series = []
        for r in rows:
            points = [(e + 1, m, s) for e, (m, s, n) in enumerate(r["stats"][metric]) if n]
            gone = [x for x in r["records"] if x["status"] == "diverged"]
            diverged = _divergence_text(gone) if gone else None
            series.append({"label": r["label"], "epochs": [p[0] for p in points], "mean": [p[1] for p in points],
                           "std": [p[2] for p in points], "seeds": len(r["records"]), "diverged": diverged})
        curves[metric] = series
    times = []
    for r in rows:
        seconds = sorted(r["times"])
        times.append({"label": r["label"], "median": _median(seconds) if seconds else None,
                      "low": seconds[0] if seconds else None, "high": seconds[-1] if seconds else None,
                      "seeds": len(seconds)})
    env = rows[0]["records"][0].get("environment", {}) if rows else {}
    return {"curves": curves, "steps": [_step_series(r) for r in rows], "times": times,
            "loaded": sum(machine_loaded(x) for r in rows for x in r["timed"]),
            "dataset": rows[0]["records"][0]["config"].get("dataset") if rows else None,
            "where": f"{env.get('backend')}, {env.get('device')}"}


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def write_figures(records, out: str, style: str = "paper", loss_x: str = "epochs") -> list:
    """val_accuracy.png, val_loss.png, train_loss_steps.png and time.png in ``out``, each with
    an SVG of the same name beside it; returns the PNGs' paths.  ``style``: ``"paper"`` or
    ``"slides"`` (:data:`minidl.lab.plots.STYLES`); ``loss_x``: the x axis of
    train_loss_steps.png, ``"epochs"``, ``"examples"`` or ``"steps"``."""
    from minidl.lab import plots

    check_figure_options(style, loss_x)
    data = figure_data(records)
    if not data["steps"]:
        return []
    paths = [
        plots.plot_epoch_metric(data["curves"]["val_accuracy"], os.path.join(out, "val_accuracy.png"),
                                title=f"Validation accuracy per epoch ({data['dataset']})",
                                ylabel="validation accuracy", style=style),
        plots.plot_epoch_metric(data["curves"]["val_loss"], os.path.join(out, "val_loss.png"),
                                title=f"Validation loss per epoch ({data['dataset']})", ylabel="validation loss",
                                style=style),
        plots.plot_step_losses(data["steps"], os.path.join(out, "train_loss_steps.png"),
                               title=f"Training loss per step ({data['dataset']})", x=loss_x, style=style),
    ]
    if any(t["median"] is not None for t in data["times"]):
        paths.append(plots.plot_times(data["times"], os.path.join(out, "time.png"),
                                      title="Time per optimizer (training + evaluation)", where=data["where"],
                                      loaded=data["loaded"], style=style))
    return paths


def check_figure_options(style, loss_x):
    """ValueError unless ``style`` names a figure style and ``loss_x`` an x axis of the step losses."""
    from minidl.lab.plots import LOSS_X, check_style

    check_style(style)
    if loss_x not in LOSS_X:
        raise ValueError(f"loss_x: expected one of {', '.join(LOSS_X)}, got {loss_x!r}")


def _trained_by(records) -> str | None:
    """The command that trained every record, where the records say it (runs imported from an
    old results.json carry it); None otherwise."""
    trained = {(r["config"].get("imported") or {}).get("command") for r in records}
    return trained.pop() if len(trained) == 1 and None not in trained else None


def _command_lines(records, command: str, trained_by: str | None = None) -> str:
    """"Command: ..." for table.md: the command that trained the runs (``trained_by``, or what
    the records say), and the one that drew the views when it differs (``minidl report``)."""
    trained_by = trained_by or _trained_by(records)
    if not trained_by or trained_by == command:
        return f"Command: {md_code(command)}\n\n"
    return (f"Command: {md_code(trained_by)}\n\n"
            + (f"Views rebuilt from the records by {md_code(command)}.\n\n" if command else ""))


def write_views(records, out: str, command: str = "", figures: bool = True, style: str = "paper",
                loss_x: str = "epochs", trained_by: str | None = None) -> list:
    """results.json, results.csv, table.md (and the figures, :func:`write_figures` with
    ``style`` and ``loss_x``) in ``out``; returns their paths (of the figures, the PNGs')."""
    check_figure_options(style, loss_x)
    records = list(records)
    paths = [os.path.join(out, name) for name in VIEW_FILES]
    atomic_write(paths[0], dump_record(results_view(records, command, trained_by=trained_by)))
    atomic_write(paths[1], csv_text(records))
    atomic_write(paths[2], f"# Optimizer comparison\n\n{_command_lines(records, command, trained_by)}{format_table(records)}\n")
    if figures:
        paths += write_figures(records, out, style=style, loss_x=loss_x)
    return paths
