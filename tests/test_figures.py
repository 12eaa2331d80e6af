"""The comparison figures' content: one look per row, legends outside the data, the step losses
against epochs (mean of the seeds, a band, the window said), integer epoch ticks, one-epoch
points with their values, time bars never below 0 with a unit, SVG beside PNG, the two styles."""
import os

import pytest

from minidl import cli
from minidl.cli.figure_options import add_figure_options, figure_options
from minidl.lab import plots, views
from minidl.lab.store import RECORD_FORMAT, config_id


def rec(label, seed, accs, *, steps=None, batch_size=64, train_size=640, status="ok", seconds=12.0,
        load=(0.5, 0.5), cores=2, lr=0.001, divergence=None):
    """A record of ``len(accs)`` epochs; ``steps``: its step losses (default: 10 per epoch, falling)."""
    config = {"problem": "mnist-cnn", "dataset": "mnist", "data": {"name": "mnist"}, "train_subset": None,
              "val_subset": None, "optimizer": {"name": "adam", "convention": "keras", "hyper": {"lr": lr}},
              "batch_size": batch_size, "epochs": max(len(accs), 1), "seed": seed, "backend": "numpy",
              "dtype": "float32", "flush_denormals": True, "minidl": "0.1.0", "label": label, "note": "",
              "data_dir": None, "verbose": 0}
    n = len(accs)
    per_epoch = -(-train_size // batch_size)
    steps = [2.0 / (1 + i) for i in range(per_epoch * n)] if steps is None else steps
    return {"format": RECORD_FORMAT, "id": config_id(config), "config": config, "label": label, "status": status,
            "divergence": divergence, "error": None, "train_size": train_size, "val_size": 100,
            "history": {"epoch": list(range(n)), "val_accuracy": accs, "val_loss": [1 - a for a in accs],
                        "train_loss": [1 - a for a in accs], "train_accuracy": accs, "lr": [lr] * n,
                        "train_seconds": [seconds / max(n, 1)] * n, "eval_seconds": [0.0] * n,
                        "steps_per_epoch": [per_epoch] * n},
            "step_loss": steps, "times": {"train_seconds": seconds, "eval_seconds": 0.0},
            "load_average": {"start": [load[0], 0.1, 0.1], "end": [load[1], 0.1, 0.1]},
            "environment": {"device": "cpu", "backend": "numpy", "cores_available": cores}}


def rows(n, epochs=3, seeds=1):
    return [rec(f"row {i}", s, [0.5 + 0.01 * i + 0.001 * s + 0.1 * e for e in range(epochs)], lr=0.001 * (i + 1))
            for i in range(n) for s in range(seeds)]


def data(records):
    return views.figure_data(records)


def accuracy_figure(records, style="paper"):
    return plots.epoch_metric_figure(data(records)["curves"]["val_accuracy"], title="acc", ylabel="val acc",
                                     style=style)


def steps_figure(records, x="epochs", style="paper"):
    return plots.step_losses_figure(data(records)["steps"], title="loss", x=x, style=style)


def times_figure(records, style="paper"):
    d = data(records)
    return plots.times_figure(d["times"], title="time", where=d["where"], loaded=d["loaded"], style=style)


def labelled_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def texts(fig):
    ax = fig.axes[0]
    return [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts] \
        + [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plots.pyplot().close("all")


# --- one look per row -------------------------------------------------------------

def test_25_rows_get_25_distinct_colour_linestyle_marker_combinations():
    styles = plots.line_styles(25)
    assert len({(s["color"], s["linestyle"], s["marker"]) for s in styles}) == 25
    assert len({s["color"] for s in styles}) == 20          # the palette: tab10, then tab20's light shades
    assert styles[20]["color"] == styles[0]["color"] and styles[20]["linestyle"] != styles[0]["linestyle"]


@pytest.mark.parametrize("n", [7, 25])
@pytest.mark.parametrize("build", [accuracy_figure, steps_figure])
def test_every_row_is_a_line_of_its_own_look(n, build):
    ax = build(rows(n)).axes[0]
    lines = labelled_lines(ax)
    assert [line.get_label() for line in lines] == [f"row {i}" for i in range(n)]
    assert len({line.get_color() for line in lines}) == min(n, 20)
    assert len({(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}) == n


def test_time_bars_take_their_rows_colours():
    records = rows(12)
    bars = times_figure(records).axes[0].patches
    line_colours = [line.get_color() for line in labelled_lines(accuracy_figure(records).axes[0])]
    assert [tuple(p.get_facecolor()[:3]) for p in bars] == [tuple(c[:3]) for c in line_colours]
    many = times_figure(rows(25)).axes[0].patches             # beyond 20 colours a hatch tells bars apart
    assert len({(tuple(p.get_facecolor()), p.get_hatch()) for p in many}) == 25


# --- legends outside the data -----------------------------------------------------

@pytest.mark.parametrize("style", ["paper", "slides"])
@pytest.mark.parametrize("build", [accuracy_figure, steps_figure, times_figure,
                                   lambda records, style: accuracy_figure(rows(4, epochs=1, seeds=2), style)])
def test_the_legend_lies_right_of_the_axes_and_inside_the_figure(build, style):
    fig = build(rows(25, seeds=2), style=style)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1
    assert legend.x1 <= fig.bbox.x1 + 1 and legend.y0 >= fig.bbox.y0 - 1 and legend.y1 <= fig.bbox.y1 + 1


# --- the training loss per step ----------------------------------------------------

def test_step_losses_are_against_epochs_by_default_and_batch_sizes_line_up():
    # 640 examples: 10 steps of 64 an epoch, 5 of 128; 3 epochs each
    records = [rec("b64", 0, [0.5, 0.6, 0.7]), rec("b128", 0, [0.5, 0.6, 0.7], batch_size=128)]
    ax = steps_figure(records).axes[0]
    b64, b128 = labelled_lines(ax)
    assert "epoch" in ax.get_xlabel()
    assert list(b64.get_xdata()[:2]) == [0.1, 0.2] and b64.get_xdata()[-1] == pytest.approx(3.0)
    assert len(b128.get_xdata()) == 15 and b128.get_xdata()[-1] == pytest.approx(3.0)


@pytest.mark.parametrize("x,label,last", [("examples", "examples seen", 3 * 640), ("steps", "training step", 30)])
def test_step_losses_against_examples_or_steps_when_asked(x, label, last):
    ax = steps_figure([rec("a", 0, [0.5, 0.6, 0.7])], x=x).axes[0]
    (line,) = labelled_lines(ax)
    assert label in ax.get_xlabel() and line.get_xdata()[-1] == last


def test_examples_count_the_short_last_batch_of_an_epoch():
    # 100 examples in batches of 32: 32, 64, 96, 100, then the next epoch from 100
    assert plots.step_positions(6, steps_per_epoch=4, batch_size=32, train_size=100, x="examples") == \
        [32, 64, 96, 100, 132, 164]
    with pytest.raises(ValueError, match="x: expected one of epochs, examples, steps, got 'time'"):
        plots.step_positions(3, steps_per_epoch=4, x="time")


def test_the_window_is_a_tenth_of_an_epoch_and_the_axis_says_so():
    assert [plots.smoothing_window(n) for n in (469, 100, 14, 4, None)] == [47, 10, 1, 1, 1]
    # 200 examples in batches of 2: 100 steps an epoch, a window of 10 steps
    ax = steps_figure([rec("a", 0, [0.5], batch_size=2, train_size=200)]).axes[0]
    assert "moving average" in ax.get_ylabel() and "10 steps (0.1 epoch)" in ax.get_ylabel()
    short = steps_figure([rec("a", 0, [0.5])]).axes[0]            # 10 steps an epoch: window 1
    assert "not smoothed" in short.get_ylabel()


def test_the_moving_average_by_hand():
    # window 2: 4, (4+2)/2, (2+6)/2, (6+0)/2
    assert plots._smooth([4.0, 2.0, 6.0, 0.0], 2) == [4.0, 3.0, 4.0, 3.0]


def test_the_line_is_the_mean_of_the_seeds_over_their_common_length_with_a_band():
    records = [rec("a", 0, [0.5], steps=[1.0, 2.0, 3.0, 4.0, 9.0]), rec("a", 1, [0.5], steps=[3.0, 4.0, 5.0, 6.0]),
               rec("a", 2, [0.5], steps=[2.0, 3.0, 4.0, 5.0, 5.0, 5.0])]
    fig = steps_figure(records, x="steps")
    ax = fig.axes[0]
    (line,) = labelled_lines(ax)
    assert list(line.get_ydata()) == [2.0, 3.0, 4.0, 5.0]         # (1+3+2)/3, (2+4+3)/3, ...: 4 common steps
    (band,) = ax.collections
    assert band.get_alpha() >= 0.25
    corners = band.get_paths()[0].vertices
    assert corners[:, 1].min() == 1.0 and corners[:, 1].max() == 6.0  # lowest and highest seed
    assert "mean of 3 seeds" in ax.get_title()


def test_a_diverged_seed_is_left_out_of_the_mean_and_said():
    div = {"step": 3, "epoch": 0, "what": "loss"}
    records = [rec("a", 0, [0.5], steps=[2.0, 2.0, 2.0]), rec("a", 1, [0.5], steps=[4.0, 4.0, 4.0]),
               rec("a", 2, [], steps=[9.0, 9.0], status="diverged", divergence=div)]
    (series,) = data(records)["steps"]
    assert series["seeds"] == 2 and series["note"] == "not averaged: seed 2 diverged at step 3"
    (line,) = labelled_lines(plots.step_losses_figure([series], title="t", x="steps").axes[0])
    assert list(line.get_ydata()) == [3.0, 3.0, 3.0] and "seed 2 diverged" in line.get_label()


# --- the epoch metrics -------------------------------------------------------------

def test_epoch_metrics_have_a_visible_std_band_and_say_the_seeds():
    ax = accuracy_figure(rows(2, seeds=3)).axes[0]
    assert len(ax.collections) == 2 and all(band.get_alpha() >= 0.25 for band in ax.collections)
    assert "mean ± std of 3 seeds" in ax.get_title()


def test_rows_with_other_seed_counts_say_theirs():
    ax = accuracy_figure(rows(1, seeds=3) + [rec("alone", 0, [0.5, 0.6, 0.7], lr=0.5)]).axes[0]
    assert [line.get_label() for line in labelled_lines(ax)] == ["row 0 (3 seeds)", "alone (1 seed)"]
    assert "1 to 3 seeds per row" in ax.get_title()


def test_three_epochs_have_integer_ticks():
    fig = accuracy_figure(rows(2, epochs=3))
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if low <= t <= high]
    assert shown == [1.0, 2.0, 3.0]
    assert [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high] == ["1", "2", "3"]


def test_one_epoch_draws_each_row_as_a_point_with_its_value():
    records = [rec("a", 0, [0.91]), rec("a", 1, [0.93]), rec("b", 0, [0.5], lr=0.5)]
    ax = accuracy_figure(records).axes[0]
    points = labelled_lines(ax)
    assert [p.get_label() for p in points] == ["a (2 seeds)", "b (1 seed)"]
    assert all(p.get_linestyle() == "None" and p.get_marker() not in ("None", None, "") for p in points)
    assert [list(p.get_ydata()) for p in points] == [[pytest.approx(0.92)], [0.5]]
    assert sorted(t.get_text() for t in ax.texts) == ["0.5", "0.92"]
    assert points[0].get_xdata()[0] != points[1].get_xdata()[0]       # side by side, not on top of each other
    # each value beside its marker (right of it, at its height), not on the error bar above it
    assert all(t.get_ha() == "left" and t.xyann[0] > 0 and t.xyann[1] == 0 for t in ax.texts)


# --- time.png --------------------------------------------------------------------

def test_time_bars_are_medians_with_whiskers_never_below_zero_in_seconds():
    records = [rec("a", 0, [0.5], seconds=0.2), rec("a", 1, [0.5], seconds=0.3), rec("a", 2, [0.5], seconds=5.0),
               rec("b", 0, [0.5], seconds=12.3, lr=0.5)]
    fig = times_figure(records)
    ax = fig.axes[0]
    bars = ax.patches
    assert [round(p.get_width(), 6) for p in bars] == [0.3, 12.3] and all(p.get_x() >= 0 for p in bars)
    (whisker,) = [c for c in ax.collections if len(c.get_segments())]
    (segment,) = whisker.get_segments()
    assert list(segment[:, 0]) == [0.2, 5.0]                    # fastest to slowest seed, not ± std
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 5.0 and ax.get_xlabel().startswith("total time (training + evaluation), s")
    assert "0.30 s" in texts(fig) and "12.3 s" in texts(fig)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (3 seeds)", "b (1 seed)"]
    assert not any("0:00" in t for t in texts(fig))


def test_long_times_are_in_minutes():
    ax = times_figure([rec("a", 0, [0.5], seconds=440.0), rec("b", 0, [0.5], seconds=30.0, lr=0.5)]).axes[0]
    assert ax.get_xlabel().startswith("total time (training + evaluation), min")
    assert [round(p.get_width(), 4) for p in ax.patches] == [7.3333, 0.5]
    assert [t.get_text() for t in ax.texts] == ["7.33 min", "0.50 min"]


def test_a_loaded_machine_is_said():
    quiet = times_figure([rec("a", 0, [0.5], load=(1.9, 2.0)), rec("a", 1, [0.5])]).axes[0]
    assert "loaded" not in quiet.get_title()
    busy = [rec("a", 0, [0.5], load=(3.5, 1.0)), rec("a", 1, [0.5], load=(0.5, 2.4)), rec("a", 2, [0.5])]
    assert "machine loaded during 2 runs: times are indicative" in times_figure(busy).axes[0].get_title()


def test_the_table_writes_short_times_in_seconds():
    assert [views.fmt_time(s) for s in (0.2, 0.384, 12.34, 59.9, 61.5, 440)] == \
        ["0.20 s", "0.38 s", "12.3 s", "59.9 s", "1:02 min", "7:20 min"]
    table = views.format_table([rec("a", 0, [0.5], seconds=0.4), rec("a", 1, [0.5], seconds=0.6)])
    assert "| 0.50 s ± 0.14 s |" in table and "0:00" not in table


# --- files and styles -----------------------------------------------------------

def test_every_png_has_an_svg_beside_it(tmp_path):
    paths = views.write_figures(rows(3, seeds=2), str(tmp_path))
    assert [os.path.basename(p) for p in paths] == ["val_accuracy.png", "val_loss.png", "train_loss_steps.png",
                                                    "time.png"]
    for path in paths:
        svg = tmp_path / (os.path.basename(path)[:-4] + ".svg")
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        text = svg.read_text()
        assert "<svg" in text and "<dc:date>" not in text
    first = (tmp_path / "val_loss.svg").read_bytes()
    views.write_figures(rows(3, seeds=2), str(tmp_path))
    assert (tmp_path / "val_loss.svg").read_bytes() == first          # the same figure, the same file
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    with pytest.raises(ValueError, match="save_figure: path must name a .png file"):
        plots.save_figure(accuracy_figure(rows(1)), str(tmp_path / "x.svg"))


def sizes(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    tick = ax.get_xticklabels()[0].get_fontsize()
    legend = ax.get_legend().get_texts()[0].get_fontsize()
    widths = [line.get_linewidth() for line in labelled_lines(ax)]
    return {"title": ax.title.get_fontsize(), "label": ax.xaxis.label.get_fontsize(), "tick": tick,
            "legend": legend, "line": min(widths), "width": fig.get_figwidth()}


@pytest.mark.parametrize("build", [accuracy_figure, steps_figure])
def test_slides_have_bigger_type_thicker_lines_and_a_bigger_figure(build):
    paper, slides = sizes(build(rows(3), style="paper")), sizes(build(rows(3), style="slides"))
    assert all(slides[k] > paper[k] for k in paper), (paper, slides)
    assert min(slides[k] for k in ("title", "label", "tick", "legend")) >= 16 and slides["line"] >= 2.5


@pytest.mark.parametrize("build", [times_figure, lambda records, style: accuracy_figure(rows(3, epochs=1), style)])
def test_slides_write_the_values_beside_points_and_bars_at_16_pt(build):
    for style, size in (("paper", 8), ("slides", 16)):
        notes = build(rows(3), style=style).axes[0].texts
        assert len(notes) == 3 and all(t.get_fontsize() == size for t in notes)


def test_a_bad_style_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="style: expected one of paper, slides, got 'poster'"):
        views.write_views(rows(1), str(tmp_path), style="poster")
    with pytest.raises(ValueError, match="loss_x: expected one of epochs, examples, steps, got 'time'"):
        views.write_views(rows(1), str(tmp_path), loss_x="time")
    assert os.listdir(tmp_path) == []


def test_figure_options_parse_and_default():
    import argparse

    parser = add_figure_options(argparse.ArgumentParser())
    assert figure_options(parser.parse_args([])) == {"style": "paper", "loss_x": "epochs"}
    assert figure_options(parser.parse_args(["--style", "slides", "--loss-x", "examples"])) == \
        {"style": "slides", "loss_x": "examples"}
    assert figure_options(argparse.Namespace()) == {"style": "paper", "loss_x": "epochs"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--style", "poster"])


def test_report_draws_slides_from_a_real_comparison(tmp_path, capsys):
    from matplotlib.image import imread

    out = tmp_path / "store"
    assert cli.main(["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128", "--val-subset",
                     "64", "--seeds", "0", "1", "--optimizers", "adam", "sgd", "--quiet", "--out", str(out)]) == 0
    paper = imread(out / "val_accuracy.png").shape
    assert cli.main(["report", str(out), "--views-out", str(tmp_path / "slides"), "--style", "slides"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'slides' / 'time.svg'}" in printed
    slides = imread(tmp_path / "slides" / "val_accuracy.png").shape
    assert slides[0] > paper[0] and slides[1] > paper[1]
    assert (tmp_path / "slides" / "train_loss_steps.svg").read_text().count("<svg") == 1


def test_a_long_run_draws_at_most_the_line_cap_and_ends_on_its_last_step():
    from minidl.lab import plots

    losses = [2.0 / (1 + i / 500) for i in range(9380)]
    curve = plots.step_curve({"losses": [losses], "steps_per_epoch": 938}, x="steps")
    assert len(curve["x"]) <= plots.MAX_LINE_POINTS and curve["x"][0] == 1 and curve["x"][-1] == 9380
    assert plots.drawn_points(5) == [0, 1, 2, 3, 4] and plots.drawn_points(4003) == list(range(0, 4003, 5)) + [4002]
    full = plots._smooth(losses, 94)
    assert curve["mean"][-1] == full[-1] and curve["mean"][1] == full[10]    # stride 10: the points themselves
