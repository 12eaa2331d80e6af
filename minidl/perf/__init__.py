"""minidl.perf: everything that exists only for speed, in one place beside the core.

Nothing in the core (``tensor``, ``ops``, ``nn``, ``optim``, ``data``) imports this package:
the core is the readable definition, and every fast path here is tested equal to it
(bitwise, ``tests/test_perf_parity.py``).  ``fit``, ``minidl compare`` and the benchmarks
switch it on by default; ``fit(..., perf=False)`` and ``--no-perf`` switch it off.

* ``fuse(model)``: an equivalent model whose forward runs Conv2D -> ReLU -> MaxPool2D
  (-> Dropout) as one op and draws dropout masks ahead in a background thread (``fusion.py``,
  ``conv_block.py``, ``masks.py``);
* ``split_updates(optimizer)``: the optimizer's own rule run on parts of each large
  parameter, one per thread (``updates.py``);
* ``threads``: minidl's threads for elementwise work (``MINIDL_NUM_THREADS``) and BLAS's
  (through threadpoolctl);
* ``denormals.flush()``: the CPU's flush-to-zero mode, and why (``denormals.py``);
* ``accelerated(model, optimizer)``: all of it for the duration of a block, as ``fit`` uses it::

      with perf.accelerated(model, optimizer) as fast_model:
          ...train fast_model with optimizer...     # same Parameters, same results
"""
from __future__ import annotations

import contextlib

from minidl.perf import denormals, threads
from minidl.perf.fusion import FusedSequential, fuse, unfuse
from minidl.perf.threads import num_threads, set_num_threads
from minidl.perf.updates import plain_updates, split_updates

__all__ = ["fuse", "unfuse", "FusedSequential", "split_updates", "plain_updates", "accelerated",
           "threads", "denormals", "num_threads", "set_num_threads"]


@contextlib.contextmanager
def accelerated(model, optimizer=None, flush_denormals: bool = True):
    """Within the block: the model fused (yielded), the optimizer's rule split over threads,
    subnormal floats flushed (unless ``flush_denormals=False``); all undone on exit."""
    split = optimizer is not None and "update" not in vars(optimizer)
    if split:
        split_updates(optimizer)
    try:
        with denormals.flush(flush_denormals):
            yield fuse(model)
    finally:
        if split:
            plain_updates(optimizer)
