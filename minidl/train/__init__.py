"""Training: ``fit``, ``evaluate``, the ``History`` they record, callbacks and checkpoints.

    from minidl import models, optim
    from minidl.data import load_dataset
    from minidl.train import fit, evaluate

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    model = models.mnist_cnn(seed=0)
    opt = optim.create("adam", model.parameters())
    history = fit(model, opt, train, test, epochs=2, batch_size=64, checkpoint_path="run.npz", resume=True)
    print(evaluate(model, test))          # EvalResult(loss=..., accuracy=...)
"""
from minidl.train.callbacks import Callback, LambdaCallback
from minidl.train.checkpoint import Checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from minidl.train.fit import EvalResult, evaluate, fit
from minidl.train.history import History

__all__ = ["fit", "evaluate", "EvalResult", "History", "Callback", "LambdaCallback",
           "save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint"]
