"""`minidl compare --problem/--target/--eval-every`: a problem's defaults, time to target in
every record, and one-line errors for a bad problem, target or data set."""
import json

import pytest

from minidl import cli
from minidl.lab import compare


def records(out):
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def test_the_default_problem_is_the_articles_cnn_with_its_budget():
    rows = compare.rows_from(["sgd"])
    implicit = compare.plan(compare.CompareConfig(rows=rows, dataset="synthetic", out="unused"))
    explicit = compare.plan(compare.CompareConfig(rows=rows, dataset="synthetic", problem="mnist-cnn", epochs=10,
                                                  batch_size=64, out="unused"))
    assert [c["problem"] for c in implicit] == ["mnist-cnn"]
    assert (implicit[0]["epochs"], implicit[0]["batch_size"]) == (10, 64)
    assert implicit == explicit                      # the same runs, the same ids: earlier stores still match
    assert "target" not in implicit[0] and "eval_every" not in implicit[0]
    logreg = compare.plan(compare.CompareConfig(rows=rows, dataset="synthetic", problem="mnist-logreg", out="unused"))
    assert logreg[0]["problem"] == "mnist-logreg" and logreg[0]["batch_size"] == 128


def test_a_target_and_eval_every_give_time_to_target_in_each_record(tmp_path, capsys):
    out = tmp_path / "q"
    # the quadratic starts at a test loss of about 354: <= 1000 is met at the first evaluation (step 3);
    # <= 1 never is (its best expected loss is about 87)
    assert cli.main(["compare", "--problem", "quadratic-deep", "--optimizers", "sgd", "adam", "--epochs", "1",
                     "--target", "val_loss=1000", "--eval-every", "3", "--out", str(out), "--quiet",
                     "--no-figures"]) == 0
    runs = records(out)
    assert len(runs) == 2 and {r["problem"] for r in runs} == {"quadratic-deep"}
    for r in runs:
        assert r["config"]["dataset"] == "quadratic" and r["config"]["batch_size"] == 128
        assert r["target"]["reached"] and r["target"]["steps_to_target"] == 3
        assert r["evaluations"]["step"][:2] == [3, 6]
    table = (out / "table.md").read_text()
    head = next(line for line in table.splitlines() if line.startswith("| Optimizer"))
    assert "Epoch 1 val loss" in head and "acc" not in head and "Steps to val_loss <= 1000" in head
    sgd = next(line for line in table.splitlines() if line.startswith("| sgd"))
    assert sgd.split(" | ")[-2] == "3"                                  # steps to target, from the records
    out2 = tmp_path / "q2"
    assert cli.main(["compare", "--problem", "quadratic-deep", "--optimizers", "sgd", "--epochs", "1",
                     "--target", "1", "--out", str(out2), "--quiet", "--no-figures"]) == 0
    (run,) = records(out2)
    assert run["target"]["metric"] == "val_loss" and run["target"]["value"] == 1.0 and not run["target"]["reached"]
    assert "| not reached | not reached |" in (out2 / "table.md").read_text()


@pytest.mark.parametrize("args, words", [
    (["--problem", "nope"], ["--problem", "nope", "mnist-cnn"]),
    (["--target", "1.5"], ["--target", "(0, 1]", "1.5"]),
    (["--target", "val_acc=0.9"], ["--target", "val_accuracy", "val_acc"]),
    (["--eval-every", "0"], ["--eval-every", "positive"]),
    (["--problem", "quadratic-deep", "--dataset", "synthetic"], ["--dataset", "quadratic-deep", "shape"]),
])
def test_bad_problem_settings_are_one_line_errors(tmp_path, capsys, args, words):
    code = cli.main(["compare", "--optimizers", "sgd", "--dataset", "synthetic", "--epochs", "1",
                     "--out", str(tmp_path / "o"), "--quiet"] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    for word in words:
        assert word in err[0], (word, err[0])
    assert not (tmp_path / "o" / "runs").exists() or not list((tmp_path / "o" / "runs").glob("*.json"))


def test_compare_takes_the_figure_style_and_the_loss_axis(tmp_path):
    from PIL import Image

    base = ["compare", "--optimizers", "sgd", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128",
            "--val-subset", "64", "--quiet"]
    assert cli.main(base + ["--out", str(tmp_path / "p")]) == 0
    assert cli.main(base + ["--style", "slides", "--loss-x", "steps", "--out", str(tmp_path / "s")]) == 0
    paper = Image.open(tmp_path / "p" / "val_accuracy.png").size
    slides = Image.open(tmp_path / "s" / "val_accuracy.png").size
    assert slides[0] > 1.5 * paper[0] and (tmp_path / "s" / "val_accuracy.svg").stat().st_size > 0
    with pytest.raises(SystemExit) as exit_:                             # argparse refuses it
        cli.main(base + ["--style", "poster", "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and not (tmp_path / "x").exists()
    config = compare.CompareConfig(rows=compare.rows_from(["sgd"]), dataset="synthetic", style="poster",
                                   out=str(tmp_path / "y"))
    with pytest.raises(ValueError, match="style"):                        # the API checks it before any run
        compare.run_comparison(config, progress=lambda *a: None)
    assert not (tmp_path / "y" / "runs").exists()
