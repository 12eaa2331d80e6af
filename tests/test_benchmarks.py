"""The benchmark scripts run: each one, tiny, as a subprocess, writing its JSON.

They are timing tools, so the numbers are not checked here; what is checked is that every
script of docs/performance.md still starts, runs its whole path and writes what it says.
PyTorch is left out (``--no-torch``) where a script can use it.  Marked slow (about 15 s
in all): CI runs them in its slow stage, the default run stays quick.
"""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUNS = {
    "epoch": ["--data", "random", "--images", "256", "--repeats", "1", "--no-torch"],
    "layers": ["--steps", "2"],
    "ablation": ["--rounds", "1", "--steps", "1"],
    "optimizer_step": ["--rounds", "1", "--steps", "1", "--no-torch"],
    "denormals": ["--data", "random", "--images", "640", "--every", "5"],
    "memory": ["--data", "random", "--steps", "3"],
    "cost_curves": ["--batch-sizes", "1,8", "--sizes", "640", "--budget", "0.01", "--no-torch"],
    "problem_epochs": ["--problems", "quadratic-deep", "mnist-logreg", "--threads", "1", "--steps", "3"],
}


def run_script(name, args, tmp_path):
    out = tmp_path / f"{name}.json"
    extra = ["--figure", str(tmp_path / "curves.png")] if name == "cost_curves" else []
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", f"{name}.py"), *args, *extra,
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_script_runs_and_writes_its_json(name, tmp_path):
    result, stdout = run_script(name, RUNS[name], tmp_path)
    assert result["benchmark"] == name
    assert "machine" in result
    if name == "cost_curves":
        assert (tmp_path / "curves.png").stat().st_size > 0
    if name == "problem_epochs":
        rows = {r["problem"]: r for r in result["results"]}
        assert rows["quadratic-deep"]["epoch_steps"] == 8 and rows["mnist-logreg"]["epoch_steps"] == 469
        assert rows["mnist-logreg"]["timed_steps"] == 3 and rows["mnist-logreg"]["parameters"] == 7850


def test_denormals_script_reports_both_runs(tmp_path):
    result, stdout = run_script("denormals", RUNS["denormals"], tmp_path)
    assert len(result["kept"]) == len(result["flushed"]) == 2          # 10 steps in blocks of 5
    same = result["weights_bitwise_equal"]
    assert isinstance(same, bool) and same is (result["max_weight_difference"] == 0.0)
    assert ("weights after the epoch: bitwise equal" in stdout) is same
    assert "subnormals kept" in stdout
