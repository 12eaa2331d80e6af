"""fit: check the arguments, find the starting point, assemble the callbacks, run the epoch loop.

The parts, each in its own module of ``minidl.train``:

* ``checks``    -- every argument checked before anything trains;
* ``step``      -- one training step (gradient accumulation over chunks as its one path);
* ``loop``      -- the epochs: steps, evaluation, History rows, callbacks;
* ``builtin``   -- the progress bar, per-epoch printing, the lr schedule and checkpoints,
  as callbacks;
* ``checkpoint`` -- save, and an all-or-nothing load for ``resume=True``.

The speed layer is switched on in one place, :func:`_speed_layer`.
"""
from __future__ import annotations

import contextlib

from minidl import ops, perf
from minidl.data import DataLoader
from minidl.train import checks
from minidl.train.builtin import builtin_callbacks
from minidl.train.callbacks import CallbackList, check_callbacks
from minidl.train.checkpoint import prepare_load
from minidl.train.history import History
from minidl.train.loop import TrainingRun, run_epochs


@contextlib.contextmanager
def _speed_layer(model, optimizer, enabled: bool, flush_denormals: bool = True):
    """The one place where fit switches the speed layer on; yields ``(model, optimizer)`` to train with.

    What it yields may be other objects than those given (a fused model, an optimizer
    that updates in threads), but they share the given ones' Parameters, layers, param
    groups and state: the steps and the evaluation run on what it yields, while the lr,
    the callbacks, ``state_dict`` and checkpoints are taken from the objects given.
    ``enabled``: ``minidl.perf.accelerated``: the model fused (``perf.fuse``), the optimizer's
    rule run in parts over threads (``perf.split_updates``) and, with ``flush_denormals``, the
    CPU's subnormal floats flushed to zero (``perf.denormals``, which says why); all undone on
    exit.  Not ``enabled``: the plain core, in IEEE arithmetic.
    """
    if not enabled:
        with perf.denormals.flush(False):
            yield model, optimizer
        return
    with perf.accelerated(model, optimizer, flush_denormals=flush_denormals) as fast_model:
        yield fast_model, optimizer


def _loader_state(seed, shuffle, batch_size, drop_last, dataset) -> dict:
    return {"seed": seed, "shuffle": shuffle, "batch_size": batch_size, "drop_last": drop_last,
            "num_examples": len(dataset), "image_shape": list(dataset.image_shape)}


def _resume(path, model, optimizer, schedule, loader_state, initial_epoch):
    """Restore the checkpoint at ``path`` (all of it, or nothing when it does not fit this run);
    return ``(history, initial_epoch)``."""
    plan = prepare_load(path, model, optimizer, schedule)
    ckpt = plan.checkpoint
    saved = ckpt.loader_state or {}
    differ = [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in loader_state.items()
              if saved.get(k) != v]
    if differ:
        raise ValueError(f"fit: cannot resume from {path}, the run's settings differ: " + "; ".join(differ))
    if initial_epoch not in (0, ckpt.epoch):
        raise ValueError(f"fit: initial_epoch={initial_epoch} but {path} is at epoch {ckpt.epoch}")
    history = ckpt.history
    if history is None and ckpt.epoch > 0:
        raise ValueError(f"fit: cannot resume from {path}: it is at epoch {ckpt.epoch} but holds no History, "
                         "so the earlier epochs' records would be lost")
    if history is not None and len(history) and history.epoch[-1] != ckpt.epoch - 1:
        raise ValueError(f"fit: cannot resume from {path}: it is at epoch {ckpt.epoch} but its History "
                         f"ends at epoch {history.epoch[-1]}")
    plan.apply()
    return (history if history is not None else History()), ckpt.epoch


def _starting_history(history, initial_epoch) -> History:
    if history is None:
        return History()
    if not isinstance(history, History):
        raise TypeError(f"fit: history must be a minidl.train.History, got {type(history).__name__}")
    if len(history) and history.epoch[-1] != initial_epoch - 1:
        raise ValueError(f"fit: the given history ends at epoch {history.epoch[-1]}, "
                         f"so initial_epoch must be {history.epoch[-1] + 1}, got {initial_epoch}")
    return history


def fit(model, optimizer, train_data, val_data=None, epochs: int = 1, batch_size: int = 32, *,
        loss=ops.softmax_cross_entropy, callbacks=None, schedule=None, schedule_interval: str = "epoch",
        seed: int = 0, shuffle: bool = True, drop_last: bool = False, verbose: int = 1,
        initial_epoch: int = 0, history: History | None = None, checkpoint_path=None,
        resume: bool = False, eval_batch_size: int = 256, max_chunk: int = 512,
        progress_desc: str | None = None, perf: bool = True, flush_denormals: bool = True) -> History:
    """Train ``model`` with ``optimizer`` on ``train_data`` for epochs ``initial_epoch .. epochs-1``.

    ``train_data`` / ``val_data``: ArrayDataset or ``(images, labels)`` pairs
    (``val_data`` may be None).  The training order of epoch ``e`` is
    ``DataLoader(train_data, batch_size, shuffle, seed, drop_last)`` at
    ``set_epoch(e)``: a pure function of ``(seed, e)``, so a resumed run sees
    the same batches as an uninterrupted one.
    ``loss``: a callable ``(logits, labels) -> scalar Tensor``, the batch's mean loss
    (default: ``minidl.ops.softmax_cross_entropy``); also used for the validation loss.
    Accuracy is the fraction of examples whose largest logit is their label.

    ``verbose``: 0 silent; 1 a tqdm progress bar per epoch (on stderr) with the
    running loss and accuracy; 2 one line per epoch (on stdout).
    ``schedule``: an lr schedule, stepped once per epoch (``schedule_interval=
    "step"``: after every optimizer step); one with a ``monitor`` (``ReduceLROnPlateau``) is
    stepped once per epoch with that entry of the epoch's logs (``"val_loss"`` by default).
    ``callbacks``: Callbacks (Keras's hooks and ``on_step_end``; see
    ``minidl.train.callbacks``), run after fit's own.  ``callback.stop_training = True`` or
    ``callback.model.stop_training = True`` ends the run after that step; the partial
    epoch gets its History row but no checkpoint.
    ``checkpoint_path``: written (atomically) after every completed epoch with
    the model, optimizer, schedule, dropout generators, loader settings, epoch
    and History; its folder must exist and be writable (checked before training).
    ``resume=True``: if that file exists, restore it and go on from its epoch (its
    History is continued); if nothing is at that path, start afresh; a file that cannot
    be read or does not fit this run is an error, and then nothing is changed.
    ``history``: a History to continue (``initial_epoch`` must be its last
    epoch + 1), appended to in place.  Returns the History (``history.history`` is
    Keras's dict).
    ``max_chunk``: a batch larger than this is run forward and backward in
    chunks of at most ``max_chunk`` examples whose gradients add up to the
    batch's (gradient accumulation; see ``minidl.train.step``).

    Divergence: a NaN or Inf loss (before that step's update), or a FloatingPointError of
    the optimizer (a non-finite gradient or state; the optimizer changes nothing then),
    raises :class:`minidl.train.Diverged` with the step, the epoch, what went non-finite
    and the History so far.  The optimizer's ``eval()`` is called before each evaluation
    and its ``train()`` after it and before training.

    ``perf``: train through the speed layer (:func:`_speed_layer`); False runs the plain
    path.  ``flush_denormals`` (with ``perf``): train with the CPU's flush-to-zero /
    denormals-are-zero modes on (``minidl.perf.denormals.flush``; as TensorFlow does by
    default): numbers below ~1.2e-38 count as zero instead of slowing each operation on
    them 10-100 times.  False keeps IEEE subnormal arithmetic.  The modes are restored
    when fit returns.
    """
    checks.check_model(model)
    checks.check_optimizer(optimizer, model)
    checks.check_loss(loss)
    checks.check_options(epochs=epochs, initial_epoch=initial_epoch, eval_batch_size=eval_batch_size,
                         max_chunk=max_chunk, seed=seed, verbose=verbose, perf=perf,
                         flush_denormals=flush_denormals, schedule=schedule, schedule_interval=schedule_interval)
    checks.check_checkpoint_options(checkpoint_path, resume, history)
    callbacks = check_callbacks(callbacks)
    train, val = checks.check_data(model, train_data, val_data, batch_size, drop_last, loss)
    checks.check_schedule_monitor(schedule, val)
    if checkpoint_path is not None:
        checkpoint_path = checks.check_checkpoint_path(checkpoint_path)

    loader_state = _loader_state(seed, shuffle, batch_size, drop_last, train)
    if resume and checks.checkpoint_exists(checkpoint_path):
        history, initial_epoch = _resume(checkpoint_path, model, optimizer, schedule, loader_state, initial_epoch)
    history = _starting_history(history, initial_epoch)
    if initial_epoch > epochs:
        raise ValueError(f"fit: initial_epoch {initial_epoch} is past epochs {epochs}")

    loader = DataLoader(train, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    callbacks = CallbackList(builtin_callbacks(verbose, progress_desc, schedule, schedule_interval,
                                               checkpoint_path, loader_state) + callbacks, model)
    callbacks.setup(model, optimizer, history, {"epochs": epochs, "steps": len(loader), "verbose": verbose})
    model.stop_training = False
    with _speed_layer(model, optimizer, perf, flush_denormals) as (train_model, train_optimizer):
        run = TrainingRun(model=model, optimizer=optimizer, train_model=train_model,
                          train_optimizer=train_optimizer, train=train, val=val, loader=loader, loss=loss,
                          max_chunk=max_chunk, eval_batch_size=eval_batch_size, history=history,
                          initial_epoch=initial_epoch, epochs=epochs)
        run_epochs(run, callbacks)
    return history
