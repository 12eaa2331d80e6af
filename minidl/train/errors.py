"""``Diverged``: how ``fit`` reports a run whose loss or optimizer went non-finite."""
from __future__ import annotations


class Diverged(FloatingPointError):
    """Training went non-finite: the loss was NaN or Inf, or the optimizer refused a step.

    Attributes:

    * ``step``: the global index of the step where it happened (counting from 0 over the
      whole run, as ``on_step_end`` and ``History.step_loss`` do);
    * ``epoch``: the epoch of that step;
    * ``what``: ``"loss"`` when the loss was NaN or Inf (that step's update was not
      applied), else the optimizer's message, which names the parameter and the state;
    * ``loss``: the step's loss as read back (NaN or Inf when ``what == "loss"``);
    * ``history``: the History up to that point: the rows of the completed epochs, and
      ``step_loss`` with every step's loss up to and including this one (``step + 1``
      values), so a figure can draw the run up to the divergence.

    The weights are left as the optimizer left them (an optimizer changes nothing on a
    non-finite gradient).  When the optimizer raised, its FloatingPointError is this
    exception's ``__cause__``.  A subclass of FloatingPointError, so code that caught the
    optimizer's error still catches it.
    """

    def __init__(self, step: int, epoch: int, what: str, history=None, loss: float = float("nan")):
        self.step, self.epoch, self.what, self.history, self.loss = step, epoch, what, history, loss
        if what == "loss":
            detail = f"the training loss is {loss} (this step's update was not applied)"
        else:
            detail = what
        super().__init__(f"fit: training diverged at step {step} (epoch {epoch}): {detail}")

    def __reduce__(self):   # picklable (worker processes send it back)
        return (type(self), (self.step, self.epoch, self.what, self.history, self.loss))


class NonFiniteStep(FloatingPointError):
    """Raised by ``train_step`` inside fit; fit turns it into a Diverged with the run's context."""

    def __init__(self, what: str, loss: float):
        super().__init__(what)
        self.what, self.loss = what, loss
