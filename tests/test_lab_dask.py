"""A comparison on a real Dask cluster: a scheduler and two `dask worker` processes started
here on 127.0.0.1 give the same records as this process does."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from minidl import cli
from minidl.lab.store import RunStore

distributed = pytest.importorskip("distributed")

QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128",
         "--val-subset", "64", "--quiet", "--no-figures", "--optimizers", "adam", "sgd:momentum=0.9",
         "sgd:lr=1e30,label=huge", "--seeds", "0", "1"]


def essence(record):
    history = {k: v for k, v in record["history"].items() if not k.endswith("_seconds")}
    return (record["id"], record["status"], history, record["step_loss"], record["divergence"])


def _start(module, *args):
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
def cluster(tmp_path):
    """``tcp://127.0.0.1:PORT`` of a scheduler with two single-threaded workers."""
    scheduler_file = tmp_path / "scheduler.json"
    procs = [_start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(scheduler_file))]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "the Dask scheduler did not start within 30 s"
            assert procs[0].poll() is None, "the Dask scheduler exited"
            time.sleep(0.1)
        time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            procs.append(_start("distributed.cli.dask_worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                "--no-dashboard", "--name", f"w{len(procs)}"))
        with distributed.Client(address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        for proc in procs:                       # each in its own session: a worker with its nanny
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_a_dask_cluster_gives_the_same_records_as_this_process(cluster, tmp_path, capsys):
    assert cli.main(QUICK + ["--scheduler", cluster, "--threads", "1", "--out", str(tmp_path / "dask")]) == 0
    assert cli.main(QUICK + ["--threads", "1", "--out", str(tmp_path / "here")]) == 0
    on_dask, _ = RunStore(tmp_path / "dask").load()
    here, _ = RunStore(tmp_path / "here").load()
    assert len(on_dask) == 6 and sorted(map(essence, on_dask)) == sorted(map(essence, here))
    assert sorted(r["status"] for r in on_dask) == ["diverged", "diverged", "ok", "ok", "ok", "ok"]
    workers = {r["environment"]["pid"] for r in on_dask}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2          # ran in the worker processes
    assert {r["environment"]["threads"]["minidl"] for r in on_dask} == {1}
    # the same command again finds every run recorded: nothing is sent to the cluster
    capsys.readouterr()
    assert cli.main([a for a in QUICK if a != "--quiet"] + ["--scheduler", cluster, "--out", str(tmp_path / "dask")]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 runs already recorded" in out and "training 6 runs" not in out


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from minidl.lab import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    start = time.monotonic()
    assert cli.main(QUICK + ["--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minidl compare: error: --scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler")
    assert err.count("\n") == 1 and time.monotonic() - start < 10
