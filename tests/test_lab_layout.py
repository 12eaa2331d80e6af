"""Inside minidl.lab, imports point one way: each module imports only those above it in LAYERS.

So plots (figures from plain data) never imports compare, the store never imports a view, and
a run imports neither its executor nor the views.  A new module of minidl.lab takes its place
in LAYERS."""
import ast
import pathlib

import pytest

LAB = pathlib.Path(__file__).resolve().parents[1] / "minidl" / "lab"

#: bottom first: a module may import the ones before it, never one after it
LAYERS = ["article", "functions2d", "expression", "specs", "store", "threads", "problems", "run", "legacy", "executors", "batch", "plots",
          "views", "compare", "tune_views", "tune", "report", "trajectories", "trajectory_plots", "lrfind", "formulas", "explain"]


def lab_imports(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["minidl", "lab"] and len(parts) > 2 and parts[2] in LAYERS:
                found.add(parts[2])
    return found


def test_every_lab_module_has_a_layer():
    modules = {p.stem for p in LAB.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", LAYERS)
def test_lab_imports_point_down(module):
    below = set(LAYERS[:LAYERS.index(module)])
    wrong = lab_imports(LAB / f"{module}.py") - below - {module}
    assert not wrong, f"minidl.lab.{module} imports {sorted(wrong)}, which sit above it"


def test_compare_and_plots_do_not_import_each_other():
    assert "plots" not in lab_imports(LAB / "compare.py")
    assert "compare" not in lab_imports(LAB / "plots.py")
