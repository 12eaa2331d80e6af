"""minidl compare: the run store end to end on the embedded dataset (records, skips, outcomes,
checks before training, outputs that survive any label)."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from minidl import cli
from minidl.lab import compare
from minidl.lab.store import RunStore

QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128",
         "--val-subset", "64", "--quiet", "--no-figures"]
WITH_FIGURES = [a for a in QUICK if a != "--no-figures"]


def records(out):
    recs, problems = RunStore(out).load()
    assert problems == []
    return recs


def final(out):
    return sorted(os.listdir(os.path.join(out, "runs")))


@pytest.fixture
def fit_calls(monkeypatch):
    """Every fit call's progress_desc (the row label), fit still training."""
    import minidl.train

    real_fit, calls = minidl.train.fit, []

    def spy(*args, **kw):
        calls.append(kw["progress_desc"])
        return real_fit(*args, **kw)

    monkeypatch.setattr(minidl.train, "fit", spy)
    return calls


@pytest.fixture
def no_training(monkeypatch):
    import minidl.train

    monkeypatch.setattr(minidl.train, "fit", lambda *a, **k: pytest.fail("training started"))


def test_end_to_end_writes_records_and_views(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(WITH_FIGURES + ["--optimizers", "adam", "sgd:momentum=0.9", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"results go to {out}" in printed and f"results in {out}" in printed
    assert "| Optimizer | Epoch 1 val acc / loss | Total time |" in printed
    assert "| adam | 0." in printed and "| sgd:momentum=0.9 | 0." in printed
    for name in ("results.json", "results.csv", "table.md", "val_accuracy.png", "val_loss.png",
                 "train_loss_steps.png", "time.png"):
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recs = {r["label"]: r for r in records(out)}
    assert sorted(recs) == ["adam", "sgd:momentum=0.9"]
    adam = recs["adam"]
    assert adam["status"] == "ok" and adam["train_size"] == 128 and adam["val_size"] == 64
    config = adam["config"]
    assert config["seed"] == 0 and config["batch_size"] == 64 and config["epochs"] == 1
    assert config["optimizer"]["hyper"]["lr"] == 0.001 and config["optimizer"]["hyper"]["beta2"] == 0.999
    assert config["optimizer"]["convention"] == "keras" and config["dataset"] == "synthetic"
    assert len(adam["history"]["val_accuracy"]) == 1 and len(adam["step_loss"]) == 2   # ceil(128 / 64)
    env = adam["environment"]
    assert env["backend"] == "numpy" and env["numpy"] and len(env["load_average_before"]) == 3
    assert (out / "runs" / f"{adam['id']}.json").exists()
    results = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in results["rows"]] == ["adam", "sgd:momentum=0.9"]
    assert "compare" in results["command"] and len(results["runs"]) == 2
    assert "| adam |" in (out / "table.md").read_text()


def test_rows_start_from_the_same_weights_and_order(tmp_path, monkeypatch):
    seen = []
    import minidl.train

    real_fit = minidl.train.fit

    def spy(model, optimizer, *args, **kw):
        seen.append(([p.data.copy() for p in model.parameters()], kw["seed"]))
        return real_fit(model, optimizer, *args, **kw)

    monkeypatch.setattr(minidl.train, "fit", spy)
    assert cli.main(QUICK + ["--optimizers", "sgd", "adagrad", "--out", str(tmp_path)]) == 0
    (w1, s1), (w2, s2) = seen
    assert s1 == s2
    for a, b in zip(w1, w2):
        assert (a == b).all()


def test_same_command_again_trains_nothing(tmp_path, fit_calls, capsys):
    args = QUICK + ["--optimizers", "adam", "rmsprop", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert fit_calls == ["adam", "rmsprop"]
    first = {name: (tmp_path / "runs" / name).read_bytes() for name in final(tmp_path)}
    table = (tmp_path / "table.md").read_text()
    fit_calls.clear()
    assert cli.main(args) == 0
    assert fit_calls == []
    assert {name: (tmp_path / "runs" / name).read_bytes() for name in final(tmp_path)} == first
    assert (tmp_path / "table.md").read_text() == table


def test_changed_setting_keeps_the_old_records(tmp_path, fit_calls):
    out = str(tmp_path)
    assert cli.main(QUICK + ["--optimizers", "sgd", "--out", out]) == 0
    assert cli.main(QUICK + ["--batch-size", "32", "--optimizers", "sgd", "--out", out]) == 0
    assert cli.main([a if a != "1" else "2" for a in QUICK] + ["--optimizers", "sgd", "--out", out]) == 0
    recs = records(out)
    assert sorted((r["config"]["batch_size"], r["config"]["epochs"]) for r in recs) == [(32, 1), (64, 1), (64, 2)]
    # the views are those of the last command only
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["config"]["batch_size"], r["config"]["epochs"]) for r in results["runs"]] == [(64, 2)]
    # another spelling of the data set is the same run: nothing trains
    fit_calls.clear()
    assert cli.main([a if a != "synthetic" else "SYNTHETIC" for a in QUICK] + ["--optimizers", "sgd", "--out", out]) == 0
    assert fit_calls == [] and len(records(out)) == 3


def test_a_label_names_a_row_but_does_not_make_a_run(tmp_path, fit_calls, capsys):
    out = str(tmp_path)
    assert cli.main(QUICK + ["--optimizers", "adam:label=Adam", "--out", out]) == 0
    capsys.readouterr()
    assert cli.main(QUICK + ["--optimizers", "sgd:lr=5,label=Adam", "adam:label=Mine", "--out", out]) == 0
    assert fit_calls == ["Adam", "Adam"]                   # the SGD row trains; the relabelled Adam does not
    table = capsys.readouterr().out
    rows = dict(re.findall(r"^\| (Adam|Mine) \| (\S+ / \S+|diverged \(step \d+\)) \|", table, re.M))
    adam = [r for r in records(out) if r["config"]["optimizer"]["name"] == "adam"][0]
    acc, loss = adam["history"]["val_accuracy"][0], adam["history"]["val_loss"][0]
    assert rows["Mine"] == f"{acc:.4f} / {loss:.4f}"        # Adam's own numbers under its new label
    assert rows["Adam"] != rows["Mine"]                     # and not under the SGD row


def test_a_diverging_row_among_three_is_a_result(tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(WITH_FIGURES + ["--optimizers", "adam", "sgd:lr=1e30,label=huge", "sgd", "--out", str(out)])
    assert rc == 0
    recs = {r["label"]: r for r in records(out)}
    assert sorted(recs) == ["adam", "huge", "sgd"]
    assert [recs[k]["status"] for k in ("adam", "huge", "sgd")] == ["ok", "diverged", "ok"]
    divergence = recs["huge"]["divergence"]
    step = divergence["step"]                  # counted from 0, as fit counts
    # drawn up to the divergence: every step's loss before it, and its own when that was finite
    assert len(recs["huge"]["step_loss"]) == step + (divergence["what"] != "loss")
    assert f"| huge | diverged (step {step}) | — |" in capsys.readouterr().out
    assert (out / "val_accuracy.png").exists() and (out / "train_loss_steps.png").exists()
    # a rerun skips the diverged run too
    before = final(out)
    assert cli.main(QUICK + ["--optimizers", "adam", "sgd:lr=1e30,label=huge", "sgd", "--out", str(out)]) == 0
    assert final(out) == before


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path, monkeypatch, capsys):
    import minidl.train

    real_fit = minidl.train.fit

    def fails_for_rmsprop(*args, **kw):
        if kw["progress_desc"] == "rmsprop":
            raise RuntimeError("out of luck\nsecond line")
        return real_fit(*args, **kw)

    monkeypatch.setattr(minidl.train, "fit", fails_for_rmsprop)
    args = QUICK + ["--optimizers", "rmsprop", "adam", "--out", str(tmp_path)]
    assert cli.main(args) == 1
    recs = {r["label"]: r for r in records(tmp_path)}
    assert recs["rmsprop"]["status"] == "failed" and recs["adam"]["status"] == "ok"
    assert recs["rmsprop"]["error"] == "RuntimeError: out of luck\nsecond line"
    out = capsys.readouterr().out
    assert "| rmsprop | failed | — |" in out
    assert "rmsprop (seed 0): RuntimeError: out of luck second line" in out     # one line in the table notes
    # the failed run is tried again; its failed record stays beside the new one
    monkeypatch.setattr(minidl.train, "fit", real_fit)
    assert cli.main(args) == 0
    statuses = sorted(r["status"] for r in records(tmp_path))
    assert statuses == ["failed", "ok", "ok"]


def test_ctrl_c_keeps_finished_records_and_the_rerun_completes(tmp_path, monkeypatch, capsys):
    import minidl.train

    real_fit = minidl.train.fit
    calls = []

    def interrupted_on_second_row(*args, **kw):
        calls.append(kw["progress_desc"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kw)

    monkeypatch.setattr(minidl.train, "fit", interrupted_on_second_row)
    args = QUICK + ["--optimizers", "adam", "rmsprop", "sgd", "--out", str(tmp_path)]
    assert cli.main(args) == 130
    err = capsys.readouterr().err
    assert "run the same command again" in err and "1 of 3 runs are recorded" in err
    assert sorted((r["label"], r["status"]) for r in records(tmp_path)) == [("adam", "ok"), ("rmsprop", "interrupted")]
    calls.clear()
    monkeypatch.setattr(minidl.train, "fit", lambda *a, **kw: calls.append(kw["progress_desc"]) or real_fit(*a, **kw))
    assert cli.main(args) == 0
    assert calls == ["rmsprop", "sgd"]
    assert sorted(r["status"] for r in records(tmp_path)) == ["interrupted", "ok", "ok", "ok"]


def test_corrupt_and_foreign_files_are_named_and_kept(tmp_path, fit_calls, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "broken.json").write_text('{"format": "minidl-run/1", ')
    (runs / "foreign.json").write_text('{"name": "not mine"}')
    assert cli.main([a for a in QUICK if a != "--quiet"] + ["--optimizers", "sgd", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{runs / 'broken.json'}: is not valid JSON" in out
    assert f"{runs / 'foreign.json'}: not a minidl run record" in out
    assert (runs / "broken.json").exists() and (runs / "foreign.json").exists()
    assert fit_calls == ["sgd"]


def test_stale_temporaries_are_removed_and_fresh_ones_kept(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    stale = [runs / ".abc.json.x1y2.tmp", tmp_path / ".results.json.k3.tmp", tmp_path / "results.json.tmp4242"]
    for path in stale:
        path.write_text("{")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    fresh = runs / ".def.json.z9.tmp"
    fresh.write_text("{")
    assert cli.main(QUICK + ["--optimizers", "sgd", "--out", str(tmp_path)]) == 0
    assert [p.exists() for p in stale] == [False, False, False]
    assert fresh.exists()


@pytest.mark.parametrize("extra,match", [
    (["--seeds", "0", "1", "0"], "--seeds: 0 given more than once"),
    (["--seeds", "-1"], "--seeds: every seed must be an integer >= 0, got -1"),
    (["--preset", "extended", "--train-subset", "500"],
     "row 'SGD \\(batch 1\\)' trains on the first 6,000 training images .* give --train-subset 6000 or more"),
    (["--optimizers", "adam", "adam:lr=0.001,label=again"], "rows 'adam' and 'again' are the same run"),
    (["--val-subset", "99999"], "--val-subset 99999: synthetic has 2,000 validation images"),
])
def test_bad_settings_fail_before_training(extra, match, tmp_path, no_training, capsys):
    args = [a for a in QUICK if a not in ("--train-subset", "128")] + extra + ["--out", str(tmp_path / "o")]
    start = time.monotonic()
    assert cli.main(args) == 2
    assert time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert err.startswith("minidl compare: error:") and err.count("\n") == 1
    assert re.search(match, err), err
    assert not (tmp_path / "o").exists()                   # a refused command leaves no empty store behind


def test_bad_out_fails_at_once(tmp_path, no_training, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, match in ((a_file, "exists and is not a folder"), (a_file / "sub", "cannot create the folder"),
                       ("/sys/minidl-out", "cannot create the folder /sys/minidl-out"),
                       ("/proc", "cannot write into the folder /proc")):
        start = time.monotonic()
        assert cli.main(QUICK + ["--optimizers", "sgd", "--out", str(out)]) == 2
        assert time.monotonic() - start < 3
        err = capsys.readouterr().err
        assert "minidl compare: error: --out:" in err and match in err, err


def test_default_out_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(QUICK + ["--optimizers", "sgd"]) == 0
    where = tmp_path / "minidl-runs" / "compare"
    out = capsys.readouterr().out
    assert out.startswith(f"results go to {where}\n") and f"results in {where}" in out
    assert len(final(where)) == 1 and (where / "table.md").exists()


@pytest.mark.parametrize("spec,match", [
    ("adamm", "unknown optimizer 'adamm'; accepted: .*adam.*sgd"),
    ("adam:beta9=0.5", "beta9.*accepted"),
    ("sgd:lr=-1", "lr"),
    ("adam:lr=fast", "lr"),
    ("sgd:nesterov=true", "nesterov"),
])
def test_bad_specs_fail_before_training(spec, match, no_training, capsys, tmp_path):
    rc = cli.main(QUICK + ["--optimizers", "adam", spec, "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "minidl compare: error:" in err
    assert re.search(match, err), err


def test_bad_numbers_fail_before_training(capsys, tmp_path):
    assert cli.main(QUICK + ["--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs must be a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(QUICK + ["--workers", "0"])
    assert "expected a positive integer, got '0'" in capsys.readouterr().err


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


def test_python_dash_m_minidl_compare_help():
    out = subprocess.run([sys.executable, "-m", "minidl", "compare", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--side-by-side", "--seeds", "--workers", "--scheduler", "--threads"):
        assert option in out.stdout


@pytest.mark.skipif(__import__("minidl").backend.cupy_available(), reason="CuPy and a GPU are present")
def test_cupy_backend_missing_is_a_clear_error(capsys, tmp_path, no_training):
    assert cli.main(QUICK + ["--backend", "cupy", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minidl compare: error: ") and err.count("\n") == 1
    assert "pip install minidl[gpu]" in err or "no usable NVIDIA GPU" in err, err


def test_no_perf_trains_the_plain_path_and_is_another_record(tmp_path, monkeypatch):
    """--no-perf: fit gets perf=False (warm-up and run), the speed layer is never entered, and the
    run's configuration says so, so it is a record beside the default run, not a replay of it."""
    import minidl.perf
    import minidl.train
    import minidl.train.fitting

    real_fit, real_accelerated = minidl.train.fit, minidl.perf.accelerated
    fit_perf, accelerated = [], []

    def spy_fit(*args, **kw):
        fit_perf.append(kw.get("perf"))
        return real_fit(*args, **kw)

    def spy_accelerated(*args, **kw):
        accelerated.append(1)
        return real_accelerated(*args, **kw)

    monkeypatch.setattr(minidl.train, "fit", spy_fit)
    monkeypatch.setattr(minidl.perf, "accelerated", spy_accelerated)
    out = str(tmp_path)
    assert cli.main(QUICK + ["--optimizers", "sgd", "--no-perf", "--out", out]) == 0
    assert fit_perf == [False] and accelerated == []       # warm-up (fitting.fit) and run: plain
    assert cli.main(QUICK + ["--optimizers", "sgd", "--out", out]) == 0
    assert fit_perf == [False, True] and len(accelerated) == 2   # warm-up and run through the layer
    recs = sorted(records(out), key=lambda r: "perf" in r["config"])
    assert len(recs) == 2 and recs[0]["id"] != recs[1]["id"]
    assert "perf" not in recs[0]["config"] and recs[0]["config"]["flush_denormals"] is True
    assert recs[1]["config"]["perf"] is False and recs[1]["config"]["flush_denormals"] is False
    assert all(r["status"] == "ok" for r in recs)
    # the same --no-perf command again trains nothing
    fit_perf.clear()
    assert cli.main(QUICK + ["--optimizers", "sgd", "--no-perf", "--out", out]) == 0
    assert fit_perf == []


def test_every_preset_row_parses_with_a_unique_label():
    for name, rows in compare.PRESETS.items():
        parsed = compare.rows_from(None, name)
        assert len(parsed) == len(rows), name
        labels = [r.label for r in parsed]
        assert len(set(labels)) == len(labels), name
        assert all("label=" in text for text, _, _ in rows), name


def test_the_modern_preset_is_the_grid_of_the_committed_modern_run():
    """docs/results.md section 5 says `--preset modern` is the grid of docs/results/modern: the
    same labels in the same order, and each row the same optimizer once defaults are filled in."""
    from minidl.lab.run import resolved_optimizer

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(here, "docs", "results", "modern", "results.json")) as f:
        results = json.load(f)
    rows = compare.rows_from(None, "modern")
    assert [r.label for r in rows] == [r["label"] for r in results["rows"]]
    assert [r.label for r in rows] == [
        "Adam", "AdamW", "Nadam", "RAdam", "AdaBelief", "ADOPT", "Lion", "Lamb", "Schedule-Free AdamW",
        "Adafactor (pytorch)", "Muon", "LARS", "Lookahead (Adam)", "ASGD"]
    recorded = {}
    for run in results["runs"]:
        recorded.setdefault(run["config"]["label"], run["config"]["optimizer"])
    for row in rows:
        assert resolved_optimizer(row.spec) == recorded[row.label], row.label
    assert all(r.train_subset is None and r.spec.batch is None for r in rows)
    assert rows[9].spec.convention == "pytorch" and rows[9].spec.optimizer == "adafactor"
