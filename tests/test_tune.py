"""`minidl tune` on the embedded dataset: every output, the stages and splits, the best point
as the records say, a best point at the grid's edge flagged, a diverged point scored worst."""
import json

import pytest

from minidl import cli

pytest.importorskip("matplotlib")

TINY = ["tune", "--problem", "mnist-logreg", "--dataset", "synthetic", "--tune-epochs", "1", "--epochs", "1",
        "--validation", "200", "--train-subset", "600", "--val-subset", "200"]


def records(out):
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def analysis(out, problem="mnist-logreg"):
    return {row["label"]: row for row in
            json.loads((out / "results.json").read_text())["analysis"]["problems"][problem]["rows"]}


def test_a_tiny_tune_writes_every_output_with_its_stages_and_splits(tmp_path, capsys):
    out = tmp_path / "t"
    assert cli.main(TINY + ["--optimizers", "sgd", "adam", "--grid", "lr=1e-3:1e0:4", "--seeds", "0", "1",
                            "--out", str(out)]) == 0
    for name in ["table.md", "results.json", "sensitivity.png", "time_to_target.png", "profile.png"]:
        assert (out / name).stat().st_size > 0, name
    runs = records(out)
    stages = sorted((r["stage"], r["split"], r["config"]["seed"]) for r in runs)
    # grid: 2 optimizers x 4 points, one seed, validation; tuned and default: 2 optimizers x 2 seeds, test
    assert stages.count(("grid", "validation", 0)) == 8
    assert stages.count(("tuned", "test", 0)) == stages.count(("tuned", "test", 1)) == 2
    assert stages.count(("default", "test", 0)) == stages.count(("default", "test", 1)) == 2
    assert len(runs) == 16 and all(r["problem"] == "mnist-logreg" for r in runs)
    for r in runs:
        key = "val_accuracy" if r["split"] == "validation" else "test_accuracy"
        assert key in r["history"], (r["stage"], sorted(r["history"]))
    rows = analysis(out)
    for label in ("sgd", "adam"):
        grid = [r for r in runs if r["stage"] == "grid" and r["label"] == label]
        best = max(grid, key=lambda r: r["history"]["val_accuracy"][-1])       # the hand check
        assert rows[label]["best"]["point"]["lr"] == best["config"]["optimizer"]["hyper"]["lr"]
        tuned = [r for r in runs if r["stage"] == "tuned" and r["label"] == label]
        assert {r["config"]["optimizer"]["hyper"]["lr"] for r in tuned} == {rows[label]["best"]["point"]["lr"]}
    table = (out / "table.md").read_text()
    assert "sgd" in table and "adam" in table and "Tuned test acc" in table
    capsys.readouterr()
    assert cli.main(TINY + ["--optimizers", "sgd", "adam", "--grid", "lr=1e-3:1e0:4", "--seeds", "0", "1",
                            "--out", str(out)]) == 0
    assert "0 runs trained" in capsys.readouterr().out or len(records(out)) == 16
    assert len(records(out)) == 16                                     # the rerun trained nothing new
    (out / "table.md").unlink()
    capsys.readouterr()
    assert cli.main(["report", str(out), "--no-figures"]) == 0          # the tune views again, no training
    printed = capsys.readouterr().out
    assert "Tuned test acc" in printed and (out / "table.md").exists() and len(records(out)) == 16
    head = (out / "table.md").read_text().split("## ")[0]
    assert "Command: `minidl tune --problem mnist-logreg" in head and "rebuilt from the records by `minidl report" in head


def test_a_best_point_at_the_edge_is_flagged_and_a_diverged_point_is_worst(tmp_path):
    out = tmp_path / "e"
    # lr 1e38 sends the weights to inf within the epoch: diverged, scored below every finite point
    assert cli.main(TINY + ["--optimizers", "sgd", "--grid", "lr=1e-4,1e-3,1e38", "--out", str(out)]) == 0
    row = analysis(out)["sgd"]
    grid = {g["point"]["lr"]: g for g in row["grid"]}
    assert grid[1e38]["diverged"] and grid[1e38]["status"] == "diverged"
    assert min(row["grid"], key=lambda g: g["score"])["point"]["lr"] == 1e38
    assert row["best"]["point"]["lr"] != 1e38
    # lr 1e-6 and 1e-5 leave SGD where it started; 0.1 learns (0.27 validation accuracy): best, at the top edge
    out2 = tmp_path / "e2"
    assert cli.main(TINY + ["--optimizers", "sgd", "--grid", "lr=1e-6,1e-5,0.1", "--out", str(out2)]) == 0
    row = analysis(out2)["sgd"]
    assert row["best"]["point"]["lr"] == 0.1 and row["edge"] and "widen" in " ".join(row["advice"])
    out3 = tmp_path / "e3"
    assert cli.main(TINY + ["--optimizers", "sgd", "--grid", "lr=1e-5,0.1,1e38", "--out", str(out3)]) == 0
    assert analysis(out3)["sgd"]["edge"] == []                          # the best in the middle: no flag


@pytest.mark.parametrize("grid, says", [
    (["lr=1:2"], "KEY=LO:HI:N"),
    (["lr=1e-3:1:1000000"], "from 2 to 1000"),                       # a million runs: refused, briefly
    (["lr=1e-3:1.001e-3:20"], "distinct (at 4 significant digits), got 0.001, 0.001"),
    (["lr=1e-4:1:200", "--grid", "beta1=0.1:0.9:100"], "20,000 points (the product of 200 x 100); at most 10,000"),
])
def test_a_bad_grid_is_a_short_one_line_error(tmp_path, capsys, grid, says):
    assert cli.main(TINY + ["--optimizers", "adam", "--grid", *grid, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--grid" in err and "Traceback" not in err and says in err, err
    assert len(err) < 400


def test_a_grid_over_many_decades_is_log_spaced_without_overflow():
    from minidl.lab.tune import parse_grid

    assert parse_grid("lr=1e-300:1e300:5") == ("lr", [1e-300, 1e-150, 1.0, 1e150, 1e300])   # high / low overflows
    assert parse_grid("lr=1e-5:1e1:4") == ("lr", [1e-5, 1e-3, 0.1, 10.0])


def test_problems_lists_the_suite(capsys):
    assert cli.main(["problems"]) == 0
    out = capsys.readouterr().out
    for name in ["quadratic-deep", "mnist-logreg", "mnist-mlp", "mnist-cnn", "fmnist-2c2d"]:
        assert f"| {name} |" in out
    assert "1,387,594" in out                                           # the article's CNN


def test_lrfind_suggests_a_learning_rate_per_optimizer(tmp_path, capsys):
    assert cli.main(["lrfind", "--problem", "mnist-logreg", "--dataset", "synthetic", "--optimizers", "sgd", "adam",
                     "--train-subset", "600", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sgd" in out and "adam" in out and ("steepest" in out or "valley" in out)
    assert (tmp_path / "lrfind.png").stat().st_size and (tmp_path / "lrfind.svg").stat().st_size
    saved = json.loads((tmp_path / "lrfind.json").read_text())
    assert saved["command"].startswith("minidl lrfind --problem mnist-logreg") and saved["problem"] == "mnist-logreg"
    for label in ("sgd", "adam"):
        curve = saved["optimizers"][label]
        assert 10 < len(curve["lrs"]) == len(curve["losses"]) == len(curve["smoothed"]) <= 100
        assert curve["stopped"]                              # why it ended: end_lr reached or the loss ran away
        for method, lr in curve["suggestions"].items():
            assert lr is None or lr in curve["lrs"], method
        assert f"{label}: suggested lr:" in out
