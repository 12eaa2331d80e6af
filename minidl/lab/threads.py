"""How many CPU threads one run may use: BLAS's (through threadpoolctl) and minidl's own.

The one place that knows where minidl's thread setting lives (``minidl.perf.threads``), so a
move of it changes one import.  Limits are set through the libraries' APIs, in the running
process, never through environment variables set after the libraries were loaded.
"""
from __future__ import annotations

import os

from minidl.perf.threads import num_threads as _minidl_threads
from minidl.perf.threads import set_num_threads as _set_minidl_threads


def available_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def share_of_cores(workers: int) -> int:
    """Threads per run when ``workers`` runs share this machine: its cores split evenly, at least 1."""
    return max(1, available_cores() // max(1, workers))


def limit_threads(threads: int) -> None:
    """From now on, this process's BLAS and minidl's elementwise work use ``threads`` threads."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads per run must be an integer >= 1, got {threads!r}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")   # kept in force: not used as a context
    _set_minidl_threads(threads)


def thread_info() -> dict:
    """What this process uses now: minidl's threads and each BLAS library's (for the records)."""
    try:
        from threadpoolctl import threadpool_info

        blas = [{"library": i.get("internal_api"), "threads": i.get("num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        blas = []
    return {"minidl": _minidl_threads(), "blas": blas}
