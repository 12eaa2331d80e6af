"""AveragedParameters: by hand, against torch's AveragedModel and Keras's use_ema, swap, state, bad input."""
import copy

import numpy as np
import pytest

from minidl import optim
from minidl.optim.averaging import AveragedParameters
from minidl.tensor import Parameter
from keras_testutil import keras64  # noqa: F401
from optim_testutil import problem

STEPS = 60


def params(*arrays):
    return [Parameter(np.array(a, dtype=np.float64)) for a in arrays]


def feed(average, p, values):
    """Set ``p`` to each value in turn and update: the average after each."""
    out = []
    for v in values:
        p.data[...] = v
        average.update()
        out.append(average.averages[0].copy())
    return out


def test_ema_and_equal_average_by_hand():
    # w = 1, 2, 4.  EMA, momentum 0.5: 1;  1 + 0.5 * (2 - 1) = 1.5;  1.5 + 0.5 * (4 - 1.5) = 2.75
    [p] = params([0.0])
    np.testing.assert_allclose(feed(AveragedParameters([p], momentum=0.5), p, [1.0, 2.0, 4.0]),
                               [[1.0], [1.5], [2.75]], rtol=1e-15)
    # equal average (SWA): 1;  (1 + 2) / 2 = 1.5;  (1 + 2 + 4) / 3 = 7/3
    [p] = params([0.0])
    np.testing.assert_allclose(feed(AveragedParameters([p], average="equal"), p, [1.0, 2.0, 4.0]),
                               [[1.0], [1.5], [7 / 3]], rtol=1e-15)
    # momentum 0: the average is the last value; momentum 1: the first one, for ever
    [p] = params([0.0])
    assert feed(AveragedParameters([p], momentum=0.0), p, [1.0, 2.0, 4.0])[-1] == [4.0]
    [p] = params([0.0])
    assert feed(AveragedParameters([p], momentum=1.0), p, [1.0, 2.0, 4.0])[-1] == [1.0]


def test_before_the_first_update_it_holds_the_parameters_and_keeps_their_dtype():
    p = Parameter(np.array([1.0, 2.0], dtype=np.float32))
    average = AveragedParameters([p])
    assert average.averages[0].dtype == np.float32 and average.n_averaged == 0
    np.testing.assert_array_equal(average.averages[0], [1.0, 2.0])
    p.data[...] = 5.0
    assert average.averages[0][0] == 1.0                      # a copy, not a view


def torch_model(torch, w0s):
    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(w0s[0], dtype=torch.float64))
            self.b = torch.nn.Parameter(torch.tensor(w0s[1], dtype=torch.float64))
    return Two()


@pytest.mark.parametrize("average, momentum", [("ema", 0.9), ("ema", 0.99), ("ema", 0.5), ("equal", 0.99)])
def test_equals_torch_averaged_model_over_training(average, momentum):
    # SGD with momentum, the same gradients in both (problem(): a (3, 4) and a (5,) parameter), float64;
    # torch: AveragedModel(..., multi_avg_fn=get_ema_multi_avg_fn(decay)), or AveragedModel(model), SWA's
    # equal average (on the CPU its get_swa_avg_fn, in float64; get_swa_multi_avg_fn would take 1 / (n + 1)
    # in float32)
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    (w0, grads_w), (b0, grads_b) = problem(1, (3, 4), STEPS), problem(2, (5,), STEPS)
    ours = params(w0, b0)
    opt = optim.SGD(ours, lr=0.05, momentum=0.9, convention="pytorch")
    mine = AveragedParameters(ours, momentum=momentum, average=average)
    model = torch_model(torch, (w0, b0))
    ref_opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ref = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(momentum)) if average == "ema"
           else AveragedModel(model))
    for t in range(STEPS):
        for p, g in zip(ours, (grads_w[t], grads_b[t])):
            p.grad = g.copy()
        for p, g in zip(model.parameters(), (grads_w[t], grads_b[t])):
            p.grad = torch.tensor(g)
        opt.step()
        ref_opt.step()
        mine.update()
        ref.update_parameters(model)
        for a, r in zip(mine.averages, ref.module.parameters()):
            np.testing.assert_allclose(a, r.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"step {t}")
    assert mine.n_averaged == int(ref.n_averaged) == STEPS


@pytest.mark.parametrize("average", ["ema", "equal"])
def test_the_average_alone_equals_torch_on_the_same_weights(average):
    # the same weight values fed to both, 60 updates: the averages agree to the last bits
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    rng = np.random.default_rng(7)
    values = [rng.standard_normal((3, 4)) * (1 + t % 4) for t in range(STEPS)]
    [p] = params(values[0])
    mine = AveragedParameters([p], momentum=0.95, average=average)
    model = torch.nn.Linear(4, 3, bias=False).double()
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.95)) if average == "ema" else AveragedModel(model)
    for v in values:
        p.data[...] = v
        with torch.no_grad():
            model.weight.copy_(torch.tensor(v))
        mine.update()
        ref.update_parameters(model)
        np.testing.assert_allclose(mine.averages[0], ref.module.weight.detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras's torch backend on numpy's copy keyword
@pytest.mark.parametrize("overwrite", [None, 7])
def test_equals_keras_use_ema(keras64, overwrite):
    # Keras 3: SGD(momentum=0.9, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency): after every
    # step the average; every 7th step the weights become it; finalize_variable_values: the average
    keras = keras64
    w0, grads = problem(3, (3, 4), STEPS)
    var = keras.Variable(np.array(w0), dtype="float64")
    ref = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, use_ema=True, ema_momentum=0.9,
                               ema_overwrite_frequency=overwrite)
    [p] = params(w0)
    opt = optim.SGD([p], lr=0.05, momentum=0.9, convention="keras")
    mine = AveragedParameters([p], momentum=0.9)
    for t, g in enumerate(grads):
        ref.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), var)])
        p.grad = g.copy()
        opt.step()
        mine.update()
        if overwrite and (t + 1) % overwrite == 0:
            mine.copy_to()
        np.testing.assert_allclose(p.data, keras.ops.convert_to_numpy(var), rtol=1e-10, atol=1e-12,
                                   err_msg=f"step {t}")
    ref.finalize_variable_values([var])
    mine.copy_to()
    np.testing.assert_allclose(p.data, keras.ops.convert_to_numpy(var), rtol=1e-10, atol=1e-12)


def test_swap_twice_gives_back_every_bit_and_applied_is_a_block():
    w, b = params(np.linspace(-1, 1, 6).reshape(2, 3), [0.1, 0.2])
    average = AveragedParameters([w, b], momentum=0.7)
    average.update()
    w.data += 1.0
    b.data *= 3.0
    average.update()
    trained = [w.data.copy(), b.data.copy()]
    averaged = [a.copy() for a in average.averages]
    with average.applied():
        np.testing.assert_array_equal(w.data, averaged[0])
        np.testing.assert_array_equal(b.data, averaged[1])
    np.testing.assert_array_equal(w.data, trained[0])
    np.testing.assert_array_equal(average.averages[1], averaged[1])
    with pytest.raises(RuntimeError):                 # the block's end restores even on an error
        with average.applied():
            raise RuntimeError("boom")
    np.testing.assert_array_equal(b.data, trained[1])
    average.copy_to()
    np.testing.assert_array_equal(w.data, averaged[0])


def test_state_round_trip_mid_way_goes_on_identically():
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(4) for _ in range(20)]
    [p] = params(np.zeros(4))
    a = AveragedParameters([p], momentum=0.8)
    feed(a, p, values[:9])
    saved = copy.deepcopy(a.state_dict())
    [q] = params(np.zeros(4))
    b = AveragedParameters([q], momentum=0.8)
    b.load_state_dict(saved)
    assert b.n_averaged == 9
    np.testing.assert_array_equal(feed(b, q, values[9:]), feed(a, p, values[9:]))


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("averages"), "lacks averages"),
    (lambda s: s.update(momentum=0.5), "momentum=0.5"),
    (lambda s: s.update(average="equal"), "average='equal'"),
    (lambda s: s.update(n_averaged=-1), "n_averaged"),
    (lambda s: s.update(averages=[]), "0 averages for 1 parameters"),
    (lambda s: s.update(averages=[np.zeros(3)]), r"average 0 is \(3,\) float64; its parameter is \(4,\)"),
    (lambda s: s.update(averages=[np.zeros(4, dtype=np.float32)]), "float32"),
    (lambda s: s.update(averages=[np.full(4, np.nan)]), "NaN or Inf"),
])
def test_a_bad_state_is_refused_and_changes_nothing(change, message):
    [p] = params(np.arange(4.0))
    average = AveragedParameters([p], momentum=0.8)
    average.update()
    state = average.state_dict()
    change(state)
    with pytest.raises(ValueError, match=message):
        average.load_state_dict(state)
    assert average.n_averaged == 1
    np.testing.assert_array_equal(average.averages[0], np.arange(4.0))


@pytest.mark.parametrize("build, error, message", [
    (lambda p: AveragedParameters([]), ValueError, "empty parameter list"),
    (lambda p: AveragedParameters([np.zeros(2)]), TypeError, "averages Parameters, got ndarray"),
    (lambda p: AveragedParameters([p, p]), ValueError, "appears twice"),
    (lambda p: AveragedParameters([p], momentum=1.5), ValueError, "Invalid momentum"),
    (lambda p: AveragedParameters([p], momentum=True), ValueError, "Invalid momentum"),
    (lambda p: AveragedParameters([p], average="mean"), ValueError, "Invalid average"),
])
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build(Parameter(np.zeros(2)))
