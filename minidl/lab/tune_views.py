"""The views of a tuning store, drawn from its records (and the protocol in ``tune.json``).

:func:`analyze` groups the records of ``minidl tune`` by problem, optimizer row and stage
(``grid``, ``tuned``, ``default``: see :mod:`minidl.lab.tune`), scores every grid point,
picks the best one per row, flags a best point at the edge of its grid, and summarises
the final runs (mean and std over seeds, median steps and seconds to the target).  The
files: ``table.md``, ``results.json``, ``sensitivity.png``, ``time_to_target.png`` and
``profile.png`` (a Dolan-More performance profile of the seconds to target over problems).

Scoring a grid point (higher is better): its final validation accuracy, or minus its final
validation loss, or minus its steps to the target (a point that never reached the target
ranks after every point that did, by the problem's target metric).  A diverged or failed
point scores worse than any that trained.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time

from minidl.fileio import atomic_write
from minidl.lab.problems import PROBLEMS, TARGET_METRICS
from minidl.lab.store import dump_record
from minidl.lab.views import md_cell, md_code

STAGES = ("grid", "tuned", "default")
METRICS = ("val_accuracy", "val_loss", "steps_to_target")
PROTOCOL_FILE = "tune.json"
TUNE_FILES = ("table.md", "results.json")
TUNE_FIGURES = ("sensitivity.png", "time_to_target.png", "profile.png")
WORST = (-1, 0.0, 0.0)


# ------------------------------------------------------------------ scoring
def final(record, key):
    """The last epoch's value of ``key`` in a record's history (None when it has none)."""
    values = (record.get("history") or {}).get(key) or []
    return values[-1] if values and values[-1] is not None else None


def score(record, metric: str, problem_metric: str = "val_accuracy") -> tuple:
    """A grid point's score, a tuple compared as a whole (higher is better); WORST for a run
    that diverged, failed or has no value."""
    if record is None or record["status"] != "ok":
        return WORST
    sign = 1.0 if TARGET_METRICS[problem_metric] else -1.0
    fallback = final(record, problem_metric)
    fallback = sign * fallback if fallback is not None and math.isfinite(fallback) else -math.inf
    if metric == "steps_to_target":
        target = record.get("target") or {}
        if not target.get("reached"):
            return (0, -math.inf, fallback)
        return (1, -float(target["steps_to_target"]), fallback)
    value = final(record, metric)
    if value is None or not math.isfinite(value):
        return WORST
    return (1, value if TARGET_METRICS[metric] else -value, fallback)


def metric_value(record, metric: str):
    """What a grid point is scored on, as a number (None when diverged or missing)."""
    if record is None or record["status"] != "ok":
        return None
    if metric == "steps_to_target":
        target = record.get("target") or {}
        return target.get("steps_to_target")
    return final(record, metric)


def edge_flags(points: list, best_point: dict) -> list:
    """Per grid key with 2 or more values, where the best value sits at the low or high end:
    ``[{"key", "side", "value"}]``."""
    flags = []
    for key in sorted(best_point):
        values = sorted({p[key] for p in points if isinstance(p.get(key), (int, float))})
        if len(values) < 2 or not isinstance(best_point[key], (int, float)):
            continue
        if best_point[key] == values[0]:
            flags.append({"key": key, "side": "low", "value": values[0]})
        elif best_point[key] == values[-1]:
            flags.append({"key": key, "side": "high", "value": values[-1]})
    return flags


def edge_advice(label: str, flag: dict) -> str:
    where = "below" if flag["side"] == "low" else "above"
    return (f"{label}: the best {flag['key']} = {flag['value']:g} is at the {flag['side']} edge of the grid; "
            f"widen the grid {where} it (the best value may lie outside)")


# ------------------------------------------------------------------ summaries
def _seed_summary(records, problem_metric: str) -> dict:
    """Mean and std over seeds of the final test metrics; medians of steps and seconds to target."""
    done = [r for r in records if r["status"] == "ok"]
    out = {"seeds": [r["config"]["seed"] for r in records], "statuses": [r["status"] for r in records],
           "ids": [r["id"] for r in records]}
    for key in ("test_accuracy", "test_loss"):
        values = [v for v in (final(r, key) for r in done) if v is not None and math.isfinite(v)]
        out[key] = statistics.fmean(values) if values else None
        out[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)
    reached = [(r.get("target") or {}) for r in records]
    for key in ("steps_to_target", "seconds_to_target"):
        values = [t[key] if t.get("reached") else math.inf for t in reached]
        median = statistics.median(values) if values else math.inf
        out[key] = None if math.isinf(median) else median
    out["reached"] = sum(bool(t.get("reached")) for t in reached)
    return out


def _row_of(records, stage):
    return [r for r in records if r["config"].get("stage") == stage]


def point_order(point) -> tuple:
    """A sort key for grid points: by key name, numbers by value (1e-05 before 0.0001), then text."""
    return tuple((k, 0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else (k, 1, 0.0, str(v)) for k, v in sorted((point or {}).items()))


def _analyze_row(label, records, metric, problem) -> dict:
    grid = sorted(_row_of(records, "grid"), key=lambda r: point_order(r["config"].get("tune", {}).get("grid")))
    points = [r["config"].get("tune", {}).get("grid") or {} for r in grid]
    scored = [{"point": p, "id": r["id"], "status": r["status"], "label": r.get("label"),
               "value": metric_value(r, metric), "score": list(score(r, metric, problem.target_metric)),
               "val_accuracy": final(r, "val_accuracy"), "val_loss": final(r, "val_loss"),
               "diverged": r["status"] == "diverged"} for p, r in zip(points, grid)]
    row = {"label": label, "grid": scored, "best": None, "edge": [], "advice": [],
           "tuned": None, "default": None, "default_point": {}}
    trained = [s for s in scored if tuple(s["score"]) != WORST]
    if trained:
        best = max(trained, key=lambda s: tuple(s["score"]))   # ties: the first in grid order
        row["best"] = {"point": best["point"], "id": best["id"], "value": best["value"]}
        row["edge"] = edge_flags(points, best["point"])
        row["advice"] = [edge_advice(label, f) for f in row["edge"]]
    elif scored:
        row["advice"] = [f"{label}: no grid point trained without diverging or failing; no tuned runs"]
    for stage in ("tuned", "default"):
        runs = sorted(_row_of(records, stage), key=lambda r: r["config"]["seed"])
        if runs:
            row[stage] = _seed_summary(runs, problem.target_metric)
    defaults = _row_of(records, "default")
    if defaults and points:
        hyper = defaults[0]["config"]["optimizer"]["hyper"]
        row["default_point"] = {k: hyper.get(k) for k in points[0]}
    return row


def _ranks(rows, stage, problem) -> None:
    """``rank_<stage>``: 1 for the best mean test metric of the problem's target metric."""
    key = "test_accuracy" if problem.target_metric == "val_accuracy" else "test_loss"
    better_high = TARGET_METRICS[problem.target_metric]
    present = [r for r in rows if r[stage] and r[stage][key] is not None]
    ordered = sorted(present, key=lambda r: -r[stage][key] if better_high else r[stage][key])
    for r in rows:
        r[f"rank_{stage}"] = ordered.index(r) + 1 if r in ordered else None


def analyze(records, protocol: dict | None = None) -> dict:
    """The tuning's results from its records: per problem, per optimizer row (by label), the
    scored grid, the best point, edge flags and the tuned and default summaries."""
    protocol = protocol or {}
    records = [r for r in records if r["config"].get("stage") in STAGES]
    by_problem: dict = {}
    for r in records:
        by_problem.setdefault(r["config"].get("problem", "mnist-cnn"), {}).setdefault(
            r.get("label") or r["config"].get("label"), []).append(r)
    problems = {}
    for name, rows in by_problem.items():
        problem = PROBLEMS[name]
        metric = protocol.get("metric") or problem.target_metric
        analysed = [_analyze_row(label, recs, metric, problem) for label, recs in rows.items()]
        for stage in ("tuned", "default"):
            _ranks(analysed, stage, problem)
        target = next((r["config"].get("target") for recs in rows.values() for r in recs
                       if r["config"].get("target")), None)
        problems[name] = {"metric": metric, "target": target, "rows": analysed,
                          "rank_by": "test accuracy" if problem.target_metric == "val_accuracy" else "test loss"}
    return {"problems": problems}


# ------------------------------------------------------------------ table.md
def _mean_std(summary, key) -> str:
    if not summary or summary[key] is None:
        return "—" if not summary else _failed_cell(summary)
    text = f"{summary[key]:.4f} ± {summary[key + '_std']:.4f}"
    done = summary["statuses"].count("ok")
    return text + (f" ({done} of {len(summary['statuses'])} seeds)" if done < len(summary["statuses"]) else "")


def _failed_cell(summary) -> str:
    diverged = summary["statuses"].count("diverged")
    return f"diverged ({diverged} of {len(summary['statuses'])} seeds)" if diverged else "failed"


def _to_target(summary, key, fmt) -> str:
    if not summary:
        return "—"
    if summary[key] is None:
        return f"not reached ({summary['reached']} of {len(summary['statuses'])})" if summary["reached"] \
            else "not reached"
    return fmt(summary[key])


def _point_text(point) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in point.items()) or "—"


_SHORT = {"test_accuracy": "acc", "test_loss": "loss"}


def _table_metrics(problem_name: str) -> tuple:
    """The test metrics a problem's table shows: accuracy and loss for a classifier, loss alone
    for a problem scored on its loss (a regression has no accuracy worth printing)."""
    problem = PROBLEMS.get(problem_name)
    if problem is not None and problem.target_metric == "val_loss":
        return ("test_loss",)
    return ("test_accuracy", "test_loss")


def fmt_seconds(seconds: float) -> str:
    """Seconds with a unit and two significant digits below 10 s (0.042 s, 3.1 s, 27.4 s)."""
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.1f} s"


def format_tune_table(analysis: dict) -> str:
    """Per problem: default and tuned test accuracy and loss, best point, ranks, time to target."""
    out = []
    for name, result in analysis["problems"].items():
        target = result["target"]
        goal = f"{target['metric']} {'>=' if TARGET_METRICS[target['metric']] else '<='} {target['value']:g}" \
            if target else "none"
        out += [f"## {name}", "", f"Grid scored on {result['metric']} (validation split); final runs on the test "
                f"set; ranks by {result['rank_by']}; target {goal}; steps and seconds to target: median over seeds "
                "(training time only).", ""]
        keys = _table_metrics(name)
        head = (["Optimizer"] + [f"Default test {_SHORT[k]}" for k in keys] + ["Rank default"]
                + [f"Tuned test {_SHORT[k]}" for k in keys]
                + ["Rank tuned", "Best hyperparameters", "Steps to target (default / tuned)",
                   "Seconds to target (default / tuned)"])
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        notes = []
        for row in result["rows"]:
            best = row["best"]["point"] if row["best"] else None
            cells = ([md_cell(row["label"])] + [_mean_std(row["default"], k) for k in keys]
                     + [str(row.get("rank_default") or "—")] + [_mean_std(row["tuned"], k) for k in keys]
                     + [str(row.get("rank_tuned") or "—"),
                        (_point_text(best) + (" (edge)" if row["edge"] else "")) if best else "none",
                        " / ".join(_to_target(row[s], "steps_to_target", lambda v: f"{v:g}")
                                   for s in ("default", "tuned")),
                        " / ".join(_to_target(row[s], "seconds_to_target", fmt_seconds) for s in ("default", "tuned"))])
            out.append("| " + " | ".join(cells) + " |")
            notes += row["advice"]
            notes += [f"{row['label']}: grid point {_point_text(g['point'])} diverged (scored worst)"
                      for g in row["grid"] if g["diverged"]]
        out += [""] + [f"- {md_cell(n)}" for n in notes] + ([""] if notes else [])
    return "\n".join(out).rstrip() + "\n"


def write_tune_views(records, out: str, command: str = "", protocol=None, figures: bool = True,
                     style: str = "paper") -> list:
    """table.md, results.json and (with ``figures``) the three figures in ``out``; their paths."""
    analysis = analyze(records, protocol)
    if not analysis["problems"]:
        return []
    paths = [os.path.join(out, name) for name in TUNE_FILES]
    trained_by = (protocol or {}).get("command") or command
    head = f"Command: {md_code(trained_by)}\n\n"
    if command and command != trained_by:           # minidl report: the tune's command stays the one shown
        head += f"Views rebuilt from the records by {md_code(command)}.\n\n"
    atomic_write(paths[0], "# Tuned and default optimizers\n\n" + head + format_tune_table(analysis))
    runs = [{k: v for k, v in r.items() if k != "step_loss"} for r in records]
    atomic_write(paths[1], dump_record({"format": "minidl-tune/1", "command": command, "protocol": protocol or {},
                                        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                        "analysis": _json_safe(analysis), "runs": runs}))
    if figures:
        paths += write_tune_figures(analysis, out, style)
    return paths


def _json_safe(value):
    """Infinities (the worst score) as strings: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def read_protocol(out) -> dict | None:
    """The protocol ``minidl tune`` wrote into ``out/tune.json`` (None when absent or unreadable)."""
    try:
        with open(os.path.join(out, PROTOCOL_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------ figures
def write_tune_figures(analysis: dict, out: str, style: str = "paper") -> list:
    """sensitivity.png, time_to_target.png and profile.png in ``out`` (each with an SVG beside
    it), in the look of ``style`` (``"paper"`` or ``"slides"``: :data:`minidl.lab.plots.STYLES`)."""
    from minidl.lab.plots import style_context

    paths = []
    for draw, name in ((plot_sensitivity, "sensitivity.png"), (plot_time_to_target, "time_to_target.png"),
                       (plot_profile, "profile.png")):
        with style_context(style):
            paths.append(draw(analysis, os.path.join(out, name), style=style))
    return paths


def _figure(n_panels: int, height: float = 4.0, style: str = "paper"):
    from minidl.lab.plots import STYLES, pyplot

    plt = pyplot()
    scale = STYLES[style]["scale"]
    fig, axes = plt.subplots(1, n_panels, figsize=((6.0 * n_panels + 2.5) * scale, height * scale), squeeze=False)
    return plt, fig, list(axes[0])


def _save(plt, fig, path) -> str:
    from minidl.lab.plots import save_figure

    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


_AXIS_NAMES = {"val_accuracy": "final validation accuracy", "val_loss": "final validation loss",
               "steps_to_target": "steps to target (validation)"}


def _cap_loss_axis(ax, result, styles) -> list:
    """A loss axis on a log scale up to 20 x the best loss, so a point that blew up (1e35) does
    not flatten the others; the points above are drawn as triangles on the top edge."""
    values = [g["value"] for row in result["rows"] for g in row["grid"]
              if isinstance(g["value"], (int, float)) and math.isfinite(g["value"])]
    if not values or min(values) <= 0:
        return []
    best = min(values)
    cap = 20 * best
    ax.set_yscale("log")
    ax.set_ylim(best / 1.1, cap)
    key = next((k for row in result["rows"] for g in row["grid"] for k in g["point"]), None)
    above = []
    for row, style in zip(result["rows"], styles):
        for g in row["grid"]:
            if isinstance(g["value"], (int, float)) and g["value"] > cap and key is not None:
                above.append(g)
                ax.plot([g["point"].get(key)], [cap], marker="^", color=style["color"], ms=7, linestyle="none",
                        clip_on=False)
    return above


def plot_sensitivity(analysis: dict, path: str, style: str = "paper") -> str:
    """DeepOBS's tunability plot: the scored validation metric of every grid point against its
    value of the first grid key, per optimizer; each default value a dotted line; diverged
    points as crosses at the axis's worst end (they score worst)."""
    from minidl.lab.plots import line_styles

    problems = analysis["problems"]
    plt, fig, axes = _figure(len(problems), style=style)
    for ax, (name, result) in zip(axes, problems.items()):
        metric = result["metric"]
        higher = metric == "val_accuracy"
        crosses = []
        key = next((k for row in result["rows"] for g in row["grid"] for k in g["point"]), None)
        for row, style in zip(result["rows"], line_styles(len(result["rows"]))):
            points = [(g["point"].get(key), g["value"], g["diverged"] or g["value"] is None) for g in row["grid"]]
            good = [(x, y) for x, y, bad in points if not bad and isinstance(x, (int, float))]
            ax.plot([x for x, _ in good], [y for _, y in good], color=style["color"], marker=style["marker"],
                    ms=4, label=row["label"])
            crosses += [(x, style["color"]) for x, _, bad in points if bad and isinstance(x, (int, float))]
            default = row["default_point"].get(key)
            if isinstance(default, (int, float)) and default > 0:
                ax.axvline(default, color=style["color"], linestyle=":", alpha=0.8)
        above = _cap_loss_axis(ax, result, line_styles(len(result["rows"]))) if not higher else []
        if above:
            ax.plot([], [], marker="^", color="gray", linestyle="none", label="above the axis (loss > 20 x best)")
        low, high = ax.get_ylim()
        for x, color in crosses:
            ax.plot([x], [low if higher else high], marker="x", color=color, ms=8, linestyle="none")
        if crosses:
            ax.plot([], [], marker="x", color="gray", linestyle="none", label="diverged (scored worst)")
        ax.plot([], [], color="gray", linestyle=":", label="default value")
        if key is not None and all(isinstance(g["point"].get(key), (int, float)) and g["point"][key] > 0
                                   for row in result["rows"] for g in row["grid"]):
            ax.set_xscale("log")
        ax.set_xlabel(f"{key} (grid value{', log scale' if ax.get_xscale() == 'log' else ''})")
        ax.set_ylabel(_AXIS_NAMES[metric])
        ax.set_title(f"{name}: sensitivity to {key}")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(plt, fig, path)


def plot_time_to_target(analysis: dict, path: str, style: str = "paper") -> str:
    """Median training seconds to the target over seeds, default and tuned, per optimizer."""
    problems = analysis["problems"]
    plt, fig, axes = _figure(len(problems), height=max(3.0, 0.5 * max(len(r["rows"]) for r in problems.values()) + 2),
                             style=style)
    from matplotlib.patches import Patch

    for ax, (name, result) in zip(axes, problems.items()):
        labels = [row["label"] for row in result["rows"]]
        reached = [(row[s] or {}).get("seconds_to_target") for row in result["rows"] for s in ("default", "tuned")]
        top = max([v for v in reached if v is not None], default=1.0)
        ax.set_xlim(0, top * 1.15)
        for offset, stage, color in ((-0.2, "default", "tab:gray"), (0.2, "tuned", "tab:blue")):
            for i, row in enumerate(result["rows"]):
                seconds = (row[stage] or {}).get("seconds_to_target")
                if seconds is None:
                    ax.text(0, i + offset, f"  {stage}: not reached", va="center", fontsize="small", color=color)
                else:
                    ax.barh(i + offset, seconds, height=0.38, color=color)
        ax.legend(handles=[Patch(color="tab:gray", label="default"), Patch(color="tab:blue", label="tuned")],
                  loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels)
        ax.set_xlabel("training seconds to target (median over seeds)")
        target = result["target"]
        ax.set_title(f"{name}: time to {target['metric']} {target['value']:g}" if target else name)
    return _save(plt, fig, path)


def profile_data(analysis: dict) -> dict:
    """Dolan-More performance profiles of the seconds to target: per solver (an optimizer row
    under a stage), the ratio of its time to the best solver's time on each problem (inf when it
    never reached the target)."""
    times: dict = {}
    for name, result in analysis["problems"].items():
        for row in result["rows"]:
            for stage in ("default", "tuned"):
                if row[stage] is not None:
                    seconds = row[stage]["seconds_to_target"]
                    times.setdefault(f"{row['label']} ({stage})", {})[name] = math.inf if seconds is None else seconds
    ratios = {}
    for solver, per_problem in times.items():
        ratios[solver] = []
        for name in analysis["problems"]:
            best = min((t.get(name, math.inf) for t in times.values()), default=math.inf)
            mine = per_problem.get(name, math.inf)
            ratios[solver].append(math.inf if math.isinf(mine) or math.isinf(best) else mine / best)
    return {"problems": list(analysis["problems"]), "ratios": ratios}


def plot_profile(analysis: dict, path: str, style: str = "paper") -> str:
    """rho_s(tau) = the fraction of problems on which solver s reached the target within tau times
    the fastest solver's time, against tau (log scale)."""
    from minidl.lab.plots import line_styles

    data = profile_data(analysis)
    plt, fig, axes = _figure(1, style=style)
    ax = axes[0]
    finite = [r for rs in data["ratios"].values() for r in rs if not math.isinf(r)]
    top = max(finite + [1.0]) * 1.5
    n = max(1, len(data["problems"]))
    for (solver, ratios), style in zip(data["ratios"].items(), line_styles(len(data["ratios"]))):
        taus = sorted(r for r in ratios if not math.isinf(r))
        xs, ys = [1.0], [0.0]
        for k, tau in enumerate(taus):
            xs += [tau, tau]
            ys += [ys[-1], (k + 1) / n]
        xs.append(top)
        ys.append(ys[-1])
        ax.plot(xs, ys, color=style["color"], linestyle=style["linestyle"], label=solver)
    ax.set_xscale("log")
    ax.set_xlim(1.0, top)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tau: time to target / fastest time to target (log scale)")
    ax.set_ylabel(f"fraction of the {n} problem{'s' if n > 1 else ''} solved within tau")
    ax.set_title("Performance profile (Dolan and More 2002) of seconds to target")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(plt, fig, path)
