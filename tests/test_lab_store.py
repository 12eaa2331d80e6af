"""The run store: ids, exclusive writes, names, reading what is not a record."""
import json
import os

import pytest

from minidl.lab import store as S


def config(**over):
    base = {"problem": "mnist-cnn", "dataset": "synthetic", "data": {"name": "synthetic"},
            "train_subset": 128, "val_subset": 64,
            "optimizer": {"name": "sgd", "convention": "keras", "hyper": {"lr": 0.01, "momentum": 0.0}},
            "batch_size": 64, "epochs": 1, "seed": 0, "backend": "numpy", "dtype": "float32",
            "flush_denormals": True, "minidl": "0.1.0", "label": "sgd", "note": "", "data_dir": None,
            "verbose": 0}
    base.update(over)
    return base


def record(status="ok", **over):
    c = config(**over)
    return {"format": S.RECORD_FORMAT, "id": S.config_id(c), "config": c, "label": c["label"], "status": status,
            "divergence": None, "error": None, "history": {"epoch": [0], "val_accuracy": [0.5]},
            "step_loss": [2.3, 2.2], "times": {"finished": "2026-01-01T00:00:00Z"}}


def test_the_id_is_the_hash_of_the_settings_not_of_the_descriptions():
    a = S.config_id(config())
    assert len(a) == S.ID_LENGTH and int(a, 16) >= 0
    assert S.config_id(config(label="another", note="n", data_dir="/x", verbose=1)) == a
    assert S.config_id(dict(reversed(list(config().items())))) == a          # key order does not count
    for change in ({"seed": 1}, {"epochs": 2}, {"dataset": "mnist"}, {"val_subset": None}, {"dtype": "float64"},
                   {"minidl": "0.2.0"}, {"data": {"name": "synthetic", "files": []}},
                   {"optimizer": {"name": "sgd", "convention": "keras", "hyper": {"lr": 0.01, "momentum": 0.9}}}):
        assert S.config_id(config(**change)) != a, change


def test_a_final_record_is_written_once(tmp_path):
    store = S.RunStore(tmp_path)
    assert store.prepare() == []
    first = record()
    path = store.write(first)
    assert os.path.basename(path) == f"{first['id']}.json" and store.has_final(first["id"])
    second = dict(first, step_loss=[9.9])
    assert store.write(second) is None                       # never replaced
    loaded, problems = store.load()
    assert problems == [] and [r["step_loss"] for r in loaded] == [[2.3, 2.2]]
    assert not [n for n in os.listdir(tmp_path / "runs") if n.endswith(".tmp")]


def test_failed_and_interrupted_records_go_beside(tmp_path):
    store = S.RunStore(tmp_path)
    store.prepare()
    paths = [store.write(record("failed")), store.write(record("failed")), store.write(record("interrupted"))]
    assert len(set(paths)) == 3
    rid = record()["id"]
    assert all(os.path.basename(p).startswith(f"{rid}.") for p in paths)
    assert not store.has_final(rid)
    store.write(record("ok"))
    best = store.by_id()
    assert list(best) == [rid] and best[rid]["status"] == "ok"


def test_best_record_prefers_final_then_newest_failure():
    old = dict(record("failed"), times={"finished": "2026-01-01T00:00:00Z"}, error="old")
    new = dict(record("failed"), times={"finished": "2026-01-02T00:00:00Z"}, error="new")
    stop = dict(record("interrupted"), times={"finished": "2026-01-03T00:00:00Z"})
    assert S.best_record([old, stop, new])["error"] == "new"
    assert S.best_record([old, record("diverged"), new])["status"] == "diverged"
    assert S.best_record([]) is None


def test_what_is_not_a_record_is_named_and_left_alone(tmp_path):
    store = S.RunStore(tmp_path)
    store.prepare()
    runs = tmp_path / "runs"
    good = record()
    store.write(good)
    tampered = record(seed=5)
    tampered["config"]["seed"] = 6                        # its id no longer matches its configuration
    (runs / f"{tampered['id']}.json").write_text(json.dumps(tampered))
    renamed = record(seed=7)
    (runs / "elsewhere.json").write_text(json.dumps(renamed))
    (runs / "truncated.json").write_text(S.dump_record(record(seed=8))[:50])
    (runs / "list.json").write_text("[1, 2]")
    (runs / "notes.txt").write_text("not json, not looked at")
    loaded, problems = store.load()
    assert [r["id"] for r in loaded] == [good["id"]]
    text = "\n".join(problems)
    assert len(problems) == 4
    assert f"{runs / (tampered['id'] + '.json')}: its id" in text
    assert f"{runs / 'elsewhere.json'}: its file name does not start with its id" in text
    assert f"{runs / 'truncated.json'}: is not valid JSON" in text
    assert f"{runs / 'list.json'}: not a JSON object (a list)" in text
    assert sorted(os.listdir(runs)) == sorted([f"{good['id']}.json", f"{tampered['id']}.json", "elsewhere.json",
                                               "truncated.json", "list.json", "notes.txt"])


def test_a_huge_file_is_not_read(tmp_path, monkeypatch):
    store = S.RunStore(tmp_path)
    store.prepare()
    (tmp_path / "runs" / "big.json").write_text(" " * 2000)
    monkeypatch.setattr(S, "MAX_RECORD_BYTES", 1000)
    _, problems = store.load()
    assert problems == [f"{tmp_path / 'runs' / 'big.json'}: 2000 bytes, larger than any run record; skipped"]


def test_dump_record_round_trips_and_keeps_number_lists_on_one_line():
    r = record()
    r["history"]["val_loss"] = [0.1, 0.25, 1e-30]
    text = S.dump_record(r)
    assert json.loads(text) == r
    assert '"val_loss": [0.1, 0.25, 1e-30]' in text


def test_write_refuses_a_malformed_record(tmp_path):
    store = S.RunStore(tmp_path)
    store.prepare()
    bad = dict(record(), status="great")
    with pytest.raises(ValueError, match="status 'great' is not one of ok, diverged, failed, interrupted"):
        store.write(bad)


def test_writable_folder_errors_name_the_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(S.StoreError, match=f"--out: {blocker} exists and is not a folder"):
        S.writable_folder(blocker)
    with pytest.raises(S.StoreError, match="--views-out: cannot create the folder"):
        S.writable_folder(blocker / "x", "--views-out")
    assert S.writable_folder(tmp_path / "new" / "deep") == str(tmp_path / "new" / "deep")
    assert os.listdir(tmp_path / "new" / "deep") == []          # the probe file is gone
