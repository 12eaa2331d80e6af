"""Executors: every configuration comes back once, a dead worker's run is retried once or
reported, each worker keeps to its threads, the options are checked."""
import pytest

import lab_workers
from minidl.lab import executors as E


def results(executor, fn, configs):
    with executor:
        return dict(executor.run(fn, configs))


def test_in_process_runs_each_configuration_in_order():
    ex = E.make_executor(1)
    assert isinstance(ex, E.InProcess)
    with ex:
        assert [i for i, _ in ex.run(lab_workers.square, [{"x": 1}, {"x": 2}, {"x": 3}])] == [0, 1, 2]
    assert results(ex, lab_workers.square, [{"x": 3}])[0]["x"] == 9


def test_local_processes_return_every_result_with_their_threads():
    ex = E.make_executor(2, threads=1)
    assert isinstance(ex, E.LocalProcesses) and ex.describe() == "2 local worker processes x 1 thread"
    out = results(ex, lab_workers.square, [{"x": x} for x in range(5)])
    assert sorted(out) == [0, 1, 2, 3, 4]
    assert [out[i]["x"] for i in range(5)] == [0, 1, 4, 9, 16]
    assert len({r["pid"] for r in out.values()}) == 2               # two workers, reused
    for r in out.values():
        assert r["threads"]["minidl"] == 1
        assert [b["threads"] for b in r["threads"]["blas"]] == [1] * len(r["threads"]["blas"])


def test_a_worker_that_dies_once_is_replaced_and_its_run_retried(tmp_path):
    out = results(E.LocalProcesses(1, threads=1), lab_workers.die_once, [{"marker": str(tmp_path / "m")}])
    assert out == {0: "survived"}


def test_a_run_that_kills_its_worker_twice_is_reported_and_the_others_finish():
    configs = [{"x": 1}, {"x": 2}]
    with E.LocalProcesses(2, threads=1) as ex:
        out = dict(ex.run(lab_workers.always_die, [{}]))
        assert isinstance(out[0], E.RunLost)
        assert "its worker process died 2 times (last exit code 4)" in str(out[0])
        assert {i: r["x"] for i, r in ex.run(lab_workers.square, configs)} == {0: 1, 1: 4}


def test_an_exception_in_the_function_is_reported_not_raised():
    out = results(E.LocalProcesses(1, threads=1), lab_workers.raise_error, [{}])
    assert isinstance(out[0], E.RunLost) and "ValueError: no such thing" in str(out[0])


def test_workers_are_stopped_when_the_block_ends():
    with E.LocalProcesses(2, threads=1) as ex:
        dict(ex.run(lab_workers.square, [{"x": 1}, {"x": 2}]))
        processes = [w.process for w in ex._pool]
        assert len(processes) == 2 and all(p.is_alive() for p in processes)
    assert not any(p.is_alive() for p in processes)


@pytest.mark.parametrize("kwargs,match", [
    ({"workers": 0}, "--workers must be a positive integer, got 0"),
    ({"workers": True}, "--workers must be a positive integer, got True"),
    ({"workers": 2, "threads": 0}, "--threads must be a positive integer, got 0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        E.make_executor(**kwargs)


def test_share_of_cores_is_at_least_one():
    from minidl.lab.threads import available_cores, share_of_cores

    assert share_of_cores(1) == available_cores()
    assert share_of_cores(available_cores() * 4) == 1


def test_a_dask_workers_malloc_trimming_is_undone_for_runs():
    """Under Dask's MALLOC_TRIM_THRESHOLD_=65536 every large temporary is mapped afresh: an
    elementwise op on 1M floats runs many times slower until _keep_freed_memory() (ratio, not time)."""
    import subprocess
    import sys

    code = (
        "import time, numpy as np\n"
        "from minidl.lab import executors\n"
        "x = np.ones(1_000_000, dtype=np.float32)\n"
        "def cost():\n"
        "    t = time.perf_counter()\n"
        "    for _ in range(40): y = x * 0.5 + 1.0\n"
        "    return time.perf_counter() - t\n"
        "before = min(cost() for _ in range(3))\n"
        "executors._keep_freed_memory()\n"
        "after = min(cost() for _ in range(3))\n"
        "print(before / after)\n")
    import os

    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    ratio = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                 check=True).stdout)
    assert ratio > 3, ratio
