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
