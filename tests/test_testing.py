"""minidl.testing.check_optimizer: it passes minidl's own optimizers and a sign-descent written
in a few lines, and each of its checks catches the fault it is there for."""
import numpy as np
import pytest

from minidl import backend as B
from minidl import optim
from minidl.testing import OptimizerCheckError, check_optimizer


class SignSGD(optim.Optimizer):
    """w_t = w_{t-1} - lr * sign(g_t)"""

    DEFAULTS = {"paper": {"lr": 0.01}}

    def update(self, w, g, state, group):
        w -= group["lr"] * B.get_array_module(w).sign(g)


def test_a_small_optimizer_of_ones_own_passes_with_its_hand_computed_steps():
    # w0 = 1, lr 0.1: g = 2 -> w = 1 - 0.1 = 0.9; g = -1 -> w = 0.9 + 0.1 = 1.0
    report = check_optimizer(SignSGD, hand=[{"hyper": {"lr": 0.1}, "w0": [1.0], "grads": [[2.0], [-1.0]],
                                             "expected": [[0.9], [1.0]]}],
                             converge={"lr": 0.001, "steps": 2000, "converge_to": 0.01})
    assert "paper: hand-computed case 1 (2 steps)" in report.passed
    assert any("plain and accelerated" in c for c in report.passed)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "rprop"])
def test_minidls_own_optimizers_pass(name):
    converge = {"sgd": {"lr": 0.05}, "adam": {"lr": 0.05}, "rmsprop": {"lr": 0.01}, "rprop": {}}[name]
    report = check_optimizer(optim.REGISTRY[name], converge=converge)
    assert len(report.passed) >= 4 * len(optim.REGISTRY[name].DEFAULTS)


def test_a_wrong_hand_value_is_reported():
    with pytest.raises(OptimizerCheckError, match="hand-computed case 1: step 1 gives"):
        check_optimizer(SignSGD, converge=False, hand=[{"hyper": {"lr": 0.1}, "w0": [1.0], "grads": [[2.0]],
                                                        "expected": [[0.8]]}])


def test_a_rule_that_changes_the_gradient_is_caught():
    class Clobber(SignSGD):
        def update(self, w, g, state, group):
            g *= 0.5                      # the caller's gradient changes
            super().update(w, g, state, group)

    with pytest.raises(OptimizerCheckError, match="no input mutated"):
        check_optimizer(Clobber, converge=False)


def test_a_rule_that_is_not_elementwise_but_says_so_is_caught():
    class PerTensor(SignSGD):
        def update(self, w, g, state, group):       # normalised by the whole tensor's norm
            w -= group["lr"] * g / B.get_array_module(w).sqrt((g * g).sum())

    with pytest.raises(OptimizerCheckError, match="plain and accelerated"):
        check_optimizer(PerTensor, converge=False)
    PerTensor.ELEMENTWISE = False
    check_optimizer(PerTensor, converge=False)


def test_state_that_does_not_round_trip_is_caught():
    class Forgetful(SignSGD):
        def init_state(self, w, group):
            return {"seen": 0}

        def update(self, w, g, state, group):
            state["seen"] += 1
            self.calls = getattr(self, "calls", 0) + 1          # kept outside the state: lost on resume
            w -= group["lr"] * self.calls * B.get_array_module(w).sign(g)

    with pytest.raises(OptimizerCheckError, match="state_dict round trip"):
        check_optimizer(Forgetful, converge=False)


def test_an_optimizer_that_does_not_converge_is_reported():
    class Stuck(SignSGD):
        def update(self, w, g, state, group):
            pass

    with pytest.raises(OptimizerCheckError, match="convergence"):
        check_optimizer(Stuck)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="Optimizer subclass"):
        check_optimizer(int)
    with pytest.raises(OptimizerCheckError, match="DEFAULTS"):
        check_optimizer(type("Empty", (optim.Optimizer,), {}))
