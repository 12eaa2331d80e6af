"""Divergence as an outcome: fit raises Diverged with the step, the epoch, what went non-finite
and the History so far; the weights are those the optimizer left."""
import math
import pickle

import numpy as np
import pytest

from minidl import ops, optim
from minidl.train import Callback, Diverged, fit
from test_train import stripes, tiny_model


class NaNLossAfter(Callback):
    """Makes the loss NaN from step ``step`` on (through the flag the loss below reads), and keeps
    the weights as they were after the last good step."""

    def __init__(self, step):
        super().__init__()
        self.step, self.poisoned, self.weights = step, False, None

    def on_step_end(self, step, loss):
        if step == self.step - 1:
            self.poisoned = True
            self.weights = [a.copy() for a in self.model.state_dict().values()]


def test_a_nan_loss_raises_diverged_before_the_update():
    stopper = NaNLossAfter(11)                   # epoch 1 (8 steps per epoch), its 4th step

    def loss(logits, y):
        value = ops.softmax_cross_entropy(logits, y)
        return value * math.nan if stopper.poisoned else value

    model = tiny_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(Diverged) as info:
        fit(model, opt, stripes(), stripes(40, seed=99), epochs=3, batch_size=16, verbose=0, loss=loss,
            callbacks=[stopper])
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert (err.step, err.epoch, err.what) == (11, 1, "loss") and math.isnan(err.loss)
    assert "diverged at step 11 (epoch 1): the training loss is nan" in str(err)
    assert err.__cause__ is None
    h = err.history
    assert len(h.step_loss) == 12 and math.isnan(h.step_loss[11])      # every step up to this one
    assert all(math.isfinite(v) for v in h.step_loss[:11])
    assert h.epoch == [0] and h.steps_per_epoch == [8]                 # the completed epochs' rows
    for before, after in zip(stopper.weights, model.state_dict().values()):
        assert np.array_equal(before, after)                           # no update from the NaN step


class Refusing(optim.SGD):
    """SGD whose step raises as the optimizer does on a non-finite gradient, at step ``at``."""

    def __init__(self, *args, at=0, **kw):
        super().__init__(*args, **kw)
        self.at, self.count = at, 0

    def step(self, closure=None):
        if self.count == self.at:
            raise FloatingPointError("SGD.step: the gradient of parameter '5.weight' (shape (36, 3)) "
                                     "holds NaN or Inf; weights and state left unchanged")
        self.count += 1
        return super().step()


def test_an_optimizer_floating_point_error_becomes_diverged_with_its_cause():
    model = tiny_model()
    opt = Refusing(model.parameters(), lr=0.1, at=3)
    with pytest.raises(Diverged) as info:
        fit(model, opt, stripes(), epochs=2, batch_size=16, verbose=0)
    err = info.value
    assert (err.step, err.epoch) == (3, 0)
    assert "'5.weight'" in err.what and "'5.weight'" in str(err)
    assert isinstance(err.__cause__, FloatingPointError) and not isinstance(err.__cause__, Diverged)
    assert len(err.history.step_loss) == 4 and math.isfinite(err.loss) and err.loss == err.history.step_loss[3]
    assert len(err.history) == 0


def test_the_articles_cnn_names_each_parameter_by_its_layer_and_a_refused_step_says_which():
    from minidl import models

    model = models.mnist_cnn(seed=0)
    assert [p.name for p in model.parameters()] == [
        "Conv2D(1->32).weight", "Conv2D(1->32).bias", "Dense(5408->256).weight", "Dense(5408->256).bias",
        "Dense(256->10).weight", "Dense(256->10).bias"]
    opt = optim.Adam(model.parameters())
    for p in model.parameters():
        p.grad = np.zeros_like(p.data)
    model.parameters()[2].grad[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match=r"parameter 'Dense\(5408->256\)\.weight' \(shape \(5408, 256\)\) "
                                                 r"holds NaN or Inf"):
        opt.step()


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_a_real_divergence_is_reported():
    """SGD with lr 1e30: the first update sends the weights to ~1e30, the second step's logits
    overflow and its loss is NaN (measured: step 1, the same every run on the CPU)."""
    model = tiny_model()
    with pytest.raises(Diverged) as info:
        fit(model, optim.SGD(model.parameters(), lr=1e30), stripes(), epochs=2, batch_size=16, verbose=0)
    err = info.value
    assert (err.step, err.epoch, err.what) == (1, 0, "loss")
    assert math.isfinite(err.history.step_loss[0]) and math.isnan(err.history.step_loss[1])


def test_diverged_pickles_with_its_attributes():
    model = tiny_model()
    with pytest.raises(Diverged) as info:
        fit(model, Refusing(model.parameters(), lr=0.1, at=1), stripes(), epochs=1, batch_size=16, verbose=0)
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.step, again.epoch, again.what) == (info.value.step, info.value.epoch, info.value.what)
    assert again.history.step_loss == info.value.history.step_loss and str(again) == str(info.value)
