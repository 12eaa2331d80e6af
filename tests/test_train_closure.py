"""fit hands an optimizer that evaluates the loss more than once per step (USES_CLOSURE, LBFGS)
the step's forward and backward as a closure, as torch users drive LBFGS."""
import numpy as np

from minidl import backend as B
from minidl import nn, optim
from minidl.optim import Optimizer
from minidl.train import fit


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 1, 3, 3)).astype(np.uint8)
    return x, x.reshape(64, -1)[:, :3].argmax(1)


def test_lbfgs_in_fit_runs_its_iterations_on_each_batch():
    x, y = _data()
    with B.default_dtype("float64"):
        model = nn.Sequential(nn.Flatten(), nn.Dense(9, 3, rng=np.random.default_rng(1)))
        opt = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        history = fit(model, opt, (x, y), epochs=2, batch_size=64, verbose=0)
    state = next(iter(opt.state.values()))
    assert state["func_evals"] > 2                 # more than one evaluation per step: the closure ran
    assert history.history["loss"][1] < 0.01 * history.history["loss"][0]


def test_the_closure_first_returns_the_step_just_computed_then_computes_again():
    seen = []

    class Probe(Optimizer):
        DEFAULTS = {"paper": {"lr": 0.1}}
        USES_CLOSURE = True

        def step(self, closure=None):
            grads_before = [p.grad.copy() for p in self.param_groups[0]["params"]]
            first = closure()
            second = closure()
            seen.append((first, second, grads_before, [p.grad.copy() for p in self.param_groups[0]["params"]]))

    x, y = _data()
    with B.default_dtype("float64"):
        model = nn.Sequential(nn.Flatten(), nn.Dense(9, 3, rng=np.random.default_rng(1)))
        history = fit(model, Probe(model.parameters()), (x, y), epochs=1, batch_size=64, verbose=0)
    (first, second, before, after), = seen
    assert first == history.step_loss[0] and second == first     # no weights moved: the same loss again
    assert all(np.array_equal(a, b) for a, b in zip(before, after))   # gradients of the same batch
