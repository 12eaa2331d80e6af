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


# ------------------------------------------------------------------ runs of a problem
from minidl.lab import run  # noqa: E402
from minidl.lab.specs import parse_spec  # noqa: E402


def run_config(spec="adam", problem="mnist-cnn", dataset="synthetic", **over):
    settings = dict(seed=0, epochs=2, batch_size=32, dataset=dataset, fingerprint=run.dataset_fingerprint(dataset),
                    train_subset=128, val_subset=None, backend="numpy", dtype="float32", problem=problem)
    settings.update(over)
    return run.make_config(parse_spec(spec), **settings)


def test_validation_split_holds_out_the_last_training_examples():
    config = run_config(split="validation", validation=50, train_subset=None)
    train, val = run.load_data(config)
    full = P.load_split("synthetic", "train")
    assert len(val) == 50 and len(train) == len(full) - 50
    np.testing.assert_array_equal(val.images, full.images[-50:])
    test = P.load_split("synthetic", "test")
    assert not any(np.array_equal(val.images[0], t) for t in test.images[:200])


def test_a_record_says_its_problem_split_and_stage_and_names_metrics_after_the_split():
    record = run.execute(run_config("sgd", problem="mnist-logreg", epochs=1, split="validation", validation=40,
                                    stage="grid"))
    assert record["status"] == "ok", record["error"]
    assert (record["problem"], record["split"], record["stage"]) == ("mnist-logreg", "validation", "grid")
    assert record["val_size"] == 40 and record["train_size"] == 128
    assert record["history"]["validation_accuracy"] == record["history"]["val_accuracy"]
    final = run.execute(run_config("sgd", problem="mnist-logreg", epochs=1, stage="tuned"))
    assert final["split"] == "test" and final["history"]["test_loss"] == final["history"]["val_loss"]
    assert set(record["load_average"]) == {"start", "end"} and len(record["load_average"]["start"]) == 3


def test_settings_not_given_leave_a_configuration_and_its_id_as_before():
    config = run_config()
    assert not {"split", "validation", "stage", "eval_every", "target"} & set(config)
    assert run_config(split="test") == config


@pytest.mark.parametrize("over,message", [
    ({"eval_every": 0}, "--eval-every must be a positive integer"),
    ({"target": {"metric": "val_acc", "value": 0.9}}, "--target: expected a metric of val_accuracy, val_loss"),
    ({"split": "train"}, "split must be one of test, validation"),
    ({"split": "validation", "validation": -3}, "--validation must be a positive integer"),
])
def test_bad_settings_are_refused_by_name(over, message):
    with pytest.raises(ValueError, match=message):
        run_config(**over)


def test_eval_every_changes_no_training_and_keeps_evaluation_out_of_training_time():
    plain = run.execute(run_config(epochs=2))
    watched = run.execute(run_config(epochs=2, eval_every=3, target={"metric": "val_accuracy", "value": 0.0}))
    assert watched["step_loss"] == plain["step_loss"]
    assert watched["history"]["val_accuracy"] == plain["history"]["val_accuracy"]
    evaluations = watched["evaluations"]
    # 128 images in batches of 32: 4 steps an epoch, 8 in all; evaluated after steps 3 and 6
    assert evaluations["step"] == [3, 6] and evaluations["epoch"] == [0.75, 1.5]
    seconds = evaluations["train_seconds"]
    assert 0 < seconds[0] < seconds[1] <= sum(watched["history"]["train_seconds"]) * 1.05
    # each evaluation's time is counted as evaluation, not training
    assert all(e > 0 for e in watched["history"]["eval_seconds"])
    # a target of 0 is reached at the first evaluation: step 3, three quarters of an epoch
    assert watched["target"] == {"metric": "val_accuracy", "value": 0.0, "reached": True, "steps_to_target": 3,
                                 "epochs_to_target": 0.75, "seconds_to_target": round(seconds[0], 4)}
    assert watched["history"]["target_reached"] == [True, True]


def test_time_to_target_is_the_first_crossing_by_hand():
    points = [{"step": 10, "epoch": 0.5, "train_seconds": 1.0, "val_loss": 2.0, "val_accuracy": 0.5},
              {"step": 20, "epoch": 1, "train_seconds": 2.0, "val_loss": 1.0, "val_accuracy": 0.91},
              {"step": 30, "epoch": 1.5, "train_seconds": 3.0, "val_loss": 0.5, "val_accuracy": 0.89},
              {"step": 40, "epoch": 2, "train_seconds": 4.0, "val_loss": 0.4, "val_accuracy": 0.95}]
    hit = run.time_to_target(points, "val_accuracy", 0.9)
    assert (hit["steps_to_target"], hit["epochs_to_target"], hit["seconds_to_target"]) == (20, 1, 2.0)
    assert run.time_to_target(points, "val_loss", 0.5)["steps_to_target"] == 30
    missed = run.time_to_target(points, "val_accuracy", 0.99)
    assert missed["reached"] is False and missed["steps_to_target"] is None


def test_the_warm_up_step_leaves_the_run_untouched():
    problem = P.get_problem("mnist-cnn")
    train = offline_train(problem)
    model = problem.build(0, train)
    opt = optim.create("adam", model.parameters())
    before = model.state_dict()
    rng_before = [m.get_rng_state() for m in model.modules() if hasattr(m, "get_rng_state")]
    seconds = run._warm_up(model, opt, train, {"batch_size": 32, "seed": 0}, problem.loss)
    assert seconds > 0
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert not opt.state               # no step was taken with this optimizer
    assert rng_before == [m.get_rng_state() for m in model.modules() if hasattr(m, "get_rng_state")]


def test_the_quadratic_runs_as_a_problem_with_a_loss_target():
    record = run.execute(run_config("sgd:lr=0.01", problem="quadratic-deep", dataset="quadratic", epochs=1,
                                    batch_size=128, train_subset=None,
                                    target={"metric": "val_loss", "value": 1000.0}))
    assert record["status"] == "ok", record["error"]
    assert record["history"]["val_loss"][0] < 354          # below the loss at theta = 1
    assert record["target"]["reached"] and record["target"]["steps_to_target"] == 8
