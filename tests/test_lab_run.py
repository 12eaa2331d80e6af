"""One run: a configuration in, a record out, whatever happens in between."""
import json

import pytest

from minidl.lab import compare, run
from minidl.lab.specs import parse_spec
from minidl.lab.store import check_record, config_id


def tiny(spec="adam", **over):
    fingerprint = run.dataset_fingerprint("synthetic")
    config = run.make_config(parse_spec(spec), seed=0, epochs=1, batch_size=64, dataset="synthetic",
                             fingerprint=fingerprint, train_subset=128, val_subset=64, backend="numpy",
                             dtype="float32")
    config.update(over)
    return config


def test_a_run_returns_a_complete_json_record():
    config = tiny()
    record = run.execute(config)
    assert check_record(record) is None and record["id"] == config_id(config)
    assert record["status"] == "ok" and record["error"] is None and record["divergence"] is None
    assert record["train_size"] == 128 and record["val_size"] == 64
    assert len(record["history"]["val_accuracy"]) == 1 and len(record["step_loss"]) == 2
    assert record["times"]["started"].endswith("Z") and record["times"]["wall_seconds"] > 0
    assert json.loads(json.dumps(record)) == record


def test_every_default_is_resolved_into_the_configuration():
    resolved = run.resolved_optimizer(parse_spec("adam:lr=0.01"))
    assert resolved["name"] == "adam" and resolved["convention"] == "keras"
    assert resolved["hyper"]["lr"] == 0.01 and resolved["hyper"]["beta1"] == 0.9 and resolved["hyper"]["eps"] == 1e-7
    assert run.resolved_optimizer(parse_spec("adam:lr=0.001"))["hyper"] == run.resolved_optimizer(parse_spec("adam"))["hyper"]


def test_a_failing_run_is_a_record_not_an_exception():
    record = run.execute(tiny(problem="no-such-problem"))
    assert record["status"] == "failed"
    assert record["error"] == ("ValueError: unknown problem 'no-such-problem'; accepted: quadratic-deep, mnist-logreg, "
                               "mnist-mlp, mnist-cnn, fmnist-2c2d")
    assert check_record(record) is None


def test_a_diverging_run_says_where():
    record = run.execute(tiny("sgd:lr=1e30"))
    assert record["status"] == "diverged"
    d = record["divergence"]
    assert d["epoch"] == 0 and d["step"] >= 0 and d["what"]
    assert all(isinstance(v, float) for v in record["step_loss"])            # no NaN in the JSON


def test_a_run_whose_validation_loss_is_not_finite_is_diverged_not_ok(monkeypatch):
    """Training finite, the evaluation NaN (a model whose predictions overflow): the record is
    diverged, its reason names the validation loss, and the epoch's row is kept."""
    import math

    import minidl.train.loop as loop

    real = loop.evaluate_dataset
    monkeypatch.setattr(loop, "evaluate_dataset", lambda *a, **k: (float("nan"), real(*a, **k)[1]))
    record = run.execute(tiny("sgd"))
    assert record["status"] == "diverged"
    d = record["divergence"]
    assert d["epoch"] == 0 and d["step"] == 1 and d["what"].startswith("the validation loss after epoch 0 is nan")
    assert len(record["history"]["val_loss"]) == 1 and math.isnan(record["history"]["val_loss"][0])
    assert len(record["step_loss"]) == 2 and all(math.isfinite(v) for v in record["step_loss"])


def test_data_identity_is_the_content_whatever_the_compression():
    entry = {"file": "train-images-idx3-ubyte.gz", "bytes": 10, "sha256": "aa", "content_sha256": "cc"}
    raw = dict(entry, file="train-images-idx3-ubyte", bytes=47, sha256="cc")
    as_gz = run.content_identity({"name": "mnist", "files": {"train-images-idx3-ubyte": entry}})
    as_raw = run.content_identity({"name": "mnist", "files": {"train-images-idx3-ubyte": raw}})
    assert as_gz == as_raw == {"name": "mnist", "content_sha256": {"train-images-idx3-ubyte": "cc"}}
    synthetic = run.dataset_fingerprint("synthetic")
    assert run.content_identity(synthetic) == synthetic


def test_the_mnist_files_are_identified_by_their_published_sha256(mnist_path):
    config = compare.CompareConfig(rows=compare.rows_from(["sgd"]), epochs=1, dataset="MNIST",
                                   data_dir=str(mnist_path), train_subset=64, val_subset=64)
    (planned,) = compare.plan(config)
    assert planned["dataset"] == "mnist"
    assert planned["data"]["content_sha256"]["train-images-idx3-ubyte"] == \
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    assert planned["data_files"]["files"]["train-images-idx3-ubyte"]["bytes"] > 0


def test_a_subset_too_large_names_its_option():
    from minidl.lab.run import load_data

    config = {"dataset": "synthetic", "train_subset": 10**9, "val_subset": None}
    with pytest.raises(ValueError, match="--train-subset"):
        load_data(config)
    config = {"dataset": "synthetic", "train_subset": None, "val_subset": 10**9}
    with pytest.raises(ValueError, match="--val-subset"):
        load_data(config)
