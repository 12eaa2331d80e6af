"""Checkpoints: round trip, bit-identical resume, atomic writes, and loads that do not fit."""
import json
import os

import numpy as np
import pytest

from minidl import nn, optim
from minidl.train import Callback, fit, load_checkpoint, read_checkpoint, save_checkpoint
from test_train import stripes, tiny_model  # tests/ is on sys.path (rootdir conftest), as for optim_testutil


def make(name, model, **kw):
    return optim.create(name, model.parameters(), **kw)


def trained(name="sgd", epochs=1, **kw):
    model = tiny_model(0)
    opt = make(name, model, **({"momentum": 0.9} if name == "sgd" else {}), **kw)
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, opt, stripes(), epochs=epochs, batch_size=16, schedule=sched, verbose=0)
    return model, opt, sched, hist


def weights(model):
    return [a.copy() for a in model.state_dict().values()]


def assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert x.dtype == y.dtype and np.array_equal(x, y), name


# ---------------------------------------------------------------- round trip
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_round_trip_restores_everything(tmp_path, name):
    model, opt, sched, hist = trained(name)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, model, opt, sched, epoch=1, history=hist, loader_state={"seed": 0}, extra={"a": 1})

    model2 = tiny_model(5)                                   # other weights, other dropout seed
    opt2 = make(name, model2, **({"momentum": 0.9} if name == "sgd" else {}))
    sched2 = optim.schedules.StepLR(opt2, step_size=1, gamma=0.5)
    ck = load_checkpoint(path, model2, opt2, sched2)
    assert_same_weights(model, model2)
    assert model2[3].get_rng_state() == model[3].get_rng_state()
    assert sched2.state_dict() == sched.state_dict()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.5 * opt.defaults["lr"]
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i in s1["state"]:
        for k, v in s1["state"][i].items():
            w = s2["state"][i][k]
            assert (np.array_equal(v, w) and v.dtype == w.dtype) if isinstance(v, np.ndarray) else v == w, k
    assert ck.epoch == 1 and ck.loader_state == {"seed": 0} and ck.extra == {"a": 1}
    assert ck.history.to_dict() == hist.to_dict()


def test_file_is_plain_npz_with_json_metadata(tmp_path):
    model, opt, sched, hist = trained()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, model, opt, sched, epoch=1, history=hist)
    with np.load(path, allow_pickle=False) as npz:
        assert npz["__meta__"].dtype == np.uint8
        meta = json.loads(bytes(npz["__meta__"]).decode())
        assert np.array_equal(npz["model/0.weight"], model.state_dict()["0.weight"])
        assert all(npz[k].dtype != object for k in npz.files)
    assert meta["format"] == "minidl-checkpoint" and meta["epoch"] == 1
    assert meta["optimizer"]["optimizer"] == "SGD" and meta["schedule"]["class"] == "StepLR"
    assert set(meta["rng"]["dropout"]) == {"3"}


def test_weights_only_load(tmp_path):
    model, opt, _, _ = trained()
    save_checkpoint(tmp_path / "w.npz", model, opt)
    fresh = tiny_model(7)
    ck = load_checkpoint(tmp_path / "w.npz", fresh)
    assert_same_weights(model, fresh)
    assert ck.history is None and ck.epoch == 0


# -------------------------------------------------------- bit-identical resume
class Kill(Exception):
    pass


class KillAfter(Callback):
    """Simulates the process dying right after epoch ``epoch`` ended (its checkpoint written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.epoch:
            raise Kill


def resume_setup(name, model_seed):
    model = tiny_model(model_seed)
    opt = make(name, model, **({"lr": 0.05, "momentum": 0.9} if name == "sgd" else {}))
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_resume_is_bit_identical(tmp_path, name):
    data, val = stripes(), stripes(40, seed=99)
    kw = dict(epochs=3, batch_size=16, seed=4, verbose=0)

    model, opt, sched = resume_setup(name, 0)
    full = fit(model, opt, data, val, schedule=sched, checkpoint_path=tmp_path / "full.npz", **kw)

    path = tmp_path / "run.npz"
    model1, opt1, sched1 = resume_setup(name, 0)
    with pytest.raises(Kill):
        fit(model1, opt1, data, val, schedule=sched1, checkpoint_path=path, resume=True,
            callbacks=[KillAfter(0)], **kw)
    assert load_checkpoint(path, tiny_model(0)).epoch == 1

    # a new process: fresh objects (other initial weights, even), restored from the file
    model2, opt2, sched2 = resume_setup(name, 11)
    resumed = fit(model2, opt2, data, val, schedule=sched2, checkpoint_path=path, resume=True, **kw)
    assert resumed.epoch == [0, 1, 2]
    assert resumed.without_times() == full.without_times()
    assert resumed.equal_without_times(full)
    assert_same_weights(model, model2)
    assert model2[3].get_rng_state() == model[3].get_rng_state()

    # resuming a finished run trains nothing more
    again = fit(model2, opt2, data, val, schedule=sched2, checkpoint_path=path, resume=True, **kw)
    assert again.equal_without_times(full)


def test_manual_resume_with_initial_epoch_and_history(tmp_path):
    data = stripes()
    model, opt, _ = resume_setup("sgd", 0)
    full = fit(model, opt, data, epochs=2, batch_size=16, verbose=0)
    m1, o1, _ = resume_setup("sgd", 0)
    fit(m1, o1, data, epochs=1, batch_size=16, verbose=0, checkpoint_path=tmp_path / "c.npz")
    m2, o2, _ = resume_setup("sgd", 3)
    ck = load_checkpoint(tmp_path / "c.npz", m2, o2)
    h = fit(m2, o2, data, epochs=2, batch_size=16, verbose=0, initial_epoch=ck.epoch, history=ck.history)
    assert h.equal_without_times(full)
    assert_same_weights(model, m2)


def test_resume_with_other_settings_is_refused(tmp_path):
    data = stripes()
    model, opt, _ = resume_setup("sgd", 0)
    fit(model, opt, data, epochs=1, batch_size=16, verbose=0, checkpoint_path=tmp_path / "c.npz")
    model, opt, _ = resume_setup("sgd", 0)
    with pytest.raises(ValueError, match=r"settings differ: batch_size: checkpoint 16, now 32"):
        fit(model, opt, data, epochs=2, batch_size=32, verbose=0, checkpoint_path=tmp_path / "c.npz",
            resume=True)
    with pytest.raises(ValueError, match=r"seed: checkpoint 0, now 1"):
        fit(model, opt, data, epochs=2, batch_size=16, seed=1, verbose=0, checkpoint_path=tmp_path / "c.npz",
            resume=True)


# ------------------------------------------------------------------- atomic
def test_failed_replace_keeps_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    model, opt, sched, hist = trained()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, model, opt, sched, epoch=1, history=hist)
    before = weights(model)
    for p in model.parameters():
        p.data += 1

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, model, opt, sched, epoch=2, history=hist)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.npz"]
    fresh = tiny_model(9)
    assert load_checkpoint(path, fresh).epoch == 1
    for a, b in zip(before, fresh.state_dict().values()):
        assert np.array_equal(a, b)


def test_failure_while_writing_leaves_no_temp_file(tmp_path, monkeypatch):
    model, opt, _, _ = trained()
    path = tmp_path / "ck.npz"
    from minidl import backend as B

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(B.np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, opt)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------- loads that don't fit
def test_checkpoint_from_another_model(tmp_path):
    model, opt, _, _ = trained()
    save_checkpoint(tmp_path / "ck.npz", model, opt)
    wider = tiny_model(0, classes=5)
    before = weights(wider)
    with pytest.raises(ValueError, match=r"different model.*5\.weight: checkpoint \(36, 3\), model \(36, 5\)"):
        load_checkpoint(tmp_path / "ck.npz", wider)
    for a, b in zip(before, wider.state_dict().values()):
        assert np.array_equal(a, b)                            # nothing changed
    other = nn.Sequential(nn.Flatten(), nn.Dense(64, 3))
    with pytest.raises(ValueError, match=r"missing from the checkpoint \['1\.weight', '1\.bias'\]"):
        load_checkpoint(tmp_path / "ck.npz", other)


def test_checkpoint_from_another_optimizer(tmp_path):
    model, opt, sched, _ = trained("sgd")
    save_checkpoint(tmp_path / "ck.npz", model, opt, sched)
    fresh = tiny_model(0)
    with pytest.raises(ValueError, match="holds the state of a SGD optimizer, but a Adam was given"):
        load_checkpoint(tmp_path / "ck.npz", fresh, optim.create("adam", fresh.parameters()))
    with pytest.raises(ValueError, match="convention 'keras', the given SGD uses 'pytorch'"):
        load_checkpoint(tmp_path / "ck.npz", fresh, optim.SGD(fresh.parameters(), convention="pytorch"))
    with pytest.raises(ValueError, match=r"param groups of sizes \[4\], the given SGD has \[2\]"):
        load_checkpoint(tmp_path / "ck.npz", fresh, optim.SGD(fresh.parameters()[:2]))
    o = optim.SGD(fresh.parameters())
    with pytest.raises(ValueError, match="StepLR schedule, but a ExponentialLR"):
        load_checkpoint(tmp_path / "ck.npz", fresh, o, optim.schedules.ExponentialLR(o, gamma=0.9))
    save_checkpoint(tmp_path / "nosched.npz", model, opt)
    with pytest.raises(ValueError, match="holds no schedule state"):
        load_checkpoint(tmp_path / "nosched.npz", fresh, o, optim.schedules.StepLR(o, step_size=1))


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz checkpoint"):
        load_checkpoint(tmp_path / "junk.npz", tiny_model())
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minidl checkpoint"):
        read_checkpoint(tmp_path / "plain.npz")
    np.savez(tmp_path / "obj.npz", __meta__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable"):
        read_checkpoint(tmp_path / "obj.npz")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz", tiny_model())


def test_bad_save_arguments(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        save_checkpoint(tmp_path / "c.npz", model, epoch=-1)
    with pytest.raises(TypeError, match="extra must be JSON-serialisable"):
        save_checkpoint(tmp_path / "c.npz", model, extra={"x": object()})
    assert os.listdir(tmp_path) == []


def test_generator_without_saveable_state_warns_on_load(tmp_path, monkeypatch):
    """Where a backend's generator state cannot be saved (CuPy), load says resume is not exact."""
    model = tiny_model()

    def no_state():
        raise AttributeError("this generator has no state")

    monkeypatch.setattr(model[3], "get_rng_state", no_state)
    save_checkpoint(tmp_path / "c.npz", model)
    with pytest.warns(RuntimeWarning, match="no random-generator state for layer '3'"):
        load_checkpoint(tmp_path / "c.npz", tiny_model())
