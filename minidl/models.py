"""Named models, so every script, test and benchmark uses the same definition."""
from __future__ import annotations

from minidl import backend as B
from minidl import nn


def mnist_cnn(seed=None, num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """The article's Keras CNN in channels-first layout (1,387,594 parameters for MNIST).

    Conv2D(1->32, 3x3) -> ReLU -> MaxPool2D(2x2) -> Dropout(0.25) -> Flatten
    -> Dense(5408->256) -> ReLU -> Dropout(0.5) -> Dense(256->10); the softmax is
    fused into the loss (``ops.softmax_cross_entropy``).  The same ``seed``
    gives the same initial weights and the same dropout masks.
    """
    rng = B.np.random.default_rng(seed)
    # the dropout layers get seeds derived from the model seed (None stays None)
    drop_seeds = [None, None] if seed is None else [int(s) for s in rng.integers(0, 2**31 - 1, size=2)]
    return nn.Sequential(
        nn.Conv2D(in_channels, 32, 3, rng=rng),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Dropout(0.25, seed=drop_seeds[0]),
        nn.Flatten(),
        nn.Dense(32 * 13 * 13, 256, rng=rng),
        nn.ReLU(),
        nn.Dropout(0.5, seed=drop_seeds[1]),
        nn.Dense(256, num_classes, rng=rng),
    )


def mnist_logreg(num_classes: int = 10, in_features: int = 784) -> nn.Sequential:
    """Multinomial logistic regression: Flatten -> Dense(784->10), weights and biases zero
    (DeepOBS's ``mnist_logreg``; 7,850 parameters).  Zero weights are a fine start for a convex
    problem and make every seed start from the same point."""
    model = nn.Sequential(nn.Flatten(), nn.Dense(in_features, num_classes, rng=0))
    model[1].weight.data[...] = 0.0
    return model


def mnist_mlp(seed=None, num_classes: int = 10, in_features: int = 784) -> nn.Sequential:
    """DeepOBS's ``mnist_mlp``: Flatten -> Dense 1000 -> ReLU -> Dense 500 -> ReLU -> Dense 100
    -> ReLU -> Dense 10 (1,336,610 parameters).  DeepOBS starts from a truncated normal of std
    0.03; here every layer is minidl's (Keras's) Glorot uniform with zero biases."""
    rng = B.np.random.default_rng(seed)
    sizes = [in_features, 1000, 500, 100]
    layers = [nn.Flatten()]
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Dense(fan_in, fan_out, rng=rng), nn.ReLU()]
    layers.append(nn.Dense(sizes[-1], num_classes, rng=rng))
    return nn.Sequential(*layers)


def fmnist_2c2d(seed=None, num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """DeepOBS's ``fmnist_2c2d`` (3,274,634 parameters on 28 x 28 images):

    Conv2D(32, 5x5, same) -> ReLU -> MaxPool2D(2x2) -> Conv2D(64, 5x5, same) -> ReLU
    -> MaxPool2D(2x2) -> Flatten -> Dense(3136->1024) -> ReLU -> Dense(1024->10).

    DeepOBS pools with 'same' padding; on 28 x 28 and 14 x 14 inputs a 2 x 2 pool of stride 2
    covers every pixel, so 'same' and 'valid' pooling are the same here.  Weights are minidl's
    Glorot uniform with zero biases (DeepOBS: a truncated normal of std 0.05, biases 0.05)."""
    rng = B.np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2D(in_channels, 32, 5, padding="same", rng=rng),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Conv2D(32, 64, 5, padding="same", rng=rng),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(64 * 7 * 7, 1024, rng=rng),
        nn.ReLU(),
        nn.Dense(1024, num_classes, rng=rng),
    )


def random_rotation(dim: int, rng) -> "B.np.ndarray":
    """A rotation matrix drawn uniformly (Haar measure) from SO(dim) by the subgroup algorithm
    of Diaconis and Shahshahani (1987), drawing from ``rng`` (a ``numpy.random.RandomState``)
    in the order DeepOBS draws, so the same seed gives DeepOBS's matrix.

    Start from a random 2-D rotation; to go from dimension d to d + 1, embed the rotation as
    ``diag(1, R)``, draw a unit vector v uniformly on the sphere and reflect with the
    Householder vector ``x = (e_1 - v) / |e_1 - v|``: ``R <- D - 2 x (x^T D)``.  The sign of
    the result is flipped at the end (as DeepOBS does)."""
    np = B.np
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
        raise ValueError(f"random_rotation: dim must be an int >= 2, got {dim!r}")
    angle = 2 * np.pi * rng.uniform()
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    for d in range(2, dim):
        v = rng.normal(size=(d + 1, 1))
        v = v / np.sqrt(v.T @ v)
        e1 = np.zeros((d + 1, 1))
        e1[0, 0] = 1.0
        x = (e1 - v) / np.sqrt((e1 - v).T @ (e1 - v))
        embedded = np.zeros((d + 1, d + 1))
        embedded[0, 0] = 1.0
        embedded[1:, 1:] = rotation
        rotation = embedded - 2 * np.outer(x, x.T @ embedded)
    return -rotation


def deepobs_quadratic_hessian(seed: int = 42, dim: int = 100):
    """DeepOBS's ``quadratic_deep`` Hessian: ``Q = R^T diag(lambda) R``, with 90% of the
    eigenvalues ``lambda`` uniform in (0, 1) and 10% uniform in (30, 60) (the spectrum reported
    for deep networks, arXiv:1611.01838), and a random rotation R, all drawn from
    ``numpy.random.RandomState(seed)`` in DeepOBS's order: fixed properties of the problem,
    the same for every run seed."""
    np = B.np
    rng = np.random.RandomState(seed)
    small = dim * 9 // 10
    eigenvalues = np.concatenate((rng.uniform(0.0, 1.0, small), rng.uniform(30.0, 60.0, dim - small)))
    rotation = random_rotation(dim, rng)
    return rotation.T @ np.diag(eigenvalues) @ rotation, eigenvalues


def quadratic_deep(dim: int = 100) -> nn.Module:
    """DeepOBS's noisy quadratic: ``0.5 (theta - x)^T Q (theta - x)`` with theta (100 values)
    starting at 1.0 and Q from :func:`deepobs_quadratic_hessian` (100 parameters)."""
    hessian, _ = deepobs_quadratic_hessian(dim=dim)
    return nn.QuadraticForm(hessian, init=1.0)
