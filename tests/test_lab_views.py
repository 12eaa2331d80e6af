"""Views of records: the table's numbers, escaping, CSV, rows, figure data and line styles."""
import csv
import io

import pytest

from minidl.lab import plots, views
from minidl.lab.store import RECORD_FORMAT, config_id


def rec(label, seed, accs, losses, *, status="ok", lr=0.001, epochs=None, divergence=None, error=None,
        seconds=61.0, name="adam"):
    config = {"problem": "mnist-cnn", "dataset": "mnist", "data": {"name": "mnist"}, "train_subset": None,
              "val_subset": None, "optimizer": {"name": name, "convention": "keras", "hyper": {"lr": lr}},
              "batch_size": 64, "epochs": epochs or max(len(accs), 1), "seed": seed, "backend": "numpy",
              "dtype": "float32", "flush_denormals": True, "minidl": "0.1.0", "label": label, "note": "",
              "data_dir": None, "verbose": 0}
    n = len(accs)
    return {"format": RECORD_FORMAT, "id": config_id(config), "config": config, "label": label, "status": status,
            "divergence": divergence, "error": error, "train_size": 60000, "val_size": 10000,
            "history": {"epoch": list(range(n)), "val_accuracy": accs, "val_loss": losses, "train_loss": losses,
                        "train_accuracy": accs, "lr": [lr] * n, "train_seconds": [1.0] * n,
                        "eval_seconds": [0.5] * n},
            "step_loss": [2.3, 1.0], "times": {"train_seconds": seconds, "eval_seconds": 0.0},
            "environment": {"device": "cpu", "backend": "numpy"}}


def test_table_mean_and_std_over_seeds_and_side_by_side():
    records = [rec("Adam", 0, [0.9] * 10, [0.3] * 10, seconds=61.0), rec("Adam", 1, [0.8] * 10, [0.5] * 10, seconds=62.0)]
    table = views.format_table(records, side_by_side=True)
    # mean 0.85, sample std sqrt(((0.05)^2 * 2) / 1) = 0.0707
    assert "0.8500±0.0707 / 0.4000±0.1414" in table
    assert "1:02 min ± 1 s" in table                 # mean 61.5 s rounds to 62; std of 61, 62 is 0.71
    assert "0.9772 / 0.0701" in table                # the article's Adam, epoch 1
    assert "-0.1272 / +0.3299" in table              # epoch 1: 0.85 - 0.9772, 0.40 - 0.0701
    assert "-0.1408 / +0.3703" in table              # epoch 10: 0.85 - 0.9908, 0.40 - 0.0297
    assert "7:20 min" in table                       # the article's Adam time
    assert "seeds [0, 1]; cells are mean ± std over seeds" in table


def test_a_seed_that_diverged_is_said_and_left_out_of_the_mean():
    div = {"step": 40, "epoch": 1, "what": "loss", "loss": "nan"}
    records = [rec("sgd", 0, [0.5, 0.6], [1.0, 0.9], name="sgd"),
               rec("sgd", 1, [0.7], [0.8], status="diverged", divergence=div, epochs=2, name="sgd")]
    table = views.format_table(records)
    assert "| sgd | 0.6000±0.1414 / 0.9000±0.1414 | 0.6000±0.0000 / 0.9000±0.0000 (1 of 2 seeds) |" in table
    assert "sgd (seed 1): diverged at step 40 (epoch 1; both counted from 0, as fit counts): " \
           "the training loss is nan" in table
    alone = views.format_table([records[1]])
    assert "| sgd | 0.7000 / 0.8000 | diverged (step 40) |" in alone


def test_markdown_cells_and_code_survive_any_label():
    assert views.md_cell("a|b\nc\\d") == "a\\|b c\\\\d"
    assert views.md_code("run `x`") == "`` run `x` ``"
    table = views.format_table([rec("my|label\nwith newline", 0, [0.5], [1.0])])
    assert "| my\\|label with newline | 0.5000 / 1.0000 |" in table
    assert all(line.count("|") - line.count("\\|") == 4 for line in table.splitlines()[:3])


def test_csv_quotes_whatever_a_label_holds():
    label = 'a "quoted", comma\nand a newline'
    text = views.csv_text([rec(label, 0, [0.5, 0.75], [1.0, 0.5])])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["label"] for r in rows] == [label, label]
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[1]["val_accuracy"] == "0.75"
    failed = views.csv_text([rec("f", 0, [], [], status="failed", error="boom")])
    (row,) = list(csv.DictReader(io.StringIO(failed)))
    assert row["status"] == "failed" and row["epoch"] == "" and row["val_accuracy"] == ""


def test_rows_with_one_label_and_other_settings_are_told_apart():
    rows = views.group_rows([rec("adam", 0, [0.5], [1.0], lr=0.001), rec("adam", 1, [0.6], [1.0], lr=0.001),
                             rec("adam", 0, [0.7], [1.0], lr=0.01)])
    assert [(r["label"], len(r["records"])) for r in rows] == [("adam [lr=0.001]", 2), ("adam [lr=0.01]", 1)]


def test_figure_data_draws_a_diverged_run_up_to_its_last_epoch():
    div = {"step": 95, "epoch": 2, "what": "loss"}
    data = views.figure_data([rec("sgd", 0, [0.5, 0.6], [1.0, 0.9], status="diverged", divergence=div, epochs=5)])
    (series,) = data["curves"]["val_accuracy"]
    assert series["epochs"] == [1, 2] and series["mean"] == [0.5, 0.6]
    assert series["diverged"] == "diverged at step 95" and series["seeds"] == 1
    (steps,) = data["steps"]
    assert steps["diverged"] == "diverged at step 95" and steps["steps_per_epoch"] == 938   # ceil(60000 / 64)
    assert data["times"] == [{"label": "sgd", "median": 61.0, "low": 61.0, "high": 61.0, "seeds": 1}]


@pytest.mark.parametrize("n", [3, 10, 14, 20, 25, 90])
def test_line_styles_are_distinct_for_any_number_of_rows(n):
    styles = plots.line_styles(n)
    assert len(styles) == n
    assert len({(s["color"], s["linestyle"], s["marker"]) for s in styles}) == n
    assert len({s["color"] for s in styles}) == min(n, 20)


def test_a_comparison_figure_has_one_distinct_line_per_row(tmp_path, monkeypatch):
    drawn = {}

    def capture(fig, path, dpi=110):
        ax = fig.axes[0]
        drawn["lines"] = [(line.get_color(), line.get_linestyle()) for line in ax.get_lines()
                          if line.get_label() and not line.get_label().startswith("_")]
        drawn["legend_outside"] = ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
        return path

    monkeypatch.setattr(plots, "save_figure", capture)
    series = [{"label": f"row {i}", "epochs": [1, 2], "mean": [0.5, 0.6], "std": [0, 0], "diverged": None}
              for i in range(14)]
    plots.plot_epoch_metric(series, str(tmp_path / "x.png"), title="t", ylabel="y")
    assert len(drawn["lines"]) == 14 and len(set(drawn["lines"])) == 14
    assert drawn["legend_outside"]
