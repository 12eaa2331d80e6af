"""Every registered optimizer reduces a quadratic and the Rosenbrock function below a stated
threshold within a stated number of full-batch steps (float64, the "keras" convention unless
the optimizer has none, then its default).

    quadratic:  f(w) = 0.5 * (w1^2 + 10 * w2^2), w0 = (1, -2),   f(w0) = 20.5,  minimum 0 at (0, 0)
    Rosenbrock: f(x, y) = (1 - x)^2 + 100 * (y - x^2)^2, w0 = (-1.2, 1),  f(w0) = 24.2,  minimum 0 at (1, 1)

The hyperparameters below were picked by a small lr sweep; the thresholds are those the
methods reach with them (sign-like methods at a constant lr stall at a floor set by lr, and
Adadelta wanders in Rosenbrock's valley, so their thresholds are looser).
"""
import numpy as np
import pytest

from minidl import optim
from minidl.tensor import Parameter

QUAD_STEPS, ROSEN_STEPS = 2000, 3000

#: name -> (hyperparameters, threshold) for the quadratic and for Rosenbrock
SETTINGS = {
    "sgd":      (({"lr": 0.1}, 1e-10), ({"lr": 0.001, "momentum": 0.9}, 1e-6)),
    "adagrad":  (({"lr": 0.3}, 1e-10), ({"lr": 1.0}, 2e-3)),
    "rmsprop":  (({"lr": 0.003}, 1e-4), ({"lr": 0.003}, 1e-2)),
    "adadelta": (({"lr": 0.1, "rho": 0.9, "eps": 1e-5}, 1e-10), ({"lr": 0.1, "rho": 0.9, "eps": 1e-6}, 0.05)),
    "rprop":    (({"lr": 0.01}, 1e-10), ({"lr": 0.01}, 1e-3)),
    "adam":     (({"lr": 0.1}, 1e-10), ({"lr": 0.1}, 1e-6)),
    "adamw":    (({"lr": 0.1}, 1e-6), ({"lr": 0.1}, 1e-2)),
    "adamax":   (({"lr": 0.1}, 1e-10), ({"lr": 0.3}, 1e-4)),
    "nadam":    (({"lr": 0.1}, 1e-10), ({"lr": 0.03}, 1e-3)),
}


def quadratic(w):
    c = np.array([1.0, 10.0])
    return 0.5 * float(np.sum(c * w * w)), c * w


def rosenbrock(w):
    x, y = w
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, np.array([-2 * (1 - x) - 400 * x * (y - x * x),
                                                            200 * (y - x * x)])


def minimize(name, fn, w0, steps, hyper):
    p = Parameter(np.array(w0, dtype=np.float64), dtype=np.float64)
    opt = optim.create(name, [p], **hyper)
    for _ in range(steps):
        p.grad = fn(p.data)[1]
        opt.step()
    return fn(p.data)[0]


def test_every_registered_optimizer_has_settings():
    assert set(SETTINGS) == set(optim.available())


@pytest.mark.parametrize("name", optim.available())
def test_quadratic(name):
    hyper, threshold = SETTINGS[name][0]
    f = minimize(name, quadratic, (1.0, -2.0), QUAD_STEPS, hyper)
    assert f < threshold, f"{name} {hyper}: f = {f:.3g} after {QUAD_STEPS} steps (threshold {threshold})"


@pytest.mark.parametrize("name", optim.available())
def test_rosenbrock(name):
    hyper, threshold = SETTINGS[name][1]
    f = minimize(name, rosenbrock, (-1.2, 1.0), ROSEN_STEPS, hyper)
    assert f < threshold, f"{name} {hyper}: f = {f:.3g} after {ROSEN_STEPS} steps (threshold {threshold})"
