"""The problem suite: every problem builds, trains one step offline, and is listed."""
import numpy as np
import pytest

from minidl import optim
from minidl.data import load_dataset
from minidl.lab import problems as P
from minidl.train import fit

#: the embedded, offline data set of each problem
OFFLINE = {"quadratic-deep": "quadratic"}


def offline_train(problem, n=64):
    name = OFFLINE.get(problem.name, "synthetic")
    data = P.load_split(name, "train")
    return data.subset(n)


@pytest.mark.parametrize("name", list(P.PROBLEMS))
def test_each_problem_trains_one_step(name):
    problem = P.get_problem(name)
    train = offline_train(problem)
    P.check_dataset(problem, train)
    model = problem.build(0, train)
    before = [p.data.copy() for p in model.parameters()]
    opt = optim.create("sgd", model.parameters(), lr=0.01)
    history = fit(model, opt, train, None, epochs=1, batch_size=len(train), loss=problem.loss, verbose=0)
    assert history.steps_per_epoch == [1]
    assert np.isfinite(history.step_loss[0])
    assert any(not np.array_equal(b, p.data) for b, p in zip(before, model.parameters()))


def test_the_quadratic_step_goes_downhill_and_starts_where_deepobs_does():
    problem = P.get_problem("quadratic-deep")
    train = P.quadratic_data("train")
    model = problem.build(0, train)
    np.testing.assert_array_equal(model.theta.data, np.ones(100))
    opt = optim.create("sgd", model.parameters(), lr=0.01)
    history = fit(model, opt, train, train, epochs=1, batch_size=1000, loss=problem.loss, verbose=0)
    assert history.val_loss[0] < history.step_loss[0]


def test_quadratic_data_is_deepobs_draws():
    train, test = P.quadratic_data("train"), P.quadratic_data("test")
    expected = np.float32(np.random.RandomState(42).normal(0.0, 0.6, (1000, 100)))
    np.testing.assert_array_equal(train.images.reshape(1000, 100), expected)
    assert train.image_shape == (1, 1, 100) and test.num_classes == 1
    assert not np.array_equal(train.images, test.images)
    x, _ = train.batch(slice(0, 2))
    assert float(x.min()) < 0          # floats carried unscaled


def test_parameter_counts():
    counts = {r["name"]: r["parameters"] for r in (P.describe(p) for p in P.PROBLEMS.values())}
    # DeepOBS's counts for its problems; the article's CNN as the README states it
    assert counts == {"quadratic-deep": 100, "mnist-logreg": 7_850, "mnist-mlp": 1_336_610,
                      "mnist-cnn": 1_387_594, "fmnist-2c2d": 3_274_634}


def test_a_dataset_of_another_shape_is_refused_with_both_shapes():
    with pytest.raises(ValueError, match=r"shape \(1, 28, 28\).*quadratic-deep takes examples of shape \(1, 1, 100\)"):
        P.check_dataset(P.get_problem("quadratic-deep"), load_dataset("synthetic", "train").subset(4))


def test_unknown_problem_names_the_accepted_ones():
    with pytest.raises(ValueError, match="accepted: quadratic-deep, mnist-logreg"):
        P.get_problem("cifar")


def test_targets_compare_the_right_way():
    assert P.target_reached("val_accuracy", 0.99, 0.99) and not P.target_reached("val_accuracy", 0.98, 0.99)
    assert P.target_reached("val_loss", 89.0, 90.0) and not P.target_reached("val_loss", 91.0, 90.0)
    assert not P.target_reached("val_loss", float("nan"), 90.0)


def test_table_lists_every_problem():
    table = P.format_problems([P.describe(p) for p in P.PROBLEMS.values()])
    for name in P.PROBLEMS:
        assert f"| {name} |" in table
    assert "3,274,634" in table
