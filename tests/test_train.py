"""fit / evaluate / History / callbacks: records, determinism, verbose output, bad input."""
import numpy as np
import pytest

from minidl import backend as B
from minidl import nn, optim
from minidl.data import ArrayDataset
from minidl.train import Callback, EvalResult, History, LambdaCallback, evaluate, fit


def tiny_model(seed=0, classes=3):
    """Conv(1->4, 3x3) -> ReLU -> Pool -> Dropout -> Dense(36->classes) on 8x8 images."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2D(1, 4, 3, rng=rng), nn.ReLU(), nn.MaxPool2D(2), nn.Dropout(0.25, seed=seed + 1),
        nn.Flatten(), nn.Dense(4 * 3 * 3, classes, rng=rng),
    )


def stripes(n=120, seed=0, classes=3):
    """Images whose bright band (rows 0-2, 3-5 or 6-7) is the label: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 60, (n, 1, 8, 8)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 0, 3 * c:3 * c + 3, :] += 180
    return ArrayDataset(images, labels)


def run(seed=0, epochs=2, data_seed=0, **kw):
    model = tiny_model(0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("verbose", 0)
    hist = fit(model, opt, stripes(seed=data_seed),
               stripes(40, seed=99), epochs=epochs, batch_size=16, seed=seed, **kw)
    return model, hist


# ----------------------------------------------------------------- records
def test_history_records_every_epoch_and_step():
    model, h = run(epochs=3)
    assert h.epoch == [0, 1, 2]
    assert h.steps_per_epoch == [8, 8, 8]                      # ceil(120 / 16)
    assert len(h.step_loss) == 24
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "train_seconds", "eval_seconds"):
        assert len(getattr(h, key)) == 3, key
    # the epoch's train loss is the batch-size-weighted mean of its step losses (7 x 16 + 1 x 8)
    sizes = [16] * 7 + [8]
    for e in range(3):
        losses = h.step_loss[8 * e:8 * e + 8]
        assert h.train_loss[e] == pytest.approx(sum(l * n for l, n in zip(losses, sizes)) / 120, rel=1e-12)
    assert all(t > 0 for t in h.train_seconds) and all(t > 0 for t in h.eval_seconds)
    assert h.lr == [0.1, 0.1, 0.1]
    d = h.to_dict()
    assert History.from_dict(d).to_dict() == d
    assert "3 epochs" in repr(h)


def test_it_learns_and_val_matches_evaluate():
    model, h = run(epochs=4)
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_acc[-1] >= 0.9
    again = evaluate(model, stripes(40, seed=99))
    assert isinstance(again, EvalResult)
    assert again.loss == h.val_loss[-1] and again.accuracy == h.val_acc[-1]


def test_no_validation_data_gives_none():
    model = tiny_model()
    h = fit(model, optim.SGD(model.parameters()), stripes(), epochs=1, batch_size=32, verbose=0)
    assert h.val_loss == [None] and h.val_acc == [None] and h.eval_seconds == [0.0]


def test_same_seed_same_history_other_seed_differs():
    m1, h1 = run(seed=3)
    m2, h2 = run(seed=3)
    assert h1.equal_without_times(h2)
    for (n, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert np.array_equal(a, b), n
    _, h3 = run(seed=4)
    assert h3.step_loss != h1.step_loss


# ---------------------------------------------------------------- evaluate
def test_evaluate_eval_mode_no_graph_keeps_mode_and_rng():
    model = tiny_model()
    data = stripes(50)
    drop = model[3]
    before = drop.get_rng_state()
    res = evaluate(model, data, batch_size=7)
    assert drop.get_rng_state() == before                      # dropout off: no mask drawn
    assert model.training                                      # mode restored
    assert all(p.grad is None for p in model.parameters())
    # the same as one full batch in eval mode (7-sized batches weighted by size)
    model.eval()
    x, y = data.batch(np.arange(len(data)))
    from minidl import no_grad, ops
    with no_grad():
        logits = model(x)
        full = float(ops.softmax_cross_entropy(logits, y).data)
    assert res.loss == pytest.approx(full, rel=1e-5)
    assert res.accuracy == ops.accuracy(logits, y)
    model.eval()
    evaluate(model, data)
    assert not model.training


def test_evaluate_accepts_a_pair_and_checks_it():
    model = tiny_model()
    d = stripes(20)
    assert evaluate(model, (d.images, d.labels)) == evaluate(model, d)
    with pytest.raises(ValueError, match="20 images but 19 labels"):
        evaluate(model, (d.images, d.labels[:19]))
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, d, batch_size=0)


# --------------------------------------------------------------- callbacks
class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self):
        self.events.append(("train_begin", self.model is not None, self.optimizer is not None))

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch_begin", epoch))

    def on_step_end(self, step, loss):
        self.events.append(("step", step, loss))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch_end", epoch, logs["train_loss"], logs["val_acc"]))

    def on_train_end(self, history):
        self.events.append(("train_end", len(history)))


def test_callback_order_and_values():
    rec = Recorder()
    _, h = run(epochs=2, callbacks=[rec])
    kinds = [e[0] for e in rec.events]
    assert kinds == (["train_begin", "epoch_begin"] + ["step"] * 8 + ["epoch_end", "epoch_begin"]
                     + ["step"] * 8 + ["epoch_end", "train_end"])
    assert rec.events[0] == ("train_begin", True, True)
    assert [e[2] for e in rec.events if e[0] == "step"] == h.step_loss
    assert [e[1] for e in rec.events if e[0] == "step"] == list(range(16))
    assert rec.events[-2] == ("epoch_end", 1, h.train_loss[1], h.val_acc[1])
    assert rec.events[-1] == ("train_end", 2)


def test_stop_training_from_a_step():
    def stop_at_3(step, loss):
        if step == 2:
            cb.stop_training = True
    cb = LambdaCallback(on_step_end=stop_at_3)
    _, h = run(epochs=5, callbacks=cb)
    assert len(h.step_loss) == 3 and h.steps_per_epoch == [3] and len(h) == 1


def test_schedule_steps_once_per_epoch_or_per_step():
    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, opt, stripes(), epochs=3, batch_size=32, schedule=sched, verbose=0)
    assert h.lr == [0.1, 0.05, 0.025]
    assert opt.param_groups[0]["lr"] == 0.0125
    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.schedules.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, opt, stripes(), epochs=2, batch_size=32, schedule=sched, schedule_interval="step",
            verbose=0)
    assert h.lr == [0.1, 0.1 * 0.5 ** 4]                       # 4 steps per epoch


# ----------------------------------------------------------------- verbose
def test_verbose_0_prints_nothing(capsys):
    run(epochs=1, verbose=0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_verbose_1_progress_bar(capsys):
    run(epochs=2, verbose=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "Epoch 1/2" in err and "Epoch 2/2" in err
    assert "8/8" in err and "loss=" in err and "acc=" in err and "val_acc=" in err


def test_verbose_2_one_line_per_epoch(capsys):
    _, h = run(epochs=2, verbose=2, progress_desc="SGD")
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2 and err == ""
    assert lines[0].startswith("SGD Epoch 1/2 - loss ")
    assert f"loss {h.train_loss[1]:.4f}" in lines[1] and f"val_acc {h.val_acc[1]:.4f}" in lines[1]
    assert "s train" in lines[1] and "s eval" in lines[1]


# --------------------------------------------------------------- bad input
def test_images_and_labels_of_different_lengths():
    d = stripes(30)
    model = tiny_model()
    with pytest.raises(ValueError, match=r"train_data has 30 images but 29 labels"):
        fit(model, optim.SGD(model.parameters()), (d.images, d.labels[:29]), verbose=0)
    with pytest.raises(ValueError, match=r"val_data has 30 images but 10 labels"):
        fit(model, optim.SGD(model.parameters()), d, (d.images, d.labels[:10]), verbose=0)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, optim.SGD(model.parameters()), d.images, verbose=0)


def test_wrong_image_shape_names_the_dataset_shape():
    model = tiny_model()
    rng = np.random.default_rng(0)
    wrong = ArrayDataset(rng.integers(0, 255, (10, 1, 12, 12)).astype(np.uint8), rng.integers(0, 3, 10))
    with pytest.raises(ValueError, match=r"train_data holds images of shape \(1, 12, 12\).*Dense"):
        fit(model, optim.SGD(model.parameters()), wrong, verbose=0)
    rgb = ArrayDataset(rng.integers(0, 255, (10, 3, 8, 8)).astype(np.uint8), rng.integers(0, 3, 10))
    with pytest.raises(ValueError, match=r"val_data holds images of shape \(3, 8, 8\)"):
        fit(model, optim.SGD(model.parameters()), stripes(), rgb, verbose=0)
    with pytest.raises(ValueError, match=r"data holds images of shape \(3, 8, 8\)"):
        evaluate(model, rgb)


def test_labels_beyond_the_model_classes():
    d = stripes(30, classes=3)
    model = tiny_model(classes=2)
    with pytest.raises(ValueError, match=r"train_data has labels from 0 to 2, but the model outputs 2 classes"):
        fit(model, optim.SGD(model.parameters()), d, verbose=0)
    model = tiny_model(classes=3)
    bad_val = ArrayDataset(d.images, np.full(30, 7))
    with pytest.raises(ValueError, match=r"val_data has labels from 7 to 7"):
        fit(model, optim.SGD(model.parameters()), d, bad_val, verbose=0)


@pytest.mark.parametrize("kw, match", [
    ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
    ({"batch_size": 2.5}, "batch_size must be an int"),
    ({"batch_size": 200, "drop_last": True}, "batch_size 200 is larger than the 120 examples of train_data"),
    ({"epochs": -1}, "epochs must be an int >= 0"),
    ({"verbose": 3}, "verbose must be 0, 1 or 2"),
    ({"schedule_interval": "batch"}, "schedule_interval"),
    ({"resume": True}, "resume=True needs checkpoint_path"),
    ({"resume": True, "checkpoint_path": "c.npz", "history": History()}, "either history"),
    ({"seed": -1}, "seed must be an int >= 0"),
    ({"epochs": 1, "initial_epoch": 2}, "initial_epoch 2 is past epochs 1"),
])
def test_bad_arguments(kw, match):
    model = tiny_model()
    args = {"epochs": 1, "batch_size": 16, "verbose": 0, **kw}
    with pytest.raises(ValueError, match=match):
        fit(model, optim.SGD(model.parameters()), stripes(), **args)


def test_batch_larger_than_data_without_drop_last_is_one_batch():
    model = tiny_model()
    h = fit(model, optim.SGD(model.parameters()), stripes(), batch_size=500, verbose=0)
    assert h.steps_per_epoch == [1]


def test_wrong_model_or_optimizer_types():
    model = tiny_model()
    other = tiny_model()
    with pytest.raises(ValueError, match="not parameters of the model"):
        fit(model, optim.SGD(other.parameters()), stripes(), verbose=0)
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, object(), stripes(), verbose=0)
    with pytest.raises(TypeError, match="model must be"):
        fit(object(), optim.SGD(model.parameters()), stripes(), verbose=0)
    with pytest.raises(TypeError, match=r"callbacks\[0\]"):
        fit(model, optim.SGD(model.parameters()), stripes(), callbacks=[print], verbose=0)
    with pytest.raises(ValueError, match="given history ends at epoch 1"):
        _, h = run(epochs=2)
        fit(model, optim.SGD(model.parameters()), stripes(), epochs=3, history=h, verbose=0)


def test_fit_on_each_backend(backend_name):
    """The loop runs on CuPy too (labels checked on the host once, losses read per step)."""
    model = tiny_model()
    h = fit(model, optim.SGD(model.parameters(), lr=0.1), stripes(), stripes(40, seed=1), epochs=1,
            batch_size=32, verbose=0)
    assert B.get_array_module(model.parameters()[0].data) is B.xp()
    assert np.isfinite(h.train_loss[0]) and 0 <= h.val_acc[0] <= 1


def test_full_batch_in_chunks_equals_one_big_batch():
    """Gradient accumulation over chunks gives the full-batch step (float64: the dropout masks
    are drawn from one float64 stream in order, so chunked and whole draws match too)."""
    with B.default_dtype("float64"):
        data = stripes(n=100)
        results = []
        for max_chunk in (100, 7):   # one piece, then 15 chunks of at most 7 examples
            model = tiny_model(seed=3)
            opt = optim.SGD(model.parameters(), lr=0.5)
            hist = fit(model, opt, data, None, epochs=3, batch_size=100, max_chunk=max_chunk,
                       seed=0, verbose=0)
            results.append((hist, [p.data.copy() for p in model.parameters()]))
        (h1, w1), (h2, w2) = results
        assert h1.steps_per_epoch == h2.steps_per_epoch == [1, 1, 1]
        np.testing.assert_allclose(h1.step_loss, h2.step_loss, rtol=1e-12)
        assert h1.train_acc == h2.train_acc
        for a, b in zip(w1, w2):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
