"""docs/make_figures.py redraws every figure of docs/: each one lives in a folder the script
writes (a run store it reports, or a folder of its trajectory commands), or is one of the
measured figures it names; its dry run lists a report for every store."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed_figures():
    out = []
    for folder, _, names in os.walk(ROOT / "docs"):
        if os.sep + "runs" in folder or "notebook-figures" in folder:
            continue
        out += [os.path.relpath(os.path.join(folder, n), ROOT) for n in names if n.endswith((".png", ".gif", ".mp4"))]
    return sorted(out)


def test_every_figure_in_docs_is_one_the_script_makes():
    mf = load()
    folders = mf.written_folders()
    measured = {path for path, _ in mf.MEASURED}
    figures = committed_figures()
    assert len(figures) > 40
    strays = [f for f in figures if os.path.normpath(os.path.dirname(f)) not in folders and f not in measured]
    assert strays == [], f"figures no command of docs/make_figures.py makes: {strays}"
    assert mf.ANIMATION[0] in figures and all(os.path.exists(ROOT / p) for p in measured)


def test_the_dry_run_reports_every_store_and_runs_every_trajectory_command():
    mf = load()
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "make_figures.py"), "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    stores = mf.result_stores()
    assert {"docs/results/article", "docs/results/tuned"} <= set(stores)
    for store in stores:
        assert any(line.startswith(f"$ minidl report {store} --style paper") for line in lines), store
    assert sum(line.startswith("$ minidl trajectories") for line in lines) == len(mf.TRAJECTORIES) + 1
    assert sum(line.startswith("$ minidl lrfind --out docs/figures/lrfind") for line in lines) == len(mf.LRFIND) == 1
    assert "left as it is" in proc.stdout
