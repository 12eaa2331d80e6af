"""Training: ``fit``, ``evaluate``, the ``History`` they record, callbacks and checkpoints.

    from minidl import models, optim
    from minidl.data import load_dataset
    from minidl.train import fit, evaluate

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    model = models.mnist_cnn(seed=0)
    opt = optim.create("adam", model.parameters())
    history = fit(model, opt, train, test, epochs=2, batch_size=64, checkpoint_path="run.npz", resume=True)
    print(history.history["val_accuracy"])   # Keras's dict; also history.val_acc
    print(evaluate(model, test))          # EvalResult(loss=..., accuracy=...)

The modules: ``fitting`` (fit: checks, starting point, callbacks, the speed layer's one
place), ``step`` (one training step), ``loop`` (the epochs), ``evaluation`` (evaluate),
``checks`` (the argument checks), ``callbacks`` (the hooks), ``builtin`` (the progress,
printing, schedule and checkpoint callbacks), ``averaging`` (WeightAveraging: an average of the
weights kept during fit), ``checkpoint`` with ``checkpoint_file`` and
``checkpoint_checks`` (save; an all-or-nothing load), ``history``, ``errors`` (Diverged).
No module is named after a function it exports (``minidl.train.fit`` is the function).
"""
from minidl.train.averaging import WeightAveraging
from minidl.train.builtin import EpochPrinter, ModelCheckpoint, ProgressBar, ScheduleStepper
from minidl.train.callbacks import Callback, LambdaCallback
from minidl.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from minidl.train.errors import Diverged
from minidl.train.evaluation import EvalResult, evaluate
from minidl.train.fitting import fit
from minidl.train.history import History

__all__ = ["fit", "evaluate", "EvalResult", "History", "Diverged", "Callback", "LambdaCallback",
           "ProgressBar", "EpochPrinter", "ScheduleStepper", "ModelCheckpoint", "WeightAveraging",
           "save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "CheckpointError"]
