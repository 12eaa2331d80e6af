"""One training step, with gradient accumulation as its one path.

Exactly what a step runs::

    optimizer.zero_grad()
    for x, y in chunks of the batch (one chunk when the batch has <= max_chunk examples):
        logits = model(x)
        loss = loss_fn(logits, y)                   # the chunk's mean loss
        (loss * n_chunk / n).backward()             # one chunk: loss.backward()
    optimizer.step()

Each chunk's mean loss is weighted by its share of the batch before its backward, so the
gradients add up in ``.grad`` to the gradient of the whole batch's mean loss: full-batch
GD (``batch_size=len(data)``) needs the memory of one chunk, not of the whole set, and
the update is still one optimizer step per batch.  A batch of one chunk backpropagates its
loss as it is (a weight of 1 would change nothing but cost an operation).

The step's loss is read back to the host (one sync per step, needed for the per-step
loss and the divergence check); the count of correct predictions stays on the device.

An optimizer that evaluates the loss more than once per step (``USES_CLOSURE = True``:
LBFGS, as torch users drive it) gets the forward and backward above as a closure,
``optimizer.step(closure)``; the step's loss and accuracy are those of its first evaluation.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from minidl.train.errors import NonFiniteStep


class StepResult(NamedTuple):
    loss: float      # the batch's mean loss
    correct: object  # how many of the batch's examples the model classified right (on the device)
    size: int        # examples in the batch


def batch_size_of(indices) -> int:
    if isinstance(indices, slice):
        return indices.stop - indices.start
    return len(indices)


def chunks(indices, max_chunk: int) -> list:
    """The batch's index sets of at most ``max_chunk`` examples (``[indices]`` when it fits)."""
    n = batch_size_of(indices)
    if n <= max_chunk:
        return [indices]
    if isinstance(indices, slice):
        return [slice(start, min(start + max_chunk, indices.stop))
                for start in range(indices.start, indices.stop, max_chunk)]
    return [indices[start:start + max_chunk] for start in range(0, n, max_chunk)]


def train_step(model, optimizer, dataset, indices, loss_fn, max_chunk: int) -> StepResult:
    """One optimizer step on the examples ``indices`` of ``dataset`` (see the module docstring).

    Raises ``NonFiniteStep`` (a FloatingPointError; fit turns it into ``Diverged``) when
    the loss is NaN or Inf, before the optimizer is stepped, or when the optimizer refuses
    the step with a FloatingPointError (kept as the ``__cause__``).
    """
    n = batch_size_of(indices)
    parts = chunks(indices, max_chunk)
    optimizer.zero_grad()
    value, correct = forward_backward(model, dataset, parts, n, loss_fn)
    if not math.isfinite(value):
        raise NonFiniteStep("loss", value)
    try:
        if getattr(optimizer, "USES_CLOSURE", False):
            optimizer.step(_closure(model, optimizer, dataset, parts, n, loss_fn, value))
        else:
            optimizer.step()
    except FloatingPointError as exc:
        raise NonFiniteStep(str(exc), value) from exc
    return StepResult(value, correct, n)


def forward_backward(model, dataset, parts, n, loss_fn):
    """The batch's mean loss (a float) and its count of correct predictions, with the gradient
    of the batch's mean loss added up in ``.grad`` over the chunks ``parts``."""
    value, correct = 0.0, 0
    for part in parts:
        x, y = dataset.batch(part)
        logits = model(x)
        loss = loss_fn(logits, y)
        weight = y.shape[0] / n
        (loss if len(parts) == 1 else loss * weight).backward()
        correct = correct + (logits.data.argmax(axis=1) == y).sum()   # stays on the device
        value += float(loss.data) * weight                            # the host read of the step
    return value, correct


def _closure(model, optimizer, dataset, parts, n, loss_fn, first_value):
    """The step's forward and backward as a closure; its first call returns what was just
    computed (the gradients are in .grad), later ones compute again at the new weights."""
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == 1:
            return first_value
        optimizer.zero_grad()
        return forward_backward(model, dataset, parts, n, loss_fn)[0]

    return closure
