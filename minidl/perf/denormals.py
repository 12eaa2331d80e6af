"""Flushing subnormal floats to zero: why minidl does it, and how.

**Why.**  Floats below the smallest normal number (about 1.2e-38 in float32) are
"subnormal"; x86 CPUs compute with them 10 to 100 times slower than with normal numbers.
Training makes them: Adam's second moment ``v`` of a weight whose gradient is about 1e-20
decays into that range, and on the article's CNN about 5% of the dense layer's ``m`` and
``v`` are subnormal after about 700 steps, which makes those steps 30-40% slower
(``python benchmarks/denormals.py``; docs/performance.md).  TensorFlow, hence the
article's Keras, trains with the CPU's flush-to-zero and denormals-are-zero modes on by
default; PyTorch offers them as ``torch.set_flush_denormal(True)``.  In those modes an
operand or result below the smallest normal number is taken as zero (its sign kept), which
changes a result only where it is already 1e-38 from zero.

**How.**  The modes are bits of a per-thread control register: MXCSR's FTZ (bit 15) and
DAZ (bit 6) on x86-64 (Intel SDM vol. 1, 10.2.3), FPCR's FZ (bit 24) on AArch64 (Arm ARM,
C5.2.8).  C programs set them through the C99 ``fegetenv``/``fesetenv`` functions of
``<fenv.h>``, whose ``fenv_t`` glibc declares in ``<bits/fenv.h>``; ``_FEnv`` below is that
declaration as a ``ctypes.Structure``, field for field, and this module calls the two
functions of the C library through ``ctypes``.  At import the structure's size and the
register's offset are compared with the values the header gives (``SIZE`` and ``OFFSET``,
copied from it: 32 and 28 bytes on x86-64, 8 and 0 on AArch64), which catches a mistake in
the declaration but not a C library of another layout; where they differ, or on another
platform, ``supported()`` is False and ``flush()`` does nothing.

``flush(True)`` is a context manager for the calling thread; the threads of
``threads.py`` take the mode of the thread that hands them work.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import sys

__all__ = ["supported", "flushed", "flush", "set_thread_mode"]


class _FEnvX86_64(ctypes.Structure):
    """glibc's ``fenv_t`` on x86-64 (sysdeps/x86/fpu/bits/fenv.h): the x87 environment, then MXCSR.

    The header's ``unsigned int __opcode:11, __glibc_reserved4:5`` bit-fields share the
    4-byte unit of ``__cs_selector`` under the x86-64 ABI (bytes 18-19); ctypes starts a new
    unit for a ``c_uint`` bit-field, so they are declared on a ``c_ushort``, the same two bytes.
    """

    _fields_ = [("control_word", ctypes.c_ushort), ("reserved1", ctypes.c_ushort),
                ("status_word", ctypes.c_ushort), ("reserved2", ctypes.c_ushort),
                ("tags", ctypes.c_ushort), ("reserved3", ctypes.c_ushort),
                ("eip", ctypes.c_uint), ("cs_selector", ctypes.c_ushort),
                ("opcode", ctypes.c_ushort, 11), ("reserved4", ctypes.c_ushort, 5),
                ("data_offset", ctypes.c_uint), ("data_selector", ctypes.c_ushort),
                ("reserved5", ctypes.c_ushort), ("mxcsr", ctypes.c_uint)]
    SIZE, REGISTER, OFFSET, BITS = 32, "mxcsr", 28, (1 << 15) | (1 << 6)      # FTZ | DAZ


class _FEnvAArch64(ctypes.Structure):
    """glibc's ``fenv_t`` on AArch64 (sysdeps/aarch64/bits/fenv.h)."""

    _fields_ = [("fpcr", ctypes.c_uint), ("fpsr", ctypes.c_uint)]
    SIZE, REGISTER, OFFSET, BITS = 8, "fpcr", 0, 1 << 24                     # FZ


def _load():
    machine = platform.machine().lower()
    layout = {"x86_64": _FEnvX86_64, "amd64": _FEnvX86_64,
              "aarch64": _FEnvAArch64, "arm64": _FEnvAArch64}.get(machine)
    if (not sys.platform.startswith("linux") or layout is None or ctypes.sizeof(layout) != layout.SIZE
            or getattr(layout, layout.REGISTER).offset != layout.OFFSET):
        return None, None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        for fn in (libm.fegetenv, libm.fesetenv):
            fn.argtypes, fn.restype = [ctypes.POINTER(layout)], ctypes.c_int
    except (OSError, AttributeError):  # pragma: no cover - no C library here
        return None, None
    return libm, layout


_libm, _Layout = _load()


def supported() -> bool:
    """True where the modes can be set (Linux with glibc on x86-64 or AArch64)."""
    return _libm is not None


def _read():
    env = _Layout()
    _libm.fegetenv(ctypes.byref(env))
    return env


def flushed() -> bool:
    """Whether the calling thread flushes subnormals to zero."""
    return supported() and bool(getattr(_read(), _Layout.REGISTER) & _Layout.BITS)


def set_thread_mode(on: bool) -> None:
    """Set the calling thread's mode (no-op where unsupported)."""
    if not supported():
        return
    env = _read()
    word = getattr(env, _Layout.REGISTER)
    setattr(env, _Layout.REGISTER, word | _Layout.BITS if on else word & ~_Layout.BITS)
    if _libm.fesetenv(ctypes.byref(env)) != 0:  # pragma: no cover
        raise OSError("fesetenv failed: the CPU's denormal mode could not be set")


@contextlib.contextmanager
def flush(on: bool = True):
    """Within the block the calling thread flushes subnormals to zero (``on=True``) or
    computes with them (``on=False``); the previous mode comes back on exit."""
    before = flushed()
    if before != on:
        set_thread_mode(on)
    try:
        yield
    finally:
        if before != on:
            set_thread_mode(before)
