"""minidl report: the views rebuilt from the records alone, filtered, with nothing trained."""
import json
import os

import pytest

from minidl import cli
from minidl.lab import report as R

QUICK = ["compare", "--dataset", "synthetic", "--train-subset", "128", "--val-subset", "64", "--quiet",
         "--no-figures"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with adam and sgd at 1 epoch, sgd at 2 epochs, and a diverged row."""
    out = tmp_path_factory.mktemp("store")
    assert cli.main(QUICK + ["--epochs", "1", "--optimizers", "adam:label=Adam", "sgd", "--out", str(out)]) == 0
    assert cli.main(QUICK + ["--epochs", "2", "--optimizers", "sgd", "sgd:lr=1e30,label=huge", "--out", str(out)]) == 0
    for name in ("results.json", "results.csv", "table.md"):
        os.remove(out / name)
    return out


@pytest.fixture
def no_training(monkeypatch):
    import minidl.train

    monkeypatch.setattr(minidl.train, "fit", lambda *a, **k: pytest.fail("training started"))


def table_rows(text):
    return [line.split(" | ")[0].lstrip("| ") for line in text.splitlines() if line.startswith("| ")][1:]


def test_report_rebuilds_every_view_from_the_records(store, no_training, capsys):
    assert cli.main(["report", str(store), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert table_rows(out) == ["Adam", "sgd [epochs=1]", "sgd [epochs=2]", "huge"]
    assert "| huge | diverged (step 1) | diverged (step 1) |" in out
    assert "4 of 4 recorded runs shown" in out
    results = json.loads((store / "results.json").read_text())
    assert len(results["runs"]) == 4 and results["command"].startswith("minidl report")
    assert len((store / "results.csv").read_text().splitlines()) == 1 + 1 + 1 + 2 + 1
    assert table_rows((store / "table.md").read_text()) == table_rows(out)


def test_filters_select_records(store, no_training, capsys):
    assert cli.main(["report", str(store), "--no-figures", "--filter", "epochs=2"]) == 0
    assert table_rows(capsys.readouterr().out) == ["sgd", "huge"]
    assert cli.main(["report", str(store), "--no-figures", "--filter", "optimizer=sgd", "--filter", "status=ok"]) == 0
    assert table_rows(capsys.readouterr().out) == ["sgd [epochs=1]", "sgd [epochs=2]"]
    assert cli.main(["report", str(store), "--no-figures", "--filter", "lr=0.001", "--filter", "lr=1e30"]) == 0
    assert table_rows(capsys.readouterr().out) == ["Adam", "huge"]
    assert cli.main(["report", str(store), "--no-figures", "--filter", "dataset=synthetic", "--side-by-side",
                     "--filter", "label=Adam"]) == 0
    out = capsys.readouterr().out
    assert "Article epoch 1" in out and "| 0.9772 / 0.0701 |" in out


def test_report_writes_figures_into_another_folder(store, no_training, tmp_path, capsys):
    assert cli.main(["report", str(store), "--views-out", str(tmp_path / "v"), "--filter", "epochs=1"]) == 0
    figures = ("time", "train_loss_steps", "val_accuracy", "val_loss")
    assert sorted(os.listdir(tmp_path / "v")) == sorted(["results.csv", "results.json", "table.md"]
                                                        + [f"{f}.{kind}" for f in figures for kind in ("png", "svg")])


@pytest.mark.parametrize("args,match", [
    (["--filter", "epochs"], "--filter 'epochs': expected KEY=VALUE"),
    (["--filter", "nope=1"], "no record has the key 'nope'; keys: .*epochs"),
    (["--filter", "epochs=7"], "no record matches epochs=7; present: epochs: 1, 2"),
])
def test_bad_filters_are_one_line_errors(store, args, match, capsys):
    import re

    assert cli.main(["report", str(store), "--no-figures"] + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("minidl report: error: ") and err.count("\n") == 1
    assert re.search(match, err), err


def test_a_folder_without_a_store_is_an_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert f"{tmp_path}: not a minidl run store (it has no runs/ folder)" in capsys.readouterr().err


def test_unreadable_records_are_named_and_the_rest_reported(store, capsys):
    bad = store / "runs" / "zz-broken.json"
    bad.write_text("{")
    try:
        assert cli.main(["report", str(store), "--no-figures"]) == 0
        captured = capsys.readouterr()
        assert f"warning: {bad}: is not valid JSON" in captured.err
        assert len(table_rows(captured.out)) == 4
    finally:
        bad.unlink()


@pytest.mark.parametrize("actual,text,expected", [
    (10, "10", True), (10, "10.0", True), (0.001, "1e-3", True), (None, "none", True), (True, "true", True),
    (False, "true", False), ([0.9, 0.999], "0.9/0.999", True), ("adam", "Adam", False), (3, "x", False),
])
def test_value_matches(actual, text, expected):
    assert R.value_matches(actual, text) is expected


def test_report_keeps_the_command_that_trained_and_the_row_order(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ordered"
    assert cli.main(QUICK + ["--epochs", "1", "--optimizers", "sgd:label=B", "adam:label=A", "--out", str(out)]) == 0
    import minidl.train

    monkeypatch.setattr(minidl.train, "fit", lambda *a, **k: pytest.fail("training started"))
    # B started first here; with two workers A may have: the table keeps the command's order all the same
    results = json.loads((out / "results.json").read_text())
    results["rows"].reverse()
    (out / "results.json").write_text(json.dumps(results))
    trained = json.loads((out / "results.json").read_text())["command"]
    for _ in range(2):                                     # a second report reads the first one's view
        assert cli.main(["report", str(out), "--no-figures"]) == 0
        table = (out / "table.md").read_text()
        assert f"Command: `{trained}`" in table and "rebuilt from the records by `minidl report" in table
        assert table_rows(table) == ["A", "B"]
        results = json.loads((out / "results.json").read_text())
        assert results["trained_by"] == trained and results["command"].startswith("minidl report")
    elsewhere = tmp_path / "views"                         # a new --views-out folder: the store's own last view
    assert cli.main(["report", str(out), "--no-figures", "--views-out", str(elsewhere)]) == 0
    table = (elsewhere / "table.md").read_text()
    assert f"Command: `{trained}`" in table and table_rows(table) == ["A", "B"]
    capsys.readouterr()
