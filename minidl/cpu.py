"""How minidl uses the CPU: worker threads for elementwise work, and denormal flushing.

Two things NumPy does not do for us:

* **Threads.**  BLAS (the matrix products) already runs on every core; NumPy's
  elementwise operations run on one.  NumPy releases the GIL inside them, so plain
  Python threads can run them in parallel on separate parts of an array.
  ``parallel_map(fn, items)`` runs ``fn`` over ``items`` on a small thread pool
  (the calling thread takes the first item).  ``num_threads()`` is how many threads
  take part: ``MINIDL_NUM_THREADS`` if set, else the CPUs this process may use;
  ``set_num_threads(n)`` changes it (1 runs everything in the calling thread).
  ``submit(fn, *args)`` runs one function in the background (the dropout layers
  draw their next mask this way while the step goes on).

* **Denormal numbers.**  Floats below ~1.2e-38 (float32) are "subnormal"; x86 CPUs
  compute with them 10-100 times slower than with normal numbers.  Training produces
  them: Adam's second moment ``v`` of a weight whose gradient is ~1e-20 decays into
  that range, and on the article's CNN about 10% of the dense layer's ``v`` is
  subnormal after ~700 steps, which made those steps 50% slower (measured,
  docs/performance.md).  ``flush_denormals()`` is a context manager that sets the
  CPU's flush-to-zero and denormals-are-zero modes (x86 MXCSR FTZ|DAZ, ARM FPCR FZ)
  for the calling thread (``parallel_map``'s workers follow the caller) and restores
  the previous mode on exit.  Inside it, a result or operand below the smallest
  normal number is taken as zero (the sign kept).  TensorFlow (hence the article's
  Keras) trains with these modes on by default; PyTorch offers them as
  ``torch.set_flush_denormal(True)``.  ``minidl.train.fit`` uses them unless told
  not to (``flush_denormals=False``).  Where the platform's modes cannot be set
  (not Linux on x86-64 or AArch64), ``flush_denormals()`` does nothing and
  ``denormal_flushing_supported()`` says False.

This module imports no array library: the work handed to ``parallel_map`` does.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["num_threads", "set_num_threads", "parallel_map", "submit", "split_range",
           "flush_denormals", "denormals_flushed", "denormal_flushing_supported"]


# ------------------------------------------------------------------ threads
def _default_threads() -> int:
    env = os.environ.get("MINIDL_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"MINIDL_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"MINIDL_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_threads = _default_threads()
_pool = None
_pool_lock = threading.Lock()


def num_threads() -> int:
    """How many threads ``parallel_map`` uses (the calling thread included)."""
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


def _get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="minidl")
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


def parallel_map(fn, items) -> list:
    """``[fn(item) for item in items]``, the items shared among ``num_threads()`` threads.

    The calling thread runs the first item; the others go to the pool.  Each worker
    runs with the caller's denormal mode.  ``fn`` must only write to memory no other
    item writes.  An exception in any item is raised here (after all have finished).
    """
    items = list(items)
    if len(items) <= 1 or _threads == 1 or threading.current_thread().name.startswith("minidl"):
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
    """Run ``fn(*args)`` on a pool thread (with the caller's denormal mode); returns its Future,
    or None when there is no other thread to run it (``num_threads() == 1``)."""
    if _threads == 1:
        return None
    return _get_pool().submit(_in_callers_mode(fn), *args)


def _in_callers_mode(fn):
    """``fn`` wrapped to run, on whatever thread, in the calling thread's denormal mode."""
    mode = denormals_flushed()

    def run(*args):
        if denormals_flushed() != mode:
            _set_thread_flush(mode)
        return fn(*args)

    return run


# -------------------------------------------------------- denormal flushing

class _FPEnv:
    """Reads and writes the floating-point control register through libc's fegetenv/fesetenv."""

    def __init__(self):
        self.libm = None
        self.size = 0
        machine = platform.machine().lower()
        if not sys.platform.startswith("linux"):
            return
        # glibc's fenv_t: x86-64 = the x87 environment (28 bytes) then MXCSR (offset 28);
        # AArch64 = {unsigned int fpcr; unsigned int fpsr;}
        if machine in ("x86_64", "amd64"):
            self.size, self.offset, self.bits = 32, 28, 0x8040      # MXCSR: FTZ (bit 15) | DAZ (bit 6)
        elif machine in ("aarch64", "arm64"):
            self.size, self.offset, self.bits = 8, 0, 1 << 24       # FPCR: FZ (bit 24)
        else:  # pragma: no cover - other machines
            return
        try:
            self.libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
            self.libm.fegetenv.argtypes = self.libm.fesetenv.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):  # pragma: no cover
            self.libm = None

    def get(self) -> bool:
        env = ctypes.create_string_buffer(self.size)
        self.libm.fegetenv(env)
        return bool(struct.unpack_from("<I", env.raw, self.offset)[0] & self.bits)

    def set(self, flushed: bool) -> None:
        env = ctypes.create_string_buffer(self.size)
        self.libm.fegetenv(env)
        word = struct.unpack_from("<I", env.raw, self.offset)[0]
        word = word | self.bits if flushed else word & ~self.bits
        struct.pack_into("<I", env, self.offset, word)
        if self.libm.fesetenv(env) != 0:  # pragma: no cover
            raise OSError("fesetenv failed: the CPU's denormal mode could not be set")


_fpenv = _FPEnv()


def denormal_flushing_supported() -> bool:
    """True where ``flush_denormals`` can set the CPU's modes (Linux on x86-64 or AArch64)."""
    return _fpenv.libm is not None


def denormals_flushed() -> bool:
    """Whether the calling thread computes with denormals flushed to zero."""
    return _fpenv.get() if denormal_flushing_supported() else False


def _set_thread_flush(flushed: bool) -> None:
    if denormal_flushing_supported():
        _fpenv.set(flushed)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True):
    """Within the block, the calling thread flushes denormals to zero (``enabled=True``)
    or computes with them (``enabled=False``); the previous mode comes back on exit."""
    if not denormal_flushing_supported():
        yield
        return
    before = denormals_flushed()
    if before != enabled:
        _set_thread_flush(enabled)
    try:
        yield
    finally:
        if before != enabled:
            _set_thread_flush(before)
