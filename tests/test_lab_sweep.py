"""benchmarks/sweep.py runs (tiny, as a subprocess) and prints the same table under every
executor.  A timing tool: its times are not checked.  Slow (it starts a Dask LocalCluster)."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sweep_runs_every_mode_and_finds_the_same_records(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "sweep.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "sweep.py"), "--train-subset", "128",
                           "--val-subset", "64", "--optimizers", "adam", "sgd", "--seeds", "0", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["benchmark"] == "sweep" and sorted(result["modes"]) == ["dask", "workers1", "workers2"]
    for mode in result["modes"].values():
        assert mode["runs"] == 2 and mode["table_identical"] and isinstance(mode["records_identical"], bool)
        assert mode["runs_per_hour"] > 0
    # one thread per run under either executor: the same arithmetic, so the same records to the bit
    workers2, dask = result["modes"]["workers2"], result["modes"]["dask"]
    assert workers2["records_identical"] == dask["records_identical"]
    assert result["modes"]["workers2"]["threads_per_run"] == [max(1, len(os.sched_getaffinity(0)) // 2)]
