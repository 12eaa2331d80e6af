"""ScheduleFreeAdamW beyond the table (tests/optim_cases/schedulefree.py): real Keras 3 over 100 float64 steps
(the training point y and the average x, with warm-up), fit evaluating at x, the mode in state_dict and
in checkpoints."""
import numpy as np
import pytest

from minidl import ops, optim
from minidl.optim.schedulefree import averaged_point
from minidl.train import fit, load_checkpoint, save_checkpoint
from keras_testutil import keras64  # noqa: F401
from optim_testutil import parameter, problem, run_steps
from test_train import stripes, tiny_model

KERAS = [
    ({}, {}),
    ({"lr": 0.01, "warmup_steps": 8}, {"learning_rate": 0.01, "warmup_steps": 8}),
    ({"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.05},
     {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-6, "weight_decay": 0.05}),
    ({"lr": 0.02, "warmup_steps": 128, "clipvalue": 1.0}, {"learning_rate": 0.02, "warmup_steps": 128,
                                                          "clipvalue": 1.0}),
]


def keras_schedulefree(keras, w0, grads, **kwargs):
    """Keras's weights (y) after each step and its average x = (y - (1 - beta_1) * momentum) / beta_1 at the
    end, stepped with ``stateless_apply``: on torch, Keras's stateful ``apply_gradients`` reads its
    momentum_old after updating it in place (the class's note), its stateless path as its source means."""
    var = keras.Variable(np.array(w0, dtype=np.float64), dtype="float64")
    opt = keras.optimizers.ScheduleFreeAdamW(**kwargs)
    opt.build([var])
    weights, state, ys = [var.value], [v.value for v in opt.variables], []
    for g in grads:
        weights, state = opt.stateless_apply(state, [keras.ops.convert_to_tensor(np.array(g), dtype="float64")],
                                             weights)
        ys.append(np.array(keras.ops.convert_to_numpy(weights[0]), dtype=np.float64))
    (z,) = [np.array(keras.ops.convert_to_numpy(value), dtype=np.float64)
            for v, value in zip(opt.variables, state) if v.path.endswith("momentum")]
    beta1 = kwargs.get("beta_1", 0.9)
    return ys, (ys[-1] - (1 - beta1) * z) / beta1


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize("ours, theirs", KERAS, ids=[str(k[0]) or "defaults" for k in KERAS])
def test_keras_convention_equals_keras_at_y_and_at_x(ours, theirs, keras64):
    w0, grads = problem(1)
    weights, opt, p = run_steps("schedulefree_adamw", grads, w0=w0, **ours)
    ys, x = keras_schedulefree(keras64, w0, grads, **theirs)
    np.testing.assert_allclose(np.array(weights), np.array(ys), rtol=1e-10, atol=0)
    opt.eval()
    np.testing.assert_allclose(p.data, x, rtol=1e-10, atol=0)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_a_warm_up_of_10_steps_equals_keras_and_keras_own_promotion_rounds_its_factor_to_float32(keras64,
                                                                                                monkeypatch):
    # Keras's warm-up factor ops.minimum(t / 10, 1.0): in float64 with keras64's promotion (10 is not a power
    # of two, so t / 10 is inexact), equal to 1e-10 as the other runs; with Keras's own promotion on the torch
    # backend (float64 -> float32 in ops.minimum), a float32 factor (0.1 -> 0.10000000149): 1e-8 apart
    from keras.src.backend.common import dtypes

    w0, grads = problem(1)
    weights, _, _ = run_steps("schedulefree_adamw", grads, w0=w0, lr=0.01, warmup_steps=10)
    ys, _ = keras_schedulefree(keras64, w0, grads, learning_rate=0.01, warmup_steps=10)
    np.testing.assert_allclose(np.array(weights), np.array(ys), rtol=1e-10, atol=0)
    monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float32")
    ys32, _ = keras_schedulefree(keras64, w0, grads, learning_rate=0.01, warmup_steps=10)
    np.testing.assert_allclose(np.array(weights), np.array(ys32), rtol=1e-7, atol=0)
    assert np.abs(np.array(weights) - np.array(ys32)).max() > 1e-12


def test_fit_evaluates_at_x_and_trains_at_y():
    model = tiny_model()
    opt = optim.ScheduleFreeAdamW(model.parameters(), lr=0.01)
    evaluated = []

    def loss(logits, labels):               # fit's loss, also the validation loss: see the weights it runs at
        if not opt.training:
            evaluated.append([p.data.copy() for p in model.parameters()])
        return ops.softmax_cross_entropy(logits, labels)

    history = fit(model, opt, stripes(), stripes(40, seed=99), epochs=2, batch_size=32, verbose=0, loss=loss)
    assert len(evaluated) == 2 and len(history.history["val_loss"]) == 2     # one batch of 40 per evaluation
    assert opt.training
    for p, at_eval in zip(model.parameters(), evaluated[-1]):
        x = averaged_point(p.data, opt.state[p]["z"], 0.9)               # y and z have not moved since
        np.testing.assert_array_equal(at_eval, x)
        assert np.abs(x - p.data).max() > 1e-6                            # x is not y
    before = [p.data.copy() for p in model.parameters()]
    opt.eval()
    opt.train()
    for p, y in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, y)


def test_the_mode_and_the_kept_y_are_in_state_dict_and_checkpoints(tmp_path):
    model = tiny_model()
    opt = optim.ScheduleFreeAdamW(model.parameters(), convention="paper", lr=0.01, warmup_steps=2)
    fit(model, opt, stripes(), epochs=1, batch_size=32, verbose=0)
    y = [p.data.copy() for p in model.parameters()]
    opt.eval()
    saved = opt.state_dict()
    assert [g["train_mode"] for g in saved["param_groups"]] == [False]
    assert all("y" in s for s in saved["state"].values())
    save_checkpoint(tmp_path / "ckpt.npz", model, opt, epoch=1)

    other = tiny_model(seed=5)
    other_opt = optim.ScheduleFreeAdamW(other.parameters(), convention="paper", lr=0.01, warmup_steps=2)
    assert other_opt.training
    load_checkpoint(tmp_path / "ckpt.npz", other, other_opt)
    assert not other_opt.training
    for p, q in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(q.data, p.data)                     # at x, as saved
    other_opt.train()
    for q, w in zip(other.parameters(), y):
        np.testing.assert_array_equal(q.data, w)                          # back at y, bit for bit
    fresh = optim.ScheduleFreeAdamW(tiny_model().parameters(), convention="paper", lr=0.01, warmup_steps=2)
    fresh.load_state_dict(opt.state_dict())                             # an eval-mode state_dict loads too
    assert not fresh.training


def test_a_param_group_added_in_eval_mode_is_in_eval_mode():
    a, b = parameter([1.0]), parameter([2.0])
    opt = optim.ScheduleFreeAdamW([a])
    opt.eval()
    opt.add_param_group({"params": [b]})
    assert [g["train_mode"] for g in opt.param_groups] == [False, False]
    opt.add_param_group({"params": [parameter([3.0])], "train_mode": True})     # as state_dict writes a group
    assert [g["train_mode"] for g in opt.param_groups] == [False, False, True] and not opt.training
    with pytest.raises(ValueError, match="Invalid train_mode: 'yes'"):
        opt.add_param_group({"params": [parameter([4.0])], "train_mode": "yes"})
    opt.train()
    assert opt.training
