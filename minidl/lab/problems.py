"""The problem suite: each problem a model, a data set, a loss, a default budget and a target.

A problem is named once here and that name is used everywhere (``--problem``, a run's
configuration, its record, the tables)::

    quadratic-deep  DeepOBS's noisy 100-D quadratic (its Hessian's spectrum known)   loss target
    mnist-logreg    multinomial logistic regression on MNIST                          accuracy target
    mnist-mlp       DeepOBS's 784-1000-500-100-10 ReLU network on MNIST               accuracy target
    mnist-cnn       the article's CNN on MNIST                                        accuracy target
    fmnist-2c2d     DeepOBS's two-conv, two-dense network on Fashion-MNIST            accuracy target

``--dataset`` gives a problem another data set of the same image shape (``synthetic``, the
embedded offline digits, runs every image problem anywhere; ``idx`` any folder of IDX files).
The quadratic's data are generated here (:func:`quadratic_data`), so it needs no file either.

The targets are what time to target counts to: for the image problems a little below the
accuracy published for tuned optimizers (DeepOBS's baselines, the article's 0.99), for the
quadratic 90, 3% above its best expected test loss (87.1 at theta = the training mean, against
354 at the start).  They are a choice, stated here, not a measurement.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from minidl import backend as B
from minidl import ops

#: the quadratic data set: DeepOBS's ``quadratic`` (1,000 draws of N(0, 0.6^2 I) per split)
QUADRATIC = "quadratic"
QUADRATIC_SIZE, QUADRATIC_NOISE, QUADRATIC_DIM = 1000, 0.6, 100
QUADRATIC_SEEDS = {"train": 42, "test": 43}
#: metrics a target may be set on: "higher is better" per metric
TARGET_METRICS = {"val_accuracy": True, "val_loss": False}


@dataclass(frozen=True)
class Problem:
    """One test problem: ``build(seed, train)`` makes its model for a training set."""

    name: str
    description: str
    model: str                      # the model in words (its class and shape)
    build: object                   # (seed, train ArrayDataset) -> Module
    dataset: str                    # the default data set
    input_shape: tuple              # (C, H, W) of one example
    epochs: int                     # the default budget
    batch_size: int
    target_metric: str              # "val_accuracy" or "val_loss"
    target: float
    loss: object = ops.softmax_cross_entropy
    source: str = ""                # where the problem comes from
    datasets: tuple = field(default_factory=tuple)   # data sets it is meant for (others: same shape)

    def reached(self, value, target=None) -> bool:
        """Whether a metric value meets the target (>= for accuracy, <= for a loss)."""
        return target_reached(self.target_metric, value, self.target if target is None else target)


def target_reached(metric: str, value, target) -> bool:
    """``value`` meets ``target`` on ``metric`` (False for a missing or non-finite value)."""
    if value is None or value != value or target is None:
        return False
    return value >= target if TARGET_METRICS[metric] else value <= target


# ------------------------------------------------------------------ model builders
def _logreg(seed, train):
    from minidl import models

    return models.mnist_logreg(num_classes=train.num_classes, in_features=_features(train))


def _mlp(seed, train):
    from minidl import models

    return models.mnist_mlp(seed=seed, num_classes=train.num_classes, in_features=_features(train))


def _cnn(seed, train):
    from minidl import models

    return models.mnist_cnn(seed=seed, num_classes=train.num_classes, in_channels=train.image_shape[0])


def _2c2d(seed, train):
    from minidl import models

    return models.fmnist_2c2d(seed=seed, num_classes=train.num_classes, in_channels=train.image_shape[0])


def _quadratic(seed, train):
    from minidl import models

    return models.quadratic_deep(dim=_features(train))


def _features(train) -> int:
    channels, height, width = train.image_shape
    return channels * height * width


def _mean_output(outputs, labels):
    from minidl.nn.quadratic import mean_output

    return mean_output(outputs, labels)


PROBLEMS = {p.name: p for p in (
    Problem("quadratic-deep", "DeepOBS's noisy quadratic: 0.5 (theta - x)^T Q (theta - x) in 100 dimensions, "
            "Q with 90 eigenvalues in (0, 1) and 10 in (30, 60), x ~ N(0, 0.36 I)",
            "QuadraticForm(100), theta from 1.0", _quadratic, QUADRATIC, (1, 1, QUADRATIC_DIM), epochs=100,
            batch_size=128, target_metric="val_loss", target=90.0, loss=_mean_output,
            source="DeepOBS quadratic_deep (Schneider et al. 2019)", datasets=(QUADRATIC,)),
    Problem("mnist-logreg", "multinomial logistic regression on MNIST (convex)", "Flatten, Dense 784->10, zeros",
            _logreg, "mnist", (1, 28, 28), epochs=10, batch_size=128, target_metric="val_accuracy", target=0.92,
            source="DeepOBS mnist_logreg", datasets=("mnist", "synthetic", "idx")),
    Problem("mnist-mlp", "DeepOBS's four-layer ReLU network on MNIST", "Dense 784-1000-500-100-10, ReLU",
            _mlp, "mnist", (1, 28, 28), epochs=10, batch_size=128, target_metric="val_accuracy", target=0.98,
            source="DeepOBS mnist_mlp", datasets=("mnist", "synthetic", "idx")),
    Problem("mnist-cnn", "the article's Keras CNN on MNIST", "Conv 32 3x3, MaxPool, Dropout 0.25, Dense 256, "
            "Dropout 0.5, Dense 10", _cnn, "mnist", (1, 28, 28), epochs=10, batch_size=64,
            target_metric="val_accuracy", target=0.99, source="the article (Keras's mnist_cnn example)",
            datasets=("mnist", "fashion-mnist", "synthetic", "idx")),
    Problem("fmnist-2c2d", "DeepOBS's two-conv, two-dense network on Fashion-MNIST",
            "Conv 32 5x5 same, MaxPool, Conv 64 5x5 same, MaxPool, Dense 1024, Dense 10", _2c2d, "fashion-mnist",
            (1, 28, 28), epochs=10, batch_size=128, target_metric="val_accuracy", target=0.90,
            source="DeepOBS fmnist_2c2d", datasets=("fashion-mnist", "synthetic", "idx")),
)}
DEFAULT_PROBLEM = "mnist-cnn"


def get_problem(name) -> Problem:
    """The problem called ``name``; ValueError naming the accepted ones otherwise."""
    if name not in PROBLEMS:
        raise ValueError(f"--problem {name!r}: unknown problem; accepted: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


# ------------------------------------------------------------------ data
def quadratic_data(split: str):
    """DeepOBS's quadratic data set: 1,000 points of N(0, 0.6^2 I) in 100 dimensions, drawn from
    ``numpy.random.RandomState(42)`` (train) or ``(43)`` (test), as float32 values in an
    ``ArrayDataset(floats=True)`` of shape (1000, 1, 1, 100), every label 0 (one class)."""
    from minidl.data import ArrayDataset

    if split not in QUADRATIC_SEEDS:
        raise ValueError(f"quadratic_data: split must be 'train' or 'test', got {split!r}")
    rng = B.np.random.RandomState(QUADRATIC_SEEDS[split])
    points = B.np.float32(rng.normal(0.0, QUADRATIC_NOISE, (QUADRATIC_SIZE, QUADRATIC_DIM)))
    return ArrayDataset(points.reshape(QUADRATIC_SIZE, 1, 1, QUADRATIC_DIM), B.np.zeros(QUADRATIC_SIZE, B.np.int64),
                        QUADRATIC, num_classes=1, source=f"generated, RandomState({QUADRATIC_SEEDS[split]})",
                        floats=True)


def load_split(dataset: str, split: str, data_dir=None):
    """The ``split`` ("train" or "test") of a data set: the quadratic's generated points, or
    ``minidl.data.load_dataset``'s images."""
    if dataset == QUADRATIC:
        return quadratic_data(split)
    from minidl import data as D

    return D.load_dataset(dataset, split, data_dir=data_dir)


def fingerprint(dataset: str, data_dir=None) -> dict:
    """What identifies a data set's content (see ``minidl.data.fingerprint``); the quadratic's
    generator and its parameters."""
    if dataset == QUADRATIC:
        return {"name": QUADRATIC, "generator": "minidl.lab.problems.quadratic_data", "version": 1,
                "size": QUADRATIC_SIZE, "dim": QUADRATIC_DIM, "noise": QUADRATIC_NOISE, "seeds": QUADRATIC_SEEDS}
    from minidl import data as D

    return D.fingerprint(dataset, data_dir=data_dir)


def check_dataset(problem: Problem, train) -> None:
    """A data set fits a problem when its examples have the problem's shape (ValueError otherwise)."""
    if tuple(train.image_shape) != tuple(problem.input_shape):
        raise ValueError(f"--dataset {train.name or '?'}: examples of shape {tuple(train.image_shape)}, but "
                         f"problem {problem.name} takes examples of shape {tuple(problem.input_shape)} "
                         f"(its data set: {problem.dataset})")


# ------------------------------------------------------------------ the listing
def describe(problem: Problem, train=None) -> dict:
    """A problem's row of ``minidl problems``: name, model, dataset, parameters, budget, target."""
    if train is None:
        train = _shape_probe(problem)
    model = problem.build(0, train)
    return {"name": problem.name, "model": problem.model, "dataset": problem.dataset,
            "parameters": int(model.num_parameters()), "epochs": problem.epochs, "batch_size": problem.batch_size,
            "target": f"{problem.target_metric} {'>=' if TARGET_METRICS[problem.target_metric] else '<='} "
                      f"{problem.target:g}",
            "description": problem.description, "source": problem.source}


def _shape_probe(problem: Problem):
    """A two-example stand-in of the problem's data (its shape and classes), to count parameters
    without loading files."""
    from minidl.data import ArrayDataset

    if problem.dataset == QUADRATIC:
        return quadratic_data("train")
    images = B.np.zeros((2,) + tuple(problem.input_shape), B.np.uint8)
    return ArrayDataset(images, B.np.array([0, 9]), problem.dataset, num_classes=10)


def format_problems(rows) -> str:
    """The suite as a Markdown table."""
    head = ["Problem", "Model", "Data set", "Parameters", "Budget", "Target", "Description"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r['name']} | {r['model']} | {r['dataset']} | {r['parameters']:,} | "
                     f"{r['epochs']} epochs, batch {r['batch_size']} | {r['target']} | {r['description']} |")
    return "\n".join(lines)
