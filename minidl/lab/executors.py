"""Executors: where many runs train, one interface for every command that runs many trainings.

``executor.run(fn, configs)`` calls the picklable, module-level ``fn`` on each configuration
and yields ``(index, result)`` as each one finishes, in the order they finish.  ``result`` is
what ``fn`` returned, or a :class:`RunLost` when its worker died (local worker processes
retry such a run once first; Dask retries it on another worker by its own rules).  Results
come back to the calling process, which alone writes files: workers need no shared disk.

* :class:`InProcess`: one run after another in this process (``--workers 1``).
* :class:`LocalProcesses`: ``--workers N`` worker processes (``forkserver`` start where the
  platform has it, else ``spawn``; never ``fork``), each limited to ``threads`` threads
  (by default its share of the cores).  Ctrl-C stops them at once.
* :class:`DaskExecutor`: an existing Dask distributed scheduler (``tcp://host:8786``) or a
  ``LocalCluster`` of N single-threaded worker processes (``"local"``).  Needs the
  ``cluster`` extra (``pip install minidl[cluster]``).

Use an executor as a context manager (``with make_executor(...) as ex:``) so its workers
are stopped however the block ends.
"""
from __future__ import annotations

import collections
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import threading
import warnings
from multiprocessing.connection import wait

from minidl.lab.threads import available_cores, limit_threads, share_of_cores


class RunLost(Exception):
    """A run whose worker died (or that an executor could not run): no record exists."""


class Executor:
    name = "executor"
    workers = 1

    def run(self, fn, configs):  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class InProcess(Executor):
    """Each run in this process, one after another (threads as they are, unless given)."""

    name = "in-process"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(self, fn, configs):
        if self.threads is not None:
            limit_threads(self.threads)
        for index, config in enumerate(configs):
            yield index, fn(config)

    def describe(self) -> str:
        return f"this process ({self.threads or 'default'} threads)"


# ------------------------------------------------------------------ local worker processes
def _worker_main(conn, threads: int) -> None:
    """A worker process: runs ``(index, fn, config)`` messages until ``None`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    limit_threads(threads)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, fn, config = message
        try:
            reply = (index, True, fn(config))
        except BaseException as exc:  # noqa: BLE001 - sent back, the parent decides
            reply = (index, False, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class _Worker:
    def __init__(self, context, threads):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads), daemon=True)
        self.process.start()
        child.close()
        self.task = None   # (index, config) while busy

    def stop(self, timeout: float = 2.0) -> None:
        """Ask an idle worker to end; a busy one (Ctrl-C, an error) is terminated at once."""
        if self.process.is_alive() and self.task is None:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        self.conn.close()


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class LocalProcesses(Executor):
    """``workers`` worker processes on this machine, each with ``threads`` threads."""

    name = "local processes"

    def __init__(self, workers: int, threads: int | None = None, retries: int = 1):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"--workers must be a positive integer, got {workers!r}")
        self.workers = workers
        self.threads = threads or share_of_cores(workers)
        self.retries = retries
        self._context = _context()
        self._pool: list = []

    def describe(self) -> str:
        return f"{self.workers} local worker processes x {self.threads} thread{'s' if self.threads > 1 else ''}"

    def run(self, fn, configs):
        pending = collections.deque(enumerate(configs))
        deaths = collections.Counter()
        busy = {}
        while pending or busy:
            while pending and len(busy) < self.workers:
                worker = self._idle_worker(busy)
                index, config = pending.popleft()
                worker.task = (index, config)
                worker.conn.send((index, fn, config))
                busy[worker.conn] = worker
            ready = wait(list(busy) + [w.process.sentinel for w in busy.values()])
            for worker in {w for w in busy.values() if w.conn in ready or w.process.sentinel in ready}:
                outcome = self._collect(worker)
                del busy[worker.conn]
                if outcome is not None:
                    yield outcome
                    continue
                index, config = worker.task
                deaths[index] += 1
                self._pool.remove(worker)
                worker.stop()
                code = worker.process.exitcode
                if deaths[index] <= self.retries:
                    pending.appendleft((index, config))
                else:
                    yield index, RunLost(f"its worker process died {deaths[index]} times "
                                         f"(last exit code {code}); no record was written")

    def _idle_worker(self, busy):
        for worker in self._pool:
            if worker.task is None and worker.process.is_alive():
                return worker
        worker = _Worker(self._context, self.threads)
        self._pool.append(worker)
        return worker

    @staticmethod
    def _collect(worker):
        """The worker's reply ``(index, result)``, or None when it died without one."""
        try:
            if not worker.conn.poll():
                return None
            index, ok, value = worker.conn.recv()
        except (EOFError, OSError):
            return None
        worker.task = None
        return index, (value if ok else RunLost(f"the worker could not run it: {value}"))

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()
        self._pool.clear()


# ------------------------------------------------------------------ Dask
_ONE_RUN_AT_A_TIME = threading.Lock()
#: seconds to wait for a Dask scheduler to answer
CONNECT_TIMEOUT = 10.0


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # glibc's mallopt parameters
_malloc_tuned = False


def _keep_freed_memory() -> None:
    """Undo, in this process, the ``MALLOC_TRIM_THRESHOLD_=65536`` that Dask's nanny gives its
    workers (it suits dataframes).  With it glibc maps every array over 128 KB afresh and unmaps
    it when freed, so each elementwise op of a training step page-faults through new memory
    (a 1M-element ``x * 0.5 + 1`` took 20x as long, a run of the CNN twice as long: see
    docs/performance.md).  A run allocates the same temporaries every step: keep them (memory
    is trimmed above 256 MB free, arrays above 32 MB mapped)."""
    global _malloc_tuned
    if _malloc_tuned or not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    _malloc_tuned = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_TRIM_THRESHOLD, 256 * 1024 * 1024)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _on_dask_worker(fn, config, threads):
    """Run ``fn(config)`` on a Dask worker: one run at a time per process (minidl's backend,
    dtype and thread settings are per process), with its share of the worker's cores."""
    with _ONE_RUN_AT_A_TIME:
        _keep_freed_memory()
        if threads is None:
            try:
                from distributed import get_worker

                threads = share_of_cores(get_worker().state.nthreads)
            except (ImportError, ValueError, AttributeError):
                threads = available_cores()
        limit_threads(threads)
        return fn(config)


class DaskExecutor(Executor):
    """Runs on a Dask distributed cluster: ``address`` ``tcp://host:port`` or ``"local"``."""

    name = "dask"

    def __init__(self, address: str, workers: int = 1, threads: int | None = None, timeout: float | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("--scheduler needs Dask distributed: pip install 'minidl[cluster]'") from None
        self.address, self.threads, self.cluster = address, threads, None
        try:
            if address == "local":
                self.workers = workers
                self.threads = threads or share_of_cores(workers)
                with warnings.catch_warnings():   # "port 8787 in use": its HTTP server moves, harmless
                    warnings.filterwarnings("ignore", message="Port .* is already in use")
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout=f"{timeout or CONNECT_TIMEOUT}s")
                self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ValueError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None

    def describe(self) -> str:
        where = "a local Dask cluster" if self.cluster is not None else f"the Dask scheduler {self.address}"
        return f"{where} ({self.workers} workers)"

    def run(self, fn, configs):
        from distributed import as_completed

        futures = {}
        for index, config in enumerate(configs):
            future = self.client.submit(_on_dask_worker, fn, config, self.threads, pure=False)
            futures[future] = index
        try:
            for future in as_completed(futures):
                index = futures[future]
                try:
                    yield index, future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker and the like
                    yield index, RunLost(f"Dask could not run it: {type(exc).__name__}: {exc}")
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                self.client.cancel(pending)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(workers: int = 1, scheduler: str | None = None, threads: int | None = None) -> Executor:
    """The executor the options ``--workers``, ``--scheduler`` and ``--threads`` ask for."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be a positive integer, got {workers!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"--threads must be a positive integer, got {threads!r}")
    if scheduler:
        return DaskExecutor(scheduler, workers, threads)
    if workers == 1:
        return InProcess(threads)
    return LocalProcesses(workers, threads)
