"""fit's parts: Keras hooks and logs, stop_training both ways, History.history, the loss argument,
optimizer.train()/eval() around evaluations, the speed layer's one place, the built-in callbacks."""
import contextlib
import math

import numpy as np
import pytest

from minidl import nn, ops, optim
from minidl.perf import denormals
from minidl.train import (Callback, EpochPrinter, History, LambdaCallback, ModelCheckpoint, ProgressBar,
                          ScheduleStepper, evaluate, fit, load_checkpoint)
from minidl.train import fitting as fit_module
from minidl.train.step import chunks
from test_train import stripes, tiny_model


def sgd(model, **kw):
    return optim.SGD(model.parameters(), lr=0.1, momentum=0.9, **kw)


class Keras(Callback):
    """Records every Keras hook with its arguments."""

    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, history):
        self.events.append(("train_end", history))


def test_keras_hooks_are_called_in_order_with_keras_logs():
    model = tiny_model()
    cb = Keras()
    h = fit(model, sgd(model), stripes(), stripes(40, seed=99), epochs=2, batch_size=16, verbose=0,
            callbacks=[cb])
    kinds = [e[0] for e in cb.events]
    epoch = ["epoch_begin"] + ["batch_begin", "batch_end"] * 8 + ["epoch_end"]
    assert kinds == ["train_begin"] + epoch * 2 + ["train_end"]
    assert [e[1] for e in cb.events if e[0] == "batch_begin"] == list(range(8)) * 2   # index within the epoch
    assert cb.events[-1][1] is h
    assert cb.params == {"epochs": 2, "steps": 8, "verbose": 0}
    # a step's logs: the epoch's running loss and accuracy so far (batches of 16, the last of 8), and the lr
    batch_logs = [e[2] for e in cb.events if e[0] == "batch_end"]
    sizes = [16] * 7 + [8]
    for i in range(8):
        running = sum(h.step_loss[j] * sizes[j] for j in range(i + 1)) / sum(sizes[:i + 1])
        assert batch_logs[i]["loss"] == pytest.approx(running, rel=1e-12)
        assert 0 <= batch_logs[i]["accuracy"] <= 1 and batch_logs[i]["lr"] == 0.1
    assert batch_logs[7]["loss"] == pytest.approx(h.train_loss[0], rel=1e-12)
    assert batch_logs[7]["accuracy"] == h.train_acc[0]
    # an epoch's logs: Keras's keys, minidl's lr and seconds, and the History row's names
    logs = [e[2] for e in cb.events if e[0] == "epoch_end"][1]
    assert logs["loss"] == h.train_loss[1] == logs["train_loss"]
    assert logs["accuracy"] == h.train_acc[1] == logs["train_acc"]
    assert logs["val_loss"] == h.val_loss[1] and logs["val_accuracy"] == h.val_acc[1] == logs["val_acc"]
    assert logs["lr"] == 0.1 and logs["seconds"] == h.train_seconds[1] + h.eval_seconds[1]


def test_history_history_is_the_keras_dict():
    model = tiny_model()
    h = fit(model, sgd(model), stripes(), stripes(40, seed=99), epochs=2, batch_size=16, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.history["loss"] == h.train_loss and h.history["accuracy"] == h.train_acc
    assert h.history["val_loss"] == h.val_loss and h.history["val_accuracy"] == h.val_acc
    assert h.history["loss"] is h.train_loss                      # the same lists, as in Keras
    assert h.epoch == [0, 1]
    model = tiny_model()
    h = fit(model, sgd(model), stripes(), epochs=1, batch_size=16, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}                 # Keras: no val_ keys without val data
    assert History().history == {"loss": [], "accuracy": []}


@pytest.mark.parametrize("how", ["model", "callback"])
def test_stop_training_from_model_or_callback(how):
    class Stop(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                if how == "model":
                    self.model.stop_training = True              # Keras's idiom
                else:
                    self.stop_training = True                    # minidl's
    model = tiny_model()
    h = fit(model, sgd(model), stripes(), epochs=5, batch_size=16, verbose=0, callbacks=[Stop()])
    assert len(h.step_loss) == 3 and h.steps_per_epoch == [3] and len(h) == 1


def test_model_stop_training_is_reset_when_fit_starts():
    model = tiny_model()
    model.stop_training = True                                   # left over from an earlier run
    h = fit(model, sgd(model), stripes(), epochs=2, batch_size=16, verbose=0)
    assert h.steps_per_epoch == [8, 8] and model.stop_training is False


def test_stop_training_at_epoch_end_keeps_the_epoch_and_its_checkpoint(tmp_path):
    def stop(epoch, logs):
        cb.model.stop_training = True
    cb = LambdaCallback(on_epoch_end=stop)
    model = tiny_model()
    h = fit(model, sgd(model), stripes(), epochs=4, batch_size=16, verbose=0, callbacks=cb,
            checkpoint_path=tmp_path / "c.npz")
    assert h.steps_per_epoch == [8]
    assert load_checkpoint(tmp_path / "c.npz", tiny_model(3)).epoch == 1


def test_lambda_callback_takes_keras_hooks_and_refuses_unknown_ones():
    seen = []
    cb = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append((batch, logs["loss"])))
    model = tiny_model()
    h = fit(model, sgd(model), stripes(), epochs=1, batch_size=32, verbose=0, callbacks=cb)
    assert [b for b, _ in seen] == [0, 1, 2, 3]
    assert seen[0][1] == h.step_loss[0]
    with pytest.raises(ValueError, match=r"unknown hook\(s\) \['on_batch_end'\]"):
        LambdaCallback(on_batch_end=print)


# -------------------------------------------------------------------- loss
def test_loss_is_an_argument_of_fit_and_evaluate():
    """Twice the cross-entropy: every recorded loss doubles (a power of two: exactly), and the
    gradient doubles, so SGD with half the lr takes the same steps."""
    def double(logits, y):
        return ops.softmax_cross_entropy(logits, y) * 2.0

    data, val = stripes(), stripes(40, seed=99)
    m1, m2 = tiny_model(), tiny_model()
    h1 = fit(m1, optim.SGD(m1.parameters(), lr=0.1), data, val, epochs=1, batch_size=16, verbose=0)
    h2 = fit(m2, optim.SGD(m2.parameters(), lr=0.05), data, val, epochs=1, batch_size=16, verbose=0,
             loss=double)
    assert h2.step_loss[0] == 2 * h1.step_loss[0]
    np.testing.assert_allclose(h2.step_loss, 2 * np.asarray(h1.step_loss), rtol=1e-5)
    assert h2.val_loss[0] == pytest.approx(2 * h1.val_loss[0], rel=1e-5)
    assert evaluate(m2, val, loss=double).loss == h2.val_loss[0]
    assert evaluate(m2, val).loss == pytest.approx(h2.val_loss[0] / 2, rel=1e-6)


def test_a_loss_that_is_not_a_scalar_tensor_is_refused_before_training():
    model = tiny_model()
    with pytest.raises(TypeError, match="fit: loss must be a callable"):
        fit(model, sgd(model), stripes(), verbose=0, loss="mse")
    with pytest.raises(TypeError, match=r"loss must return a scalar Tensor.*got float"):
        fit(model, sgd(model), stripes(), verbose=0, loss=lambda logits, y: 1.0)
    with pytest.raises(TypeError, match=r"loss must return a scalar Tensor.*got shape \(1, 3\)"):
        fit(model, sgd(model), stripes(), verbose=0, loss=lambda logits, y: logits)
    with pytest.raises(TypeError, match="evaluate: loss must return a scalar Tensor"):
        evaluate(model, stripes(), loss=lambda logits, y: logits)


# --------------------------------------------------- optimizer train / eval
class Recording(optim.SGD):
    """SGD that records its train(), eval() and step() calls."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.calls = []

    def train(self):
        self.calls.append("train")

    def eval(self):
        self.calls.append("eval")

    def step(self, closure=None):
        self.calls.append("step")
        return super().step()


def test_fit_calls_optimizer_eval_before_each_evaluation_and_train_after():
    model = tiny_model()
    opt = Recording(model.parameters(), lr=0.1)
    fit(model, opt, stripes(), stripes(40, seed=99), epochs=2, batch_size=32, verbose=0)
    epoch = ["step"] * 4 + ["eval", "train"]
    assert opt.calls == ["train"] + epoch * 2


def test_fit_without_validation_calls_train_once():
    model = tiny_model()
    opt = Recording(model.parameters(), lr=0.1)
    fit(model, opt, stripes(), epochs=2, batch_size=64, verbose=0)
    assert opt.calls == ["train"] + ["step"] * 4


def test_evaluate_with_an_optimizer_calls_eval_then_train():
    model = tiny_model()
    opt = Recording(model.parameters(), lr=0.1)
    plain = evaluate(model, stripes(40))
    assert evaluate(model, stripes(40), optimizer=opt) == plain
    assert opt.calls == ["eval", "train"]
    other = tiny_model()
    with pytest.raises(ValueError, match="evaluate: .*not parameters of the model"):
        evaluate(model, stripes(40), optimizer=optim.SGD(other.parameters()))
    with pytest.raises(TypeError, match="evaluate: optimizer must be"):
        evaluate(model, stripes(40), optimizer="sgd")


# ------------------------------------------------------------- speed layer
class Wrapper(nn.Module):
    """A stand-in for a fused model: another Module over the same layers (so the same Parameters)."""

    def __init__(self, inner):
        super().__init__()
        self.layers = list(inner)          # not registered: the wrapper has other parameter names
        self.calls = 0
        for i, layer in enumerate(self.layers):
            setattr(self, f"block{i}", layer)

    def forward(self, x):
        self.calls += 1
        for layer in self.layers:
            x = layer(x)
        return x


def test_training_through_a_wrapper_checkpoints_the_users_model(tmp_path, monkeypatch):
    wrappers = []

    @contextlib.contextmanager
    def speed_layer(model, optimizer, enabled, flush_denormals=True):
        wrappers.append(Wrapper(model))
        yield wrappers[-1], optimizer

    monkeypatch.setattr(fit_module, "_speed_layer", speed_layer)
    model = tiny_model()
    reference = tiny_model()
    data = stripes()
    h = fit(model, sgd(model), data, epochs=2, batch_size=16, verbose=0, checkpoint_path=tmp_path / "c.npz")
    h_ref = fit(reference, sgd(reference), data, epochs=2, batch_size=16, verbose=0)
    assert wrappers[0].calls == 2 * 8 + 0                        # the steps ran on the wrapper
    assert [n for n, _ in wrappers[0].named_parameters()] != [n for n, _ in model.named_parameters()]
    assert h.equal_without_times(h_ref)
    fresh = tiny_model(7)
    load_checkpoint(tmp_path / "c.npz", fresh)                   # saved under the user's model's names
    for (name, a), b in zip(reference.state_dict().items(), fresh.state_dict().values()):
        assert np.array_equal(a, b), name


def test_perf_false_trains_the_same_and_is_checked():
    m1, m2 = tiny_model(), tiny_model()
    h1 = fit(m1, sgd(m1), stripes(), epochs=1, batch_size=16, verbose=0)
    h2 = fit(m2, sgd(m2), stripes(), epochs=1, batch_size=16, verbose=0, perf=False)
    # the fused Conv block's GEMM runs over chunks of 8 samples, which OpenBLAS may round unlike the
    # whole batch's GEMM, depending on its kernel: bitwise equal with this machine's native kernel,
    # 2e-7 relative under OPENBLAS_CORETYPE=Haswell (the ops' own parity: tests/test_perf_parity.py)
    np.testing.assert_allclose(h1.step_loss, h2.step_loss, rtol=1e-5, atol=0)
    with pytest.raises(TypeError, match="fit: perf must be True or False, got 1"):
        fit(m1, sgd(m1), stripes(), verbose=0, perf=1)


def test_the_speed_layer_is_switched_on_in_one_place():
    """fit's source enters the speed layer once, and no other module of minidl/train imports
    minidl.perf (or its old home minidl.cpu)."""
    import ast
    import inspect
    import pathlib

    import minidl.train

    assert inspect.getsource(fit_module.fit).count("_speed_layer(") == 1
    folder = pathlib.Path(minidl.train.__file__).parent
    users = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else [])
            if any(n.startswith(("minidl.perf", "minidl.cpu")) or n in ("minidl.cpu",) for n in names):
                users.add(path.name)
    assert users == {"fitting.py"}


@pytest.mark.skipif(not denormals.supported(), reason="no flush-to-zero mode on this platform")
@pytest.mark.parametrize("kw, flushed", [({}, True), ({"perf": False}, False), ({"flush_denormals": False}, False),
                                         ({"perf": False, "flush_denormals": True}, False)])
def test_fit_trains_with_subnormals_flushed_only_with_the_speed_layer(kw, flushed):
    modes = []
    model = tiny_model()
    fit(model, sgd(model), stripes(), epochs=1, batch_size=64, verbose=0, **kw,
        callbacks=LambdaCallback(on_step_end=lambda step, loss: modes.append(denormals.flushed())))
    assert modes == [flushed, flushed] and not denormals.flushed()


# --------------------------------------------------------------- built-ins
def test_builtin_callbacks_can_be_passed_by_hand(tmp_path, capsys):
    model = tiny_model()
    opt = sgd(model)
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, opt, stripes(), epochs=2, batch_size=32, verbose=0,
            callbacks=[EpochPrinter("hand"), ScheduleStepper(sched), ModelCheckpoint(tmp_path / "c.npz")])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("hand Epoch 2/2 - loss ")
    assert h.lr == [0.1, 0.05]
    assert load_checkpoint(tmp_path / "c.npz", tiny_model()).history.equal_without_times(h)
    with pytest.raises(ValueError, match="interval must be 'epoch' or 'step'"):
        ScheduleStepper(sched, "batch")


def test_progress_bar_closes_when_training_fails(capsys):
    class Boom(Exception):
        pass

    def boom(step, loss):
        if step == 1:
            raise Boom
    bar = ProgressBar()
    model = tiny_model()
    with pytest.raises(Boom):
        fit(model, sgd(model), stripes(), epochs=1, batch_size=16, verbose=0,
            callbacks=[bar, LambdaCallback(on_step_end=boom)])
    assert bar._bar is None                                     # closed
    assert "2/8" in capsys.readouterr().err


def test_chunks_cover_the_batch_in_order():
    assert chunks(slice(10, 17), 3) == [slice(10, 13), slice(13, 16), slice(16, 17)]
    assert chunks(slice(0, 3), 3) == [slice(0, 3)]
    idx = np.arange(7)[::-1]
    parts = chunks(idx, 3)
    assert [p.tolist() for p in parts] == [[6, 5, 4], [3, 2, 1], [0]]
    assert chunks(idx, 7)[0] is idx


def test_epoch_logs_of_an_epoch_without_validation():
    seen = []
    model = tiny_model()
    fit(model, sgd(model), stripes(), epochs=1, batch_size=32, verbose=0,
        callbacks=LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs)))
    assert seen[0]["val_loss"] is None and seen[0]["val_accuracy"] is None
    assert math.isfinite(seen[0]["loss"]) and seen[0]["seconds"] == seen[0]["train_seconds"]


# ------------------------------------------------------------------ History
@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("lr"), r"missing keys \['lr'\]"),
    (lambda d: d.update(epoch=(0, 1)), "epoch must be a list, got tuple"),
    (lambda d: d["val_acc"].pop(), "differ in length"),
    (lambda d: d["train_loss"].__setitem__(0, "0.5"), r"train_loss\[0\] must be a number, got '0.5'"),
    (lambda d: d["train_loss"].__setitem__(0, None), r"train_loss\[0\] must be a number, got None"),
    (lambda d: d["step_loss"].__setitem__(3, [1]), r"step_loss\[3\] must be a number"),
    (lambda d: d.update(epoch=[1, 0]), "epoch must be increasing ints >= 0"),
    (lambda d: d.update(epoch=[0, -1 + 0.5]), "epoch must be increasing ints"),
    (lambda d: d.update(steps_per_epoch=[8, 8, 8]), "at most one int >= 0 per epoch"),
    (lambda d: d.update(steps_per_epoch=[8, True]), "steps_per_epoch"),
])
def test_history_from_dict_names_the_first_thing_wrong(change, match):
    model = tiny_model()
    d = fit(model, sgd(model), stripes(), stripes(40, seed=99), epochs=2, batch_size=16, verbose=0).to_dict()
    assert History.from_dict(d).to_dict() == d
    change(d)
    with pytest.raises(ValueError, match=match):
        History.from_dict(d)


def test_history_from_dict_takes_histories_without_validation_and_nan_losses():
    h = History()
    h.append_epoch(epoch=0, train_loss=math.nan, train_acc=0.5, val_loss=None, val_acc=None, lr=None,
                   train_seconds=1.0, eval_seconds=0.0)
    h.steps_per_epoch.append(0)
    again = History.from_dict(h.to_dict())
    assert again.equal_without_times(h) and again.val_loss == [None]
