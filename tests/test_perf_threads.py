"""minidl.perf.threads and minidl.perf.denormals: the elementwise thread pool, BLAS limits, denormal flushing."""
import threading

import numpy as np
import pytest

from minidl import backend as B
from minidl import models, ops, optim
from minidl.perf import denormals, threads
from minidl.train import Callback, fit

needs_flush = pytest.mark.skipif(not denormals.supported(),
                                 reason="the CPU's denormal modes cannot be set on this platform")


@pytest.fixture
def set_threads():
    """Set minidl's thread count for one test, restoring it afterwards."""
    before = threads.num_threads()
    yield threads.set_num_threads
    threads.set_num_threads(before)


# ------------------------------------------------------------------ threads
@pytest.mark.parametrize("n, parts, count", [(0, 2, 0), (5, 2, 1), (100, 1, 1), (100, 3, 3), (40, 3, 2),
                                             (1000, 4, 4), (65536 * 3 + 7, 2, 2)])
def test_split_range_covers_everything_once(n, parts, count):
    ranges = threads.split_range(n, parts)
    covered = [i for lo, hi in ranges for i in range(lo, hi)]
    assert covered == list(range(n))
    assert all(lo % 16 == 0 for lo, _ in ranges)
    assert len(ranges) == count          # as many as asked, fewer only where parts would be under 16


def test_parallel_map_keeps_order_and_uses_threads(set_threads):
    set_threads(3)
    seen = set()
    barrier = threading.Barrier(3, timeout=10)

    def work(i):
        seen.add(threading.get_ident())
        barrier.wait()            # all three items run at once, so three threads
        return i * i

    assert threads.parallel_map(work, range(3)) == [0, 1, 4]
    assert len(seen) == 3


def test_parallel_map_with_one_thread_runs_in_the_caller(set_threads):
    set_threads(1)
    idents = threads.parallel_map(lambda _: threading.get_ident(), range(4))
    assert set(idents) == {threading.get_ident()}


def test_parallel_map_raises_after_every_item_finished(set_threads):
    set_threads(2)
    done = []

    def work(i):
        if i == 1:
            raise KeyError("item 1")
        done.append(i)

    with pytest.raises(KeyError, match="item 1"):
        threads.parallel_map(work, range(4))
    assert sorted(done) == [0, 2, 3]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_checks_its_argument(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be an integer >= 1"):
        threads.set_num_threads(bad)


# --------------------------------------------------------- denormal flushing
TINY32 = np.float32(1e-39)      # subnormal in float32 (the smallest normal is ~1.18e-38)
TINY64 = np.float64(1e-310)     # subnormal in float64


@needs_flush
def test_flush_denormals_flushes_inside_and_restores_after():
    assert not denormals.flushed()
    assert TINY32 * np.float32(1) == TINY32
    with denormals.flush():
        assert denormals.flushed()
        assert TINY32 * np.float32(1) == 0 and TINY64 * 1.0 == 0
        assert np.all(np.full(1000, TINY32) * np.float32(0.5) == 0)
        assert np.float32(1e-30) * np.float32(1e-10) == 0     # a subnormal result (1e-40) is flushed too
        with denormals.flush(False):                      # nested: IEEE again, then back
            assert TINY32 * np.float32(1) == TINY32
        assert denormals.flushed()
    assert not denormals.flushed()
    assert TINY32 * np.float32(1) == TINY32


@needs_flush
def test_flush_denormals_restores_after_an_exception():
    with pytest.raises(RuntimeError):
        with denormals.flush():
            raise RuntimeError("boom")
    assert not denormals.flushed()


@needs_flush
def test_parallel_map_workers_follow_the_callers_mode(set_threads):
    set_threads(2)
    tiny = np.full(4, TINY32)
    for mode in (True, False, True):
        with denormals.flush(mode):
            out = threads.parallel_map(lambda _: (denormals.flushed(), float((tiny * np.float32(1))[0])), range(2))
        assert out == [(mode, 0.0 if mode else float(TINY32))] * 2


class _Mode(Callback):
    def __init__(self):
        super().__init__()
        self.modes = []

    def on_step_end(self, step, loss):
        self.modes.append(denormals.flushed())


@needs_flush
@pytest.mark.parametrize("flush", [True, False])
def test_fit_trains_with_denormals_flushed_unless_told_not_to(flush):
    B.set_backend("numpy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 32)
    model = models.mnist_cnn(seed=0)
    spy = _Mode()
    fit(model, optim.create("sgd", model.parameters()), (x, y), epochs=1, batch_size=16, verbose=0,
        callbacks=[spy], flush_denormals=flush)
    assert spy.modes == [flush, flush]
    assert not denormals.flushed()


def test_fit_checks_flush_denormals():
    model = models.mnist_cnn(seed=0)
    x = np.zeros((4, 1, 28, 28), dtype=np.uint8)
    with pytest.raises(TypeError, match="fit: flush_denormals must be True or False, got 'yes'"):
        fit(model, optim.create("sgd", model.parameters()), (x, np.zeros(4, dtype=np.int64)),
            flush_denormals="yes", verbose=0)


def test_softmax_cross_entropy_is_unchanged_by_flushing():
    # flushing only touches numbers below 1.2e-38: an ordinary loss is bit-for-bit the same
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((8, 10)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    plain = float(ops.softmax_cross_entropy(B.asarray(logits), B.asarray(y)).data)
    with denormals.flush():
        flushed = float(ops.softmax_cross_entropy(B.asarray(logits), B.asarray(y)).data)
    assert plain == flushed


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_pool(set_threads):
    import os

    set_threads(2)
    assert threads.parallel_map(lambda i: i + 1, range(2)) == [1, 2]      # the parent's pool exists
    pid = os.fork()
    if pid == 0:                                                       # the child: must not hang
        ok = threads.parallel_map(lambda i: i + 1, range(2)) == [1, 2]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_limit_sets_blas_and_minidl_threads_for_a_block(set_threads):
    from threadpoolctl import threadpool_info

    set_threads(2)
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas, "threadpoolctl finds no BLAS in this process"
    with threads.limit(1):
        assert threads.num_threads() == 1
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert threads.num_threads() == 2
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == [i["num_threads"] for i in blas]
