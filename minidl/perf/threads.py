"""Threads: BLAS's (through threadpoolctl) and minidl's own, for the elementwise work.

BLAS (the matrix products) runs on every core it is allowed; NumPy's elementwise
operations run on one.  NumPy releases the GIL inside them, so plain Python threads can run
them in parallel on separate parts of an array: ``parallel_map(fn, items)`` runs ``fn`` over
``items`` on a small pool (the calling thread takes the first item), and ``submit(fn, *args)``
runs one function in the background (the dropout masks drawn ahead, ``masks.py``).

``num_threads()`` is how many threads take part: ``MINIDL_NUM_THREADS`` if set, else the
CPUs this process may use; ``set_num_threads(n)`` changes it (1: everything in the calling
thread).  ``limit(n)`` is a context manager that sets both minidl's threads and BLAS's
(with ``threadpoolctl``, which finds OpenBLAS, MKL or BLIS in the running process) for a
block, e.g. one run of a sweep that shares the machine with others.

OpenBLAS's idle workers spin for about 0.1 s after each product before they sleep; a core
they hold is lost to these threads.  ``OPENBLAS_THREAD_TIMEOUT`` shortens that spin, but
OpenBLAS reads it once, when NumPy loads it: the ``minidl`` command sets it (``minidl/cli/__init__.py``)
before anything imports NumPy; a Python program that wants it sets it before ``import
numpy`` (docs/performance.md).  Nothing here changes a process-wide setting at import.

Every worker runs in the caller's denormal mode (``denormals.py``).
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

from minidl.perf import denormals

__all__ = ["num_threads", "set_num_threads", "limit", "parallel_map", "submit", "split_range"]


def _default_threads() -> int:
    env = os.environ.get("MINIDL_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"MINIDL_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_threads = None          # read from the environment at first use
_pool = None
_pool_lock = threading.Lock()


def num_threads() -> int:
    """How many threads ``parallel_map`` uses (the calling thread included)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (>= 1) for elementwise work; 1 runs it in the calling thread."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an integer >= 1, got {n!r}")
    with _pool_lock:
        if _pool is not None and n != _threads:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = n


@contextlib.contextmanager
def limit(n: int):
    """Within the block, BLAS and minidl's elementwise work each use ``n`` threads."""
    before = num_threads()
    set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        set_num_threads(before)


def _get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=num_threads() - 1, thread_name_prefix="minidl")
        return _pool


def _forget_pool_in_child():
    # a forked child (multiprocessing) has none of the parent's threads: it makes its own pool
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def split_range(n: int, parts: int, align: int = 16):
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``0..n``, near-equal, boundaries
    on multiples of ``align`` (so each part starts on a cache line for 4-byte floats)."""
    parts = max(1, min(parts, n // align or 1))
    bounds = [0] + [((n * i) // parts) // align * align for i in range(1, parts)] + [n]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def _in_callers_mode(fn):
    """``fn`` wrapped to run, on whatever thread, in the calling thread's denormal mode."""
    mode = denormals.flushed()

    def run(*args):
        if denormals.flushed() != mode:
            denormals.set_thread_mode(mode)
        return fn(*args)

    return run


def parallel_map(fn, items) -> list:
    """``[fn(item) for item in items]``, the items shared among ``num_threads()`` threads.

    The calling thread runs the first item; the others go to the pool.  ``fn`` must only
    write to memory no other item writes.  An exception in any item is raised here, after
    all have finished.
    """
    items = list(items)
    if len(items) <= 1 or num_threads() == 1 or threading.current_thread().name.startswith("minidl"):
        return [fn(item) for item in items]
    run = _in_callers_mode(fn)
    futures = [_get_pool().submit(run, item) for item in items[1:]]
    first_error = None
    try:
        results = [fn(items[0])]
    except BaseException as exc:  # noqa: BLE001 - re-raised below, after the workers finish
        first_error, results = exc, [None]
    for fut in futures:
        try:
            results.append(fut.result())
        except BaseException as exc:  # noqa: BLE001
            first_error = first_error or exc
            results.append(None)
    if first_error is not None:
        raise first_error
    return results


def submit(fn, *args):
    """Run ``fn(*args)`` on a pool thread (in the caller's denormal mode); returns its Future,
    or None when there is no other thread to run it (``num_threads() == 1``)."""
    if num_threads() == 1:
        return None
    return _get_pool().submit(_in_callers_mode(fn), *args)
