r"""Learning-rate schedules with torch.optim.lr_scheduler's names, arguments and rules (torch 2.13).

    opt = optim.SGD(params, lr=0.1)
    sched = schedules.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(10):
        train_one_epoch(opt)       # opt.step() per batch
        sched.step()               # once per epoch (or per batch, if you like)

A schedule is built on an optimizer and writes ``group["lr"]`` of its param groups when it is
built (step 0) and at every ``step()``.  ``b`` is a group's base lr (its lr when the first
schedule was built on the optimizer), ``t`` the number of ``step()`` calls so far:

==============================================  =========================================================
``StepLR(opt, step_size, gamma=0.1)``           ``b * gamma^(t // step_size)``
``MultiStepLR(opt, milestones, gamma=0.1)``     ``b * gamma^(number of milestones <= t)``
``ConstantLR(opt, factor=1/3, total_iters=5)``  ``b * factor`` while ``t < total_iters``, then ``b``
``LinearLR(opt, start_factor=1/3,``             ``b * (s + (e - s) * min(t, T) / T)``
``end_factor=1, total_iters=5)``
``LinearWarmup(opt, warmup_steps, 0.1)``        ``b * (s + (1 - s) * min(t, W) / W)`` (minidl's; from ``b``)
``ExponentialLR(opt, gamma)``                   ``b * gamma^t``
``PolynomialLR(opt, total_iters=5, power=1)``   ``b * (1 - min(t, T) / T)^power``
``CosineAnnealingLR(opt, T_max, eta_min=0)``    ``eta_min + (b - eta_min) * (1 + cos(pi t / T_max)) / 2``
``CosineAnnealingWarmRestarts(opt, T_0, ...)``  the same within each cycle of ``T_i`` steps, ``T_i = T_0 T_mult^k``
``LambdaLR(opt, lr_lambda)``                    ``b * lr_lambda(t)``
``MultiplicativeLR(opt, lr_lambda)``            ``lr_{t-1} * lr_lambda(t)``
``OneCycleLR(opt, max_lr, total_steps)``        up to ``max_lr``, down to ``max_lr / 25e4``; momentum inversely
``CyclicLR(opt, base_lr, max_lr, ...)``         triangles between ``base_lr`` and ``max_lr``; momentum inversely
``ReduceLROnPlateau(opt, ...)``                 ``lr * factor`` after ``patience`` epochs without improvement
``SequentialLR(opt, schedulers, milestones)``   one schedule after another
``ChainedScheduler(schedulers)``                all at once, their factors multiplied
==============================================  =========================================================

Each class's docstring has its rule exactly as it runs: like torch's, most are recursive
(``lr_t = lr_{t-1} * gamma``), equal to the closed forms above to rounding when a schedule
runs alone, and composable: a ChainedScheduler multiplies their factors, and a change of
``group["lr"]`` by hand lasts.  Every one equals torch's lr at every step
(``tests/test_optim_schedules*.py``, 60 steps).

Warm-up followed by cosine::

    warmup = schedules.LinearLR(opt, start_factor=0.01, total_iters=5)
    sched = schedules.SequentialLR(opt, [warmup, schedules.CosineAnnealingLR(opt, T_max=95)], milestones=[5])

From ``minidl.train.fit``: ``fit(..., schedule=sched)`` steps it once per epoch
(``schedule_interval="step"``: after every optimizer step); a ReduceLROnPlateau gets the epoch's
``monitor`` value (``"val_loss"`` by default).

``state_dict()`` is JSON-able; ``load_state_dict`` checks all of it first and changes nothing on
a bad state; ``from_state_dict(opt, state)`` rebuilds a schedule from its state alone.  Where
torch takes ``last_epoch`` to resume, minidl takes only -1: build the schedule, then load its state.
fit's checkpoints hold the schedule's state; ``fit(..., resume=True)`` resumes every schedule but
ChainedScheduler, LambdaLR and MultiplicativeLR (see ChainedScheduler's note).
"""
from minidl.optim.schedules.base import SCHEDULES, LRScheduler, from_state_dict, initial_lrs
from minidl.optim.schedules.decay import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, LinearWarmup, MultiplicativeLR,
                                          MultiStepLR, PolynomialLR, StepLR)
from minidl.optim.schedules.cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from minidl.optim.schedules.cyclic import CyclicLR, OneCycleLR
from minidl.optim.schedules.plateau import ReduceLROnPlateau
from minidl.optim.schedules.combined import ChainedScheduler, SequentialLR

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "LinearWarmup", "ExponentialLR",
           "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "LambdaLR", "MultiplicativeLR",
           "OneCycleLR", "CyclicLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler", "from_state_dict",
           "initial_lrs", "SCHEDULES"]
