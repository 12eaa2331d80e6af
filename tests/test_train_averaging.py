"""WeightAveraging in fit: the average of the weights fit trained, evaluation on it, the swap at the end,
Keras's overwrite, its own file across a resume, and bad arguments."""
import numpy as np
import pytest

from minidl import optim
from minidl.train import LambdaCallback, WeightAveraging, evaluate, fit
from test_train import stripes, tiny_model


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def train(*callbacks, epochs=3, model=None, **kw):
    model = tiny_model() if model is None else model
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("verbose", 0)
    history = fit(model, opt, stripes(), stripes(40, seed=99), epochs=epochs, batch_size=32,
                  callbacks=list(callbacks), **kw)
    return model, opt, history


def recorder():
    """A callback that keeps the weights after every step, and at the end of every epoch."""
    seen = {"steps": [], "epochs": []}
    cb = LambdaCallback(on_step_end=lambda step, loss: seen["steps"].append(weights(cb.model)),
                        on_epoch_end=lambda epoch, logs: seen["epochs"].append(weights(cb.model)))
    return cb, seen


def ema_of(values, momentum):
    average = [v.copy() for v in values[0]]
    for step in values[1:]:
        for a, w in zip(average, step):
            a += (1 - momentum) * (w - a)
    return average


def test_the_model_ends_with_the_ema_of_the_weights_it_trained():
    seen_cb, seen = recorder()
    averaging = WeightAveraging(momentum=0.9)
    model, opt, history = train(seen_cb, averaging)
    assert len(seen["steps"]) == 12                          # 3 epochs of ceil(120 / 32) steps
    for got, expected in zip(weights(model), ema_of(seen["steps"], 0.9)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)     # float32 training
    # the trained weights were swapped out, not lost
    for kept, last in zip(averaging.average.averages, seen["steps"][-1]):
        np.testing.assert_array_equal(kept, last)
    assert averaging.average.n_averaged == 12
    assert "eval" not in vars(opt) and "train" not in vars(opt)


def test_swap_at_end_false_keeps_the_trained_weights():
    seen_cb, seen = recorder()
    model, _, _ = train(seen_cb, WeightAveraging(momentum=0.9, swap_at_end=False))
    for got, last in zip(weights(model), seen["steps"][-1]):
        np.testing.assert_array_equal(got, last)


def test_evaluation_on_the_average_when_asked():
    val = stripes(40, seed=99)
    model, _, history = train(WeightAveraging(momentum=0.8, evaluate_average=True))
    # the model holds the average at the end, so evaluating it gives the last epoch's val_loss
    assert evaluate(model, val, batch_size=256).loss == pytest.approx(history.val_loss[-1], rel=1e-12)
    plain_model, _, plain = train(WeightAveraging(momentum=0.8, swap_at_end=False))
    assert evaluate(plain_model, val, batch_size=256).loss == pytest.approx(plain.val_loss[-1], rel=1e-12)
    assert history.val_loss[-1] != plain.val_loss[-1]                       # an average was evaluated
    assert history.train_loss == plain.train_loss                           # and training was not changed


def test_epoch_interval_from_start_is_swa():
    # the equal average of the weights at the end of epochs 1, 2 and 3 (start=1)
    seen_cb, seen = recorder()
    model, _, _ = train(seen_cb, WeightAveraging(average="equal", interval="epoch", start=1), epochs=4)
    ends = seen["epochs"][1:]
    for i, got in enumerate(weights(model)):
        np.testing.assert_allclose(got, sum(e[i] for e in ends) / 3, rtol=1e-5, atol=1e-6)


def test_overwrite_frequency_copies_the_average_into_the_weights():
    # Keras's ema_overwrite_frequency: after steps 5 and 10 (1-based) the weights are the average
    averaging = WeightAveraging(momentum=0.5, overwrite_frequency=5, swap_at_end=False)
    seen = []

    def look(step, loss):
        seen.append(([p.data.copy() for p in averaging.model.parameters()],
                     [a.copy() for a in averaging.average.averages]))
    train(averaging, LambdaCallback(on_step_end=look))
    for step, (w, a) in enumerate(seen):
        same = all(np.array_equal(x, y) for x, y in zip(w, a))
        assert same == ((step + 1) % 5 == 0 or step == 0), step     # step 0: the first average is w


def test_the_average_survives_a_resume_through_its_file(tmp_path):
    def run(epochs, path):
        return train(WeightAveraging(momentum=0.9, path=tmp_path / path), epochs=epochs,
                     checkpoint_path=tmp_path / f"{path}.ck.npz", resume=True)[0]
    run(2, "split.npz")
    resumed = run(4, "split.npz")
    whole = run(4, "whole.npz")
    for a, b in zip(weights(resumed), weights(whole)):
        np.testing.assert_array_equal(a, b)


def test_a_file_at_another_epoch_is_refused_before_training(tmp_path):
    path = tmp_path / "avg.npz"
    train(WeightAveraging(path=path), epochs=1, checkpoint_path=tmp_path / "ck.npz")
    train(WeightAveraging(path=tmp_path / "other.npz"), epochs=2, checkpoint_path=tmp_path / "ck.npz", resume=True)
    model = tiny_model()
    before = weights(model)
    with pytest.raises(ValueError, match="holds the average after epoch 1, but fit goes on after epoch 2"):
        train(WeightAveraging(path=path), epochs=3, model=model, checkpoint_path=tmp_path / "ck.npz", resume=True)
    checkpoint_weights = weights(model)          # resume restored the checkpoint's weights, and nothing trained:
    assert not all(np.array_equal(a, b) for a, b in zip(before, checkpoint_weights))
    _, _, history = train(WeightAveraging(path=tmp_path / "other.npz"), epochs=2,
                          checkpoint_path=tmp_path / "ck.npz", resume=True)
    assert len(history.step_loss) == 8           # the checkpoint is still at epoch 2


def test_an_error_in_fit_leaves_the_trained_weights_and_no_hooks():
    class Boom(Exception):
        pass

    seen_cb, seen = recorder()

    def explode(epoch, logs):
        if epoch == 1:
            raise Boom()
    averaging = WeightAveraging(momentum=0.9, evaluate_average=True)
    model = tiny_model()
    with pytest.raises(Boom):
        train(seen_cb, averaging, LambdaCallback(on_epoch_end=explode), model=model)
    for got, last in zip(weights(model), seen["steps"][-1]):
        np.testing.assert_array_equal(got, last)
    assert not {"eval", "train"} & set(vars(averaging.optimizer))


@pytest.mark.parametrize("arguments, error, message", [
    ({"momentum": 1.5}, ValueError, "momentum must be a number in"),
    ({"average": "mean"}, ValueError, "average must be one of"),
    ({"interval": "batch"}, ValueError, "interval must be 'step' or 'epoch'"),
    ({"start": -1}, ValueError, "start must be an integer"),
    ({"overwrite_frequency": 0}, ValueError, "overwrite_frequency must be an integer"),
    ({"overwrite_frequency": 5, "interval": "epoch"}, ValueError, "needs interval='step'"),
    ({"evaluate_average": 1}, TypeError, "evaluate_average must be True or False"),
    ({"swap_at_end": None}, TypeError, "swap_at_end must be True or False"),
    ({"path": "/no/such/folder/avg.npz"}, ValueError, "does not exist"),
])
def test_bad_arguments(arguments, error, message):
    with pytest.raises(error, match=f"WeightAveraging: .*{message}"):
        WeightAveraging(**arguments)
