"""evaluate: mean loss and accuracy of a model on a dataset, in eval mode, with no graph kept."""
from __future__ import annotations

from typing import NamedTuple

from minidl import backend as B
from minidl import ops
from minidl.data import DataLoader
from minidl.tensor import no_grad
from minidl.train import checks


class EvalResult(NamedTuple):
    """``evaluate``'s answer: mean loss over the examples, and the fraction classified right."""

    loss: float
    accuracy: float


def evaluate_dataset(model, dataset, batch_size, loss=ops.softmax_cross_entropy) -> EvalResult:
    """``evaluate`` without the checks (fit checked everything before training)."""
    was_training = model.training
    model.eval()
    means, corrects, sizes = [], [], []
    try:
        with no_grad():
            for x, y in DataLoader(dataset, batch_size, shuffle=False):
                logits = model(x)
                means.append(loss(logits, y).data)
                corrects.append((logits.data.argmax(axis=1) == y).sum())
                sizes.append(y.shape[0])
    finally:
        model.train(was_training)
    xp = B.get_array_module(means[0])
    means = B.to_numpy(xp.stack(means)).astype(B.np.float64)   # one device-to-host copy
    correct = int(B.to_numpy(xp.stack(corrects)).sum())
    n = sum(sizes)
    return EvalResult(float((means * B.np.asarray(sizes, dtype=B.np.float64)).sum() / n), correct / n)


def evaluate(model, data, batch_size: int = 256, *, loss=ops.softmax_cross_entropy,
             optimizer=None) -> EvalResult:
    """Mean loss and accuracy of ``model`` on ``data``, in eval mode (dropout off), with no graph kept.

    ``data``: an ArrayDataset or an ``(images, labels)`` pair.  ``loss``: a callable
    ``(logits, labels) -> scalar Tensor`` giving a batch's mean loss (default: softmax
    cross-entropy); the result is its mean over the examples.  The accuracy is the fraction
    of examples whose largest logit is their label.  ``optimizer``: when given, its
    ``eval()`` is called before and its ``train()`` after (an optimizer that evaluates at
    another point than it trains, like Schedule-Free AdamW, moves the weights there).
    The model's train/eval mode is restored afterwards.  Returns ``EvalResult(loss, accuracy)``.
    """
    checks.check_model(model, "evaluate")
    if optimizer is not None:
        checks.check_optimizer(optimizer, model, "evaluate")
    checks.check_loss(loss, "evaluate")
    dataset = checks.as_dataset(data, "data", "evaluate")
    checks.int_arg(batch_size, "batch_size", 1, "evaluate")
    checks.check_labels(dataset, checks.output_classes(model, dataset, "data", "evaluate"), "data", "evaluate")
    checks.check_loss_output(model, dataset, loss, "data", "evaluate")
    if optimizer is None:
        return evaluate_dataset(model, dataset, batch_size, loss)
    optimizer.eval()
    try:
        return evaluate_dataset(model, dataset, batch_size, loss)
    finally:
        optimizer.train()
