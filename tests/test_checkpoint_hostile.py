"""Checkpoints as hostile input: every refused load is one ValueError naming the path, and leaves
the model's weights, the optimizer's state and hyperparameters, the schedule and the dropout
generators exactly as they were."""
import json
import os
import zipfile

import numpy as np
import pytest

from minidl import optim
from minidl.train import CheckpointError, Diverged, fit, load_checkpoint, read_checkpoint, save_checkpoint
from minidl.train import checkpoint_file
from minidl.train import checks as fit_checks
from test_train import stripes, tiny_model


def trained(seed=0, epochs=1):
    model = tiny_model(seed)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, opt, stripes(seed=seed), epochs=epochs, batch_size=16, schedule=sched, verbose=0)
    return model, opt, sched, hist


@pytest.fixture
def saved(tmp_path):
    """A good checkpoint of one run, and the objects of another run (with state) to load it into."""
    model, opt, sched, hist = trained(0)
    path = tmp_path / "good.npz"
    save_checkpoint(path, model, opt, sched, epoch=1, history=hist, loader_state={"seed": 0})
    target = trained(5)[:3]
    return path, target


def snapshot(model, opt, sched):
    sd = opt.state_dict()
    return {"weights": [a.copy() for a in model.state_dict().values()],
            "groups": json.dumps(sd["param_groups"]),
            "state": {i: {k: np.array(v, copy=True) for k, v in s.items()} for i, s in sd["state"].items()},
            "sched": sched.state_dict(), "rng": model[3].get_rng_state()}


def assert_unchanged(before, model, opt, sched):
    after = snapshot(model, opt, sched)
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(before["weights"], after["weights"]):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert after["groups"] == before["groups"] and after["sched"] == before["sched"]
    assert after["rng"] == before["rng"]
    assert before["state"].keys() == after["state"].keys() and before["state"]
    for i in before["state"]:
        for k, v in before["state"][i].items():
            assert np.array_equal(v, after["state"][i][k]), (i, k)


def refused(path, target, match):
    """Load ``path`` into ``target``; expect one ValueError naming the path, and nothing changed."""
    model, opt, sched = target
    before = snapshot(model, opt, sched)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(path, model, opt, sched)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and "allow_pickle" not in message
    assert_unchanged(before, model, opt, sched)
    return message


def edit(src, dst, meta=None, arrays=None):
    """Rewrite a checkpoint with ``meta(dict)`` and/or ``arrays(dict)`` applied (in place)."""
    with np.load(src, allow_pickle=False) as npz:
        content = {k: npz[k] for k in npz.files}
    m = json.loads(bytes(content.pop("__meta__")).decode())
    if meta:
        meta(m)
    if arrays:
        arrays(content)
    content["__meta__"] = np.frombuffer(json.dumps(m).encode(), dtype=np.uint8)
    np.savez(dst, **content)
    return dst


# ------------------------------------------------------------ hyperparameters
def test_edited_lr_of_minus_5_is_refused(saved, tmp_path):
    path, target = saved

    def lr(m):
        m["optimizer"]["param_groups"][0]["lr"] = -5.0
    refused(edit(path, tmp_path / "lr.npz", meta=lr), target, r"lr.*-5")


@pytest.mark.parametrize("key, value", [("momentum", -0.5), ("nesterov", "yes"), ("weight_decay", -1.0),
                                        ("lr", None), ("lr", float("nan"))])
def test_other_bad_hyperparameters_are_refused(saved, tmp_path, key, value):
    path, target = saved

    def change(m):
        m["optimizer"]["param_groups"][0][key] = value
    refused(edit(path, tmp_path / "h.npz", meta=change), target, "SGD")


def test_unknown_hyperparameter_is_refused(saved, tmp_path):
    path, target = saved

    def change(m):
        m["optimizer"]["param_groups"][0]["beta9"] = 0.5
    refused(edit(path, tmp_path / "h.npz", meta=change), target, "beta9")


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(gamma=-1.0), "gamma"),
    (lambda s: s.update(step_size=0), "step_size"),
    (lambda s: s.update(last_epoch=-3), "last_epoch"),
    (lambda s: s.update(base_lrs=[-5.0]), "base_lrs"),
    (lambda s: s.pop("gamma"), "StepLR"),
])
def test_bad_schedule_state_is_refused(saved, tmp_path, change, match):
    path, target = saved
    refused(edit(path, tmp_path / "s.npz", meta=lambda m: change(m["schedule"]["state"])), target, match)


# ------------------------------------------------------------------- arrays
def test_nan_weights_are_refused(saved, tmp_path):
    path, target = saved

    def poison(a):
        a["model/5.weight"] = a["model/5.weight"].copy()
        a["model/5.weight"][0, 0] = np.nan
    refused(edit(path, tmp_path / "nan.npz", arrays=poison), target, r"NaN or Inf in weight '5.weight'")


def test_inf_optimizer_state_is_refused(saved, tmp_path):
    path, target = saved
    with np.load(path) as npz:
        key = next(k for k in npz.files if k.startswith("optimizer/"))

    def poison(a):
        a[key] = np.full_like(a[key], np.inf)
    refused(edit(path, tmp_path / "inf.npz", arrays=poison), target, r"NaN or Inf")


@pytest.mark.parametrize("change, match", [
    (lambda a: a.pop("model/0.weight"), r"lacks the array 'model/0.weight'"),
    (lambda a: a.update({"model/0.bias": np.zeros(5, np.float32)}), r"shape \(5,\).*expected \(4,\)"),
    (lambda a: a.update({"model/0.bias": np.zeros(4, np.float64)}), r"float64.*the model's is float32"),
    (lambda a: a.update({"model/0.bias": np.zeros(4, np.int32)}), r"int32"),
])
def test_missing_or_misshapen_arrays_are_refused(saved, tmp_path, change, match):
    path, target = saved
    refused(edit(path, tmp_path / "a.npz", arrays=change), target, match)


def test_missing_optimizer_state_array_is_refused(saved, tmp_path):
    path, target = saved
    with np.load(path) as npz:
        key = next(k for k in npz.files if k.startswith("optimizer/"))
    refused(edit(path, tmp_path / "a.npz", arrays=lambda a: a.pop(key)), target, f"lacks the array '{key}'")


# ----------------------------------------------------------------- metadata
@pytest.mark.parametrize("change, match", [
    (lambda m: m.pop("history"), "without its 'history' entry"),
    (lambda m: m["history"]["train_loss"].append(0.5), "damaged History.*differ in length"),
    (lambda m: m["history"].update(step_loss="lots"), "damaged History.*step_loss must be a list"),
    (lambda m: m.update(epoch=-1), "epoch -1"),
    (lambda m: m.update(epoch="1"), "epoch '1'"),
    (lambda m: m.update(epoch=True), "epoch True"),
    (lambda m: m["rng"]["dropout"].update({"3": {"bit_generator": "nonsense"}}), "generator state for layer '3'"),
    (lambda m: m["rng"]["dropout"].update({"3": "state"}), "generator states"),
    (lambda m: m.update(loader=[1, 2]), "loader of type list"),
    (lambda m: m["optimizer"].update(state={"99": {}}), "parameter '99'"),
    (lambda m: m["optimizer"]["state"]["0"].update(step={"value": "x"}), "SGD"),
    (lambda m: m["optimizer"].update(param_groups="all"), "param groups"),
    (lambda m: m.update(model={"class": "X", "parameters": "all"}), "model entry"),
    (lambda m: m.update(version=2), "format version 2"),
    (lambda m: m.update(format="other"), "not a minidl checkpoint"),
])
def test_bad_metadata_is_refused(saved, tmp_path, change, match):
    path, target = saved
    refused(edit(path, tmp_path / "m.npz", meta=change), target, match)


def test_metadata_that_is_not_json_or_nested_too_deep_is_refused(saved, tmp_path):
    path, target = saved
    with np.load(path) as npz:
        content = {k: npz[k] for k in npz.files}
    for name, text in [("junk", b"{not json"), ("deep", b"[" * 100000 + b"]" * 100000),
                       ("latin", "{\"a\": \"\xe9\"}".encode("latin-1"))]:
        content["__meta__"] = np.frombuffer(text, dtype=np.uint8)
        np.savez(tmp_path / f"{name}.npz", **content)
        refused(tmp_path / f"{name}.npz", target, "unreadable metadata")
    content["__meta__"] = np.zeros(3, dtype=np.float32)
    np.savez(tmp_path / "float.npz", **content)
    refused(tmp_path / "float.npz", target, "not UTF-8 bytes")


# --------------------------------------------------------------------- files
def test_truncated_files_are_refused_naming_the_path(saved, tmp_path):
    path, target = saved
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30, 4):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        refused(bad, target, r"not a readable \.npz checkpoint")


def test_a_damaged_entry_is_refused(saved, tmp_path):
    """The archive's directory intact, one array's bytes overwritten: the zip CRC catches it."""
    path, target = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model/5.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start:start + 16] = b"\xff" * 16
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(data))
    refused(bad, target, r"entry 'model/5.weight.npy' is truncated or damaged")


@pytest.mark.parametrize("content, match", [
    (b"", r"is empty \(0 bytes\)"),
    (b"not a zip at all", r"not a readable \.npz checkpoint \(not a zip archive\)"),
    (b"PK\x03\x04garbage", r"not a readable zip archive"),
])
def test_empty_and_non_zip_files_are_refused(saved, tmp_path, content, match):
    _, target = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    refused(bad, target, match)


def test_npy_files_are_refused(saved, tmp_path):
    _, target = saved
    np.save(tmp_path / "a.npy", np.zeros(3))
    refused(tmp_path / "a.npy", target, r"single \.npy array")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(tmp_path / "o.npy", target, r"single \.npy array")


def test_pickled_object_arrays_are_refused_without_numpy_suggesting_allow_pickle(saved, tmp_path):
    path, target = saved
    with np.load(path) as npz:
        content = {k: npz[k] for k in npz.files}
    content["model/0.bias"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "obj.npz", **content)
    message = refused(tmp_path / "obj.npz", target, "holds Python objects")
    assert "pickle" not in message.replace(str(tmp_path), "")
    import pickle
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"a": 1}))
    refused(tmp_path / "p.npz", target, "not a zip archive")


def test_compressed_archives_are_refused(saved, tmp_path):
    path, target = saved
    with np.load(path) as npz:
        np.savez_compressed(tmp_path / "z.npz", **{k: npz[k] for k in npz.files})
    refused(tmp_path / "z.npz", target, "is compressed")


def test_an_array_header_promising_more_than_the_entry_holds_is_refused(saved, tmp_path):
    """A 2 KB file whose header says 4e12 bytes: refused from the header, nothing allocated."""
    path, target = saved
    bad = tmp_path / "huge.npz"
    with np.load(path) as npz, zipfile.ZipFile(bad, "w") as zf:
        for k in npz.files:
            with zf.open(k + ".npy", "w") as fh:
                if k == "model/5.weight":
                    np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False,
                                                              "shape": (10 ** 12,)})
                    fh.write(b"\0" * 64)
                else:
                    np.lib.format.write_array(fh, npz[k], allow_pickle=False)
    refused(bad, target, r"declares a float32 array of shape \(1000000000000,\) but holds only")


def test_entries_that_are_not_arrays_are_refused(saved, tmp_path):
    path, target = saved
    bad = tmp_path / "extra.npz"
    with np.load(path) as npz:
        np.savez(bad, **{k: npz[k] for k in npz.files})
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("readme.txt", "hello")
    refused(bad, target, r"entry 'readme.txt' is not a \.npy array")


def test_a_folder_a_symlink_loop_and_a_dangling_link_are_errors_not_absent(saved, tmp_path):
    _, target = saved
    (tmp_path / "dir.npz").mkdir()
    refused(tmp_path / "dir.npz", target, "is a folder")
    os.symlink(tmp_path / "loop_b", tmp_path / "loop_a")
    os.symlink(tmp_path / "loop_a", tmp_path / "loop_b")
    refused(tmp_path / "loop_a", target, "cannot be read .*symbolic links")
    os.symlink(tmp_path / "gone.npz", tmp_path / "dangling.npz")
    refused(tmp_path / "dangling.npz", target, "symbolic link to a missing file")
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing.npz"):
        load_checkpoint(tmp_path / "missing.npz", target[0])


def test_a_file_that_may_not_be_read_is_an_error_naming_it(saved, monkeypatch):
    path, target = saved

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(checkpoint_file, "open", denied, raising=False)
    refused(path, target, "cannot be read \\(Permission denied\\)")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_is_an_error(saved):
    path, target = saved
    os.chmod(path, 0)
    try:
        refused(path, target, "cannot be read")
    finally:
        os.chmod(path, 0o600)


def test_the_good_checkpoint_still_loads_after_all_that(saved):
    path, target = saved
    model, opt, sched = target
    ck = load_checkpoint(path, model, opt, sched)
    assert ck.epoch == 1 and len(ck.history) == 1
    assert isinstance(CheckpointError("x"), ValueError)
    meta, arrays = read_checkpoint(path)
    assert meta["epoch"] == 1 and "model/0.weight" in arrays


# ----------------------------------------------------------------------- fit
def steps_recorder():
    from minidl.train import LambdaCallback

    steps = []
    return steps, LambdaCallback(on_step_end=lambda step, loss: steps.append(step))


def test_fit_with_a_missing_folder_fails_before_training(tmp_path):
    steps, cb = steps_recorder()
    model = tiny_model()
    before = [a.copy() for a in model.state_dict().values()]
    with pytest.raises(ValueError, match=r"folder of checkpoint_path .*nowhere.*does not exist"):
        fit(model, optim.SGD(model.parameters()), stripes(), epochs=1, verbose=0, callbacks=cb,
            checkpoint_path=tmp_path / "nowhere" / "c.npz")
    assert steps == []
    for a, b in zip(before, model.state_dict().values()):
        assert np.array_equal(a, b)


def test_fit_with_a_folder_as_the_path_or_an_unwritable_folder_fails_before_training(tmp_path, monkeypatch):
    steps, cb = steps_recorder()
    model = tiny_model()
    with pytest.raises(ValueError, match="checkpoint_path .* is a folder"):
        fit(model, optim.SGD(model.parameters()), stripes(), verbose=0, callbacks=cb, checkpoint_path=tmp_path)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fit_checks.tempfile, "mkstemp", no_space)
    with pytest.raises(ValueError, match=r"cannot write checkpoint_path .*\(No space left on device\)"):
        fit(model, optim.SGD(model.parameters()), stripes(), verbose=0, callbacks=cb,
            checkpoint_path=tmp_path / "c.npz")
    monkeypatch.undo()
    with pytest.raises(TypeError, match="checkpoint_path must be a str or os.PathLike"):
        fit(model, optim.SGD(model.parameters()), stripes(), verbose=0, checkpoint_path=3)
    assert steps == [] and os.listdir(tmp_path) == []           # the probe file was removed


@pytest.mark.parametrize("kind", ["loop", "dangling", "folder"])
def test_fit_resume_from_an_unreadable_path_is_an_error_not_a_fresh_start(tmp_path, kind):
    path = tmp_path / "c.npz"
    if kind == "loop":
        os.symlink(tmp_path / "other", path)
        os.symlink(path, tmp_path / "other")
    elif kind == "dangling":
        os.symlink(tmp_path / "gone", path)
    else:
        path.mkdir()
    steps, cb = steps_recorder()
    model = tiny_model()
    with pytest.raises(ValueError, match=f"checkpoint_path {path}"):
        fit(model, optim.SGD(model.parameters()), stripes(), verbose=0, callbacks=cb, checkpoint_path=path,
            resume=True)
    assert steps == []


def test_fit_resume_from_a_refused_checkpoint_changes_nothing_and_trains_nothing(saved, tmp_path):
    path, (model, opt, sched) = saved
    data = stripes()

    def lr(m):
        m["optimizer"]["param_groups"][0]["lr"] = -5.0
    bad = edit(path, tmp_path / "bad.npz", meta=lr)
    before = snapshot(model, opt, sched)
    steps, cb = steps_recorder()
    with pytest.raises(ValueError, match=f"{bad}.*lr"):
        fit(model, opt, data, epochs=2, batch_size=16, verbose=0, schedule=sched, callbacks=cb,
            checkpoint_path=bad, resume=True)
    assert steps == []
    assert_unchanged(before, model, opt, sched)


def test_fit_resume_with_other_settings_changes_nothing(tmp_path):
    model, opt, sched, _ = trained(0)
    path = tmp_path / "c.npz"
    fit(model, opt, stripes(), epochs=1, batch_size=16, verbose=0, schedule=sched, checkpoint_path=path)
    other, other_opt, other_sched, _ = trained(5)
    before = snapshot(other, other_opt, other_sched)
    with pytest.raises(ValueError, match="settings differ: batch_size: checkpoint 16, now 32"):
        fit(other, other_opt, stripes(), epochs=2, batch_size=32, verbose=0, schedule=other_sched,
            checkpoint_path=path, resume=True)
    assert_unchanged(before, other, other_opt, other_sched)


def test_fit_resume_refuses_a_checkpoint_without_its_history(saved, tmp_path):
    path, _ = saved
    model, opt, sched, _ = trained(0)
    bare = tmp_path / "bare.npz"
    save_checkpoint(bare, model, opt, sched, epoch=1, history=None,
                    loader_state=fit_loader_state(stripes(), 16))
    before = snapshot(model, opt, sched)
    with pytest.raises(ValueError, match="at epoch 1 but holds no History"):
        fit(model, opt, stripes(), epochs=2, batch_size=16, verbose=0, schedule=sched, checkpoint_path=bare,
            resume=True)
    assert_unchanged(before, model, opt, sched)


def fit_loader_state(data, batch_size):
    return {"seed": 0, "shuffle": True, "batch_size": batch_size, "drop_last": False,
            "num_examples": len(data), "image_shape": list(data.image_shape)}


def test_a_diverged_run_keeps_its_last_good_checkpoint(tmp_path):
    """An epoch's checkpoint is written only when it ends, so a run that diverges in epoch 1
    leaves the checkpoint of epoch 0, from which it can be resumed."""
    from minidl.train import LambdaCallback

    def blow_up(epoch):
        if epoch == 1:
            opt.param_groups[0]["lr"] = 1e30
    path = tmp_path / "c.npz"
    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with np.errstate(all="ignore"), pytest.raises(Diverged) as info:
        fit(model, opt, stripes(), epochs=3, batch_size=16, verbose=0, checkpoint_path=path,
            callbacks=LambdaCallback(on_epoch_begin=blow_up))
    assert info.value.epoch == 1
    ck = load_checkpoint(path, tiny_model())
    assert ck.epoch == 1 and ck.history.step_loss == info.value.history.step_loss[:8]
