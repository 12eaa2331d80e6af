"""minidl compare: end to end on the embedded dataset, resume, bad specs, table format."""
import json
import subprocess
import sys

import pytest

from minidl import cli
from minidl.lab import compare

QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "256",
         "--val-subset", "128", "--quiet"]


def test_end_to_end_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(QUICK + ["--optimizers", "adam", "sgd:momentum=0.9", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| Optimizer | Epoch 1 val acc / loss | Total time |" in printed
    assert "| adam | 0." in printed and "| sgd:momentum=0.9 | 0." in printed
    for name in ("results.json", "results.csv", "table.md", "val_accuracy.png", "val_loss.png",
                 "train_loss_steps.png", "time.png"):
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in results["runs"]] == ["adam", "sgd:momentum=0.9"]
    run = results["runs"][0]
    assert run["batch_size"] == 64 and run["train_size"] == 256 and run["seed"] == 0
    hist = run["history"]
    assert len(hist["val_acc"]) == 1 and len(hist["step_loss"]) == 4       # ceil(256 / 64)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "train_seconds", "eval_seconds"):
        assert len(hist[key]) == 1
    env = results["environment"]
    assert env["backend"] == "numpy" and env["device"] and env["numpy"] and env["minidl"]
    assert "compare" in results["command"]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("label,seed,epoch,train_loss")
    assert len(csv_lines) == 1 + 2                                             # 2 rows x 1 epoch
    assert "| adam |" in (out / "table.md").read_text()


def test_rows_start_from_the_same_weights_and_order(tmp_path, monkeypatch):
    seen = []
    import minidl.train

    real_fit = minidl.train.fit

    def spy(model, optimizer, *args, **kw):
        seen.append(([p.data.copy() for p in model.parameters()], kw["seed"]))
        return real_fit(model, optimizer, *args, **kw)

    monkeypatch.setattr(minidl.train, "fit", spy)
    cli.main(QUICK + ["--optimizers", "sgd", "adagrad"])
    (w1, s1), (w2, s2) = seen
    assert s1 == s2
    for a, b in zip(w1, w2):
        assert (a == b).all()


def test_resume_skips_finished_rows(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    import minidl.train

    real_fit = minidl.train.fit
    calls = []

    def killed_on_second_row(model, optimizer, *args, **kw):
        calls.append(kw["progress_desc"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed during the second row
        return real_fit(model, optimizer, *args, **kw)

    monkeypatch.setattr(minidl.train, "fit", killed_on_second_row)
    args = QUICK + ["--optimizers", "adam", "rmsprop", "--out", str(out)]
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    saved = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in saved["runs"]] == ["adam"]                   # the first row survived

    calls.clear()
    monkeypatch.setattr(minidl.train, "fit", lambda *a, **kw: calls.append(kw["progress_desc"]) or real_fit(*a, **kw))
    assert cli.main(args) == 0
    assert calls == ["rmsprop"]                                                # adam was not re-run
    saved = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in saved["runs"]] == ["adam", "rmsprop"]


def test_other_settings_start_afresh(tmp_path, capsys):
    out = tmp_path / "run"
    cli.main(QUICK + ["--optimizers", "sgd", "--out", str(out)])
    cli.main(QUICK[:-1] + ["--batch-size", "32", "--optimizers", "sgd", "--out", str(out)])
    assert "starting afresh" in capsys.readouterr().out
    saved = json.loads((out / "results.json").read_text())
    assert [r["batch_size"] for r in saved["runs"]] == [32]


@pytest.mark.parametrize("spec,match", [
    ("adamm", "unknown optimizer 'adamm'; accepted: .*adam.*sgd"),
    ("adam:beta9=0.5", "beta9.*accepted"),
    ("sgd:lr=-1", "lr"),
    ("adam:lr=fast", "lr"),
    ("sgd:nesterov=true", "nesterov"),
])
def test_bad_specs_fail_before_training(spec, match, monkeypatch, capsys):
    import minidl.train

    monkeypatch.setattr(minidl.train, "fit", lambda *a, **k: pytest.fail("training started"))
    rc = cli.main(QUICK + ["--optimizers", "adam", spec])
    assert rc == 2
    err = capsys.readouterr().err
    assert "minidl compare: error:" in err
    import re
    assert re.search(match, err), err


def test_bad_numbers_fail_before_training(capsys):
    assert cli.main(QUICK + ["--epochs", "0"]) == 2
    assert "--epochs must be a positive integer, got 0" in capsys.readouterr().err


def test_presets_are_valid_and_the_article_grid_is_the_default():
    rows = compare.rows_from(None, None)
    assert [r.label for r in rows] == list(compare.ARTICLE)
    assert [r.spec.optimizer for r in rows] == ["adadelta", "adagrad", "adam", "rmsprop", "sgd", "sgd"]
    assert rows[4].spec.hyper == {"momentum": 0.9} and rows[5].spec.hyper == {}
    assert all(r.spec.convention == "keras" and r.spec.batch is None for r in rows)
    extended = compare.rows_from(None, "extended")
    assert len(extended) == 14 and len({r.label for r in extended}) == 14
    assert any(r.spec.batch == "full" for r in extended)
    assert any(r.spec.batch == 1 and r.train_subset for r in extended)
    conv = compare.rows_from(None, "conventions")
    assert {(r.spec.optimizer, r.spec.convention) for r in conv} == {
        (o, c) for o in ("adadelta", "adagrad", "rmsprop", "adam") for c in ("keras", "pytorch", "paper")}
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        compare.rows_from(None, "nope")


def test_table_mean_and_std_over_seeds_and_side_by_side():
    def run(label, seed, accs, losses):
        return {"label": label, "seed": seed, "batch_size": 64, "train_size": 10, "note": "",
                "total_seconds": 61.0 + seed,
                "history": {"val_acc": accs, "val_loss": losses, "train_loss": losses, "train_acc": accs}}
    results = {"labels": ["Adam"], "seeds": [0, 1], "dataset": "mnist", "environment": {},
               "runs": [run("Adam", 0, [0.9] * 10, [0.3] * 10), run("Adam", 1, [0.8] * 10, [0.5] * 10)]}
    table = compare.format_table(results, side_by_side=True)
    # mean 0.85, sample std sqrt(((0.05)^2 * 2) / 1) = 0.0707
    assert "0.8500±0.0707 / 0.4000±0.1414" in table
    assert "1:02 min ± 1 s" in table                 # mean 61.5 s rounds to 62
    assert "0.9772 / 0.0701" in table                # the article's Adam, epoch 1
    assert "-0.1272 / +0.3299" in table              # epoch 1: 0.85 - 0.9772, 0.40 - 0.0701
    assert "-0.1408 / +0.3703" in table              # epoch 10: 0.85 - 0.9908, 0.40 - 0.0297
    assert "7:20 min" in table                       # the article's Adam time


def test_python_dash_m_minidl_compare_help():
    out = subprocess.run([sys.executable, "-m", "minidl", "compare", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--side-by-side" in out.stdout and "--seeds" in out.stdout


@pytest.mark.skipif(__import__("minidl").backend.cupy_available(), reason="CuPy and a GPU are present")
def test_cupy_backend_missing_is_a_clear_error(capsys):
    assert cli.main(QUICK + ["--backend", "cupy"]) == 2
    assert "pip install minidl[gpu]" in capsys.readouterr().err
