"""An old results.json (before the run store) becomes run records that `minidl report` draws."""
import json

import pytest

from minidl import cli
from minidl.lab import legacy
from minidl.lab.store import RunStore, check_record


def old_run(label, optimizer_repr, spec, seed=0, batch=64, train_size=256, total=12.5):
    return {"label": label, "seed": seed, "spec": spec, "batch_size": batch, "train_size": train_size, "note": "",
            "optimizer": optimizer_repr, "total_seconds": total,
            "history": {"epoch": [0, 1], "train_loss": [2.0, 1.5], "train_acc": [0.3, 0.5], "val_loss": [1.8, 1.2],
                        "val_acc": [0.4, 0.6], "lr": [0.5, 0.5], "train_seconds": [5.0, 6.0],
                        "eval_seconds": [0.5, 0.5], "step_loss": [2.3, 2.1, 1.9, 1.7], "steps_per_epoch": [2, 2]}}


def old_results(tmp_path):
    runs = [old_run("SGD fast", "SGD(convention='keras', lr=0.5, momentum=0.0, nesterov=False, weight_decay=0.0)",
                    {"label": "SGD fast", "optimizer": "sgd", "hyper": {"lr": 0.5}, "convention": "keras",
                     "batch": None}),
            old_run("Adam", "Adam(convention='keras', lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07, amsgrad=False)",
                    {"label": "Adam", "optimizer": "adam", "hyper": {}, "convention": "keras", "batch": None},
                    train_size=128, total=20.0)]
    data = {"config_key": {"epochs": 2, "batch_size": 64, "dataset": "synthetic", "backend": "numpy",
                           "train_subset": None, "val_subset": None},
            "command": "minidl compare --epochs 2 --out old", "environment": {"minidl": "0.1.0", "device": "x"},
            "dataset": "synthetic", "train_size": 256, "val_size": 64, "seeds": [0], "labels": ["SGD fast", "Adam"],
            "started": "2026-11-25 16:54:30", "finished": "2026-11-25 16:55:10", "runs": runs}
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(data))
    return folder


def test_every_old_run_becomes_a_valid_record_once(tmp_path):
    folder = old_results(tmp_path)
    assert legacy.import_results(str(folder)) == (2, 0)
    assert legacy.import_results(str(folder)) == (0, 2)                  # a second import adds nothing
    records, problems = RunStore(str(folder)).load()
    assert problems == [] and len(records) == 2 and all(check_record(r) is None for r in records)
    by_label = {r["label"]: r for r in records}
    sgd, adam = by_label["SGD fast"], by_label["Adam"]
    assert sgd["config"]["optimizer"]["hyper"]["lr"] == 0.5            # the value that ran, from the repr
    assert adam["config"]["optimizer"]["hyper"]["eps"] == 1e-07
    assert sgd["history"]["val_accuracy"] == [0.4, 0.6] and "val_acc" not in sgd["history"]
    assert sgd["step_loss"] == [2.3, 2.1, 1.9, 1.7] and "step_loss" not in sgd["history"]
    assert adam["config"]["train_subset"] == 128 and sgd["config"]["train_subset"] is None
    assert sgd["config"]["imported"]["command"] == "minidl compare --epochs 2 --out old"
    # they ran one after the other: the second starts when the first ended (12.5 s later)
    assert sgd["times"]["started"] == "2026-11-25T16:54:30.000Z" and adam["times"]["started"] == "2026-11-25T16:54:42.500Z"
    assert sgd["times"]["start_estimated"] and sgd["times"]["train_seconds"] == 11.0


def test_report_draws_the_imported_runs_under_their_own_command(tmp_path, capsys):
    folder = old_results(tmp_path)
    legacy.import_results(str(folder))
    assert cli.main(["report", str(folder), "--no-figures"]) == 0
    table = (folder / "table.md").read_text()
    assert "Command: `minidl compare --epochs 2 --out old`" in table and "rebuilt from the records" in table
    rows = [line for line in table.splitlines() if line.startswith("| SGD fast") or line.startswith("| Adam")]
    assert [r.split(" | ")[0] for r in rows] == ["| SGD fast", "| Adam"]      # the old order, by start time
    assert "0.6000 / 1.2000" in rows[0]


@pytest.mark.parametrize("content, says", [
    ("{", "not JSON"),
    ('{"format": "minidl-results/1", "runs": []}', "not a results.json of the format before"),
])
def test_a_file_that_is_not_an_old_results_json_is_named(tmp_path, content, says):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ValueError, match=says) as info:
        legacy.import_results(str(tmp_path))
    assert "results.json" in str(info.value)


def test_a_repr_that_is_not_a_call_is_refused():
    assert legacy.repr_hyper("Adam(convention='keras', lr=0.01, betas=(0.9, 0.99))") == {"lr": 0.01,
                                                                                          "betas": [0.9, 0.99]}
    for bad in ("__import__('os')", "Adam(1, lr=2)", "lr=3", "Adam(lr=f())"):
        with pytest.raises(ValueError, match="optimizer"):
            legacy.repr_hyper(bad)
