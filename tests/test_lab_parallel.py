"""Runs in parallel and under attack: --workers 2 equals --workers 1, two commands into one
folder keep every record, kill -9 then the same command completes, Ctrl-C stops cleanly.  The three that start `minidl` as processes are marked slow (CI runs them)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from minidl import cli
from minidl.lab.store import RunStore

QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128",
         "--val-subset", "64", "--quiet", "--no-figures"]


def essence(record):
    """What must be equal between two executions of one run: all but times and environment."""
    history = {k: v for k, v in record["history"].items() if not k.endswith("_seconds")}
    return (record["id"], record["status"], history, record["step_loss"], record["divergence"],
            record["train_size"], record["val_size"])


def load(out):
    records, problems = RunStore(out).load()
    assert problems == []
    return records


def temporaries(out):
    return [os.path.join(d, n) for d, _, names in os.walk(out) for n in names if ".tmp" in n]


def minidl_command(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "minidl"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_two_workers_give_the_same_records_as_one(tmp_path):
    rows = ["--optimizers", "adam", "sgd:momentum=0.9", "--seeds", "0", "1"]
    # the same threads per run in both: OpenBLAS need not give the last bit alike with 1 and 2
    # threads (with OPENBLAS_CORETYPE=Haswell on an AMD EPYC a run's training loss differs in its last bits)
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert cli.main(QUICK + rows + ["--threads", share, "--out", str(tmp_path / "one")]) == 0
    assert cli.main(QUICK + rows + ["--workers", "2", "--out", str(tmp_path / "two")]) == 0
    one = sorted(essence(r) for r in load(tmp_path / "one"))
    two = sorted(essence(r) for r in load(tmp_path / "two"))
    assert len(one) == 4 and one == two
    threads = {r["environment"]["threads"]["minidl"] for r in load(tmp_path / "two")}
    assert threads == {max(1, len(os.sched_getaffinity(0)) // 2)}      # each worker its share of the cores


@pytest.mark.slow
def test_two_commands_into_one_folder_keep_every_record(tmp_path):
    out = str(tmp_path)
    first = minidl_command(QUICK + ["--optimizers", "adam", "sgd", "rmsprop", "--out", out])
    second = minidl_command(QUICK + ["--optimizers", "adagrad", "sgd", "adamax", "--out", out])
    for proc in (first, second):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    labels = sorted(r["label"] for r in load(out))
    assert labels == ["adagrad", "adam", "adamax", "rmsprop", "sgd"]      # sgd, trained by both, kept once
    assert temporaries(out) == []


def _wait_for_records(out, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    runs = os.path.join(out, "runs")
    while time.monotonic() < deadline:
        if os.path.isdir(runs) and len([f for f in os.listdir(runs) if f.endswith(".json")]) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {n} records in {runs} after {timeout} s")


@pytest.mark.slow
def test_kill_9_then_the_same_command_completes_and_keeps_what_was_done(tmp_path):
    out = str(tmp_path)
    args = [a if a != "128" else "640" for a in QUICK] + ["--optimizers", "adam", "sgd", "rmsprop", "adagrad",
                                                          "--out", out]
    proc = minidl_command(args)
    _wait_for_records(out, 1, proc)
    proc.kill()                                                   # SIGKILL: no handler runs
    proc.communicate()
    done = {r["id"]: open(os.path.join(out, "runs", f"{r['id']}.json"), "rb").read() for r in load(out)}
    assert 1 <= len(done) < 4
    rerun = minidl_command(args)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    after = load(out)
    assert sorted(r["label"] for r in after) == ["adagrad", "adam", "rmsprop", "sgd"]
    for rid, content in done.items():                            # the finished records, untouched
        assert open(os.path.join(out, "runs", f"{rid}.json"), "rb").read() == content
    assert temporaries(out) == []


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_keeps_the_records_and_says_how_to_resume(tmp_path):
    out = str(tmp_path)
    args = [a if a != "128" else "640" for a in QUICK] + ["--optimizers", "adam", "sgd", "rmsprop", "adagrad",
                                                          "adamax", "nadam", "--workers", "2", "--out", out]
    proc = minidl_command(args, start_new_session=True)
    _wait_for_records(out, 1, proc)
    os.killpg(proc.pid, signal.SIGINT)                           # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "run the same command again to train the other" in err and "Traceback" not in err
    kept = load(out)
    assert 1 <= len(kept) < 6 and {r["status"] for r in kept} == {"ok"}
    assert temporaries(out) == []
