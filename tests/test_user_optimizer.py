"""A user's own optimizer, written in a temporary module, through every command: compare,
explain and trajectories accept ``module:Class`` (and ``module:Class:key=value,...``), and a
bad class path is one line and exit code 2."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minidl import cli

USER_MODULE = textwrap.dedent('''
    from minidl import backend as B
    from minidl.optim import Optimizer, check_positive, check_range


    class SignSGD(Optimizer):
        """Sign descent with momentum.

        Rule (paper):

            m_t = beta * m_{t-1} + (1 - beta) * g_t
            w_t = w_{t-1} - lr * sign(m_t)
        """
        DEFAULTS = {"paper": {"lr": 0.01, "beta": 0.9}}

        def validate(self, group):
            check_positive(group["lr"], "lr")
            check_range(group["beta"], "beta", 0, 1)

        def init_state(self, w, group):
            return {"m": B.get_array_module(w).zeros_like(w)}

        def update(self, w, g, state, group):
            m = state["m"]
            m *= group["beta"]
            m += (1 - group["beta"]) * g
            w -= group["lr"] * B.get_array_module(w).sign(m)


    NOT_A_CLASS = 3


    class NotAnOptimizer:
        pass
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """The module's name (unique per test: Python caches imported modules), importable."""
    name = f"user_sign_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


QUICK = ["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "128", "--val-subset", "64",
         "--quiet", "--no-figures"]


def test_compare_trains_a_users_optimizer(user_module, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    spec = f"{user_module}:SignSGD:lr=0.02,beta=0.5"
    assert cli.main(QUICK + ["--optimizers", spec, "sgd", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = (out / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith(f"| {spec} |"))
    acc, loss = (float(x) for x in row.split("|")[2].split("/"))
    assert 0 <= acc <= 1 and np.isfinite(loss) and loss > 0
    assert f"| {spec} |" in printed
    results = json.loads((out / "results.json").read_text())
    assert spec in results["command"]                      # a command that can be rerun, module and all
    run = next(r for r in results["runs"] if r["label"] == spec)
    assert run["config"]["optimizer"]["name"] == f"{user_module}:SignSGD"
    assert run["config"]["optimizer"]["hyper"]["lr"] == 0.02 and run["config"]["optimizer"]["hyper"]["beta"] == 0.5
    assert run["config"]["optimizer"]["convention"] == "paper"
    # the recorded command, run again, finds its records: nothing trains, the records stay
    import shlex

    import minidl.train

    before = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert len(before) == 2
    monkeypatch.setattr(minidl.train, "fit", lambda *a, **k: pytest.fail("training started"))
    assert cli.main(shlex.split(results["command"])[1:]) == 0
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")} == before


def test_editing_ones_own_rule_trains_it_again(user_module, tmp_path, capsys):
    """The run's id hashes the user's source file: an edited rule is a new run, not the old
    rule's record under the new code."""
    import importlib
    import sys as _sys

    from minidl.lab import store

    out = tmp_path / "cmp"
    args = QUICK + ["--optimizers", f"{user_module}:SignSGD", "--out", str(out)]
    assert cli.main(args) == 0
    first = sorted(p.name for p in (out / "runs").glob("*.json"))
    record = json.loads((out / "runs" / first[0]).read_text())
    path = Path(_sys.modules[user_module].__file__)
    import hashlib

    assert record["config"]["optimizer"]["source_sha256"] == {
        f"{user_module}:SignSGD": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.write_text(USER_MODULE.replace("w -= group[\"lr\"]", "w -= 0.5 * group[\"lr\"]"))
    importlib.reload(_sys.modules[user_module])
    assert cli.main(args) == 0
    second = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert len(first) == 1 and len(second) == 2               # the old record kept, a new one made
    assert store.config_id(record["config"]) == first[0][:-len(".json")]


def test_a_worker_with_other_code_refuses_the_run(user_module, tmp_path):
    from minidl.lab import run, specs

    spec = specs.parse_spec(f"{user_module}:SignSGD")
    resolved = run.resolved_optimizer(spec)
    (name, digest), = resolved["source_sha256"].items()
    assert name == f"{user_module}:SignSGD" and len(digest) == 64
    resolved["source_sha256"][name] = "0" * 64
    from minidl.tensor import Parameter

    with pytest.raises(ValueError, match=r"SignSGD.*sha256.*same code must run everywhere"):
        run.create_optimizer(resolved, [Parameter(np.zeros(2))])


def test_minidls_own_optimizers_ids_do_not_hash_source(user_module):
    from minidl.lab import run, specs

    assert "source_sha256" not in run.resolved_optimizer(specs.parse_spec("adam"))
    wrapped = run.resolved_optimizer(specs.parse_spec(f"lookahead:inner={user_module}:SignSGD"))
    assert list(wrapped["source_sha256"]) == [f"{user_module}:SignSGD"]   # the inner rule is the user's


def test_the_base_classs_own_example_explains_its_rule(tmp_path, monkeypatch, capsys):
    """The SignSGD of Optimizer's docstring, copied into a module as a user would: explain
    shows its formula lines; a class whose docstring has none is told so, not shown bare."""
    from minidl.optim.optimizer import Optimizer

    code = textwrap.dedent(Optimizer.__doc__.split("::\n", 1)[1].split("\n    ``SignSGD(")[0])
    (tmp_path / "basedoc_example.py").write_text(code + "\n\nclass Bare(SignSGD):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["explain", "basedoc_example:SignSGD", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "m_t = beta * m_{t-1} + (1 - beta) * g_t" in out and "w_t = w_{t-1} - lr * sign(m_t)" in out
    assert "NOTE" not in out and "gives the same w_t" in out
    assert cli.main(["explain", "basedoc_example:Bare", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "NOTE: Bare's docstring has no 'Rule (paper):' block" in out and "your-own-optimizer.md" in out


def test_explain_shows_the_users_rule(user_module, capsys):
    assert cli.main(["explain", f"{user_module}:SignSGD", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SignSGD, paper convention: lr=0.01, beta=0.9")
    # step 1 from w = (1, -2), g = w: m = 0.1 * g = (0.1, -0.2), w = w - 0.01 * sign(m)
    lines = out.splitlines()
    m_line = next(line for line in lines if line.strip().startswith("m_t"))
    w_line = next(line for line in lines if line.strip().startswith("w_t"))
    assert m_line.split()[1:3] == ["0.1", "-0.2"] and "m_t = beta * m_{t-1} + (1 - beta) * g_t" in m_line
    assert w_line.split()[1:3] == ["0.99", "-1.99"] and "w_t = w_{t-1} - lr * sign(m_t)" in w_line
    assert "opt.step() gives the same w_t at every step (max |difference| = 0)" in out


def test_trajectories_run_a_users_optimizer(user_module, tmp_path, capsys):
    out = tmp_path / "traj"
    assert cli.main(["trajectories", "--optimizers", f"{user_module}:SignSGD:lr=0.1,label=sign",
                     "--steps", "20", "--functions", "quadratic", "--out", str(out)]) == 0
    summary = (out / "summary.txt").read_text()
    row = next(line for line in summary.splitlines() if "sign" in line.split())
    assert row.split()[:4] == ["quadratic", "sign", "0.1", "20"]
    assert (out / "quadratic.png").read_bytes()[:4] == b"\x89PNG"
    assert "sign" in capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["explain", "{spec}"],
    ["trajectories", "--optimizers", "{spec}", "--steps", "5", "--out", "{tmp}/t"],
    QUICK + ["--optimizers", "{spec}", "--out", "{tmp}/c"],
])
@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:SignSGD", "no module named 'no_such_module_xyz'"),
    ("{m}:Missing", "has no 'Missing'"),
    ("{m}:NOT_A_CLASS", "not a subclass of minidl.optim.Optimizer"),
    ("{m}:NotAnOptimizer", "not a subclass of minidl.optim.Optimizer"),
])
def test_a_bad_class_path_is_one_line_and_exit_2(user_module, tmp_path, capsys, command, spec, message):
    spec = spec.format(m=user_module)
    argv = [a.format(spec=spec, tmp=tmp_path) for a in command]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"minidl {argv[0]}: error: ") and captured.err.count("\n") == 1
    assert message in captured.err and spec in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "c" / "runs").exists() or not list((tmp_path / "c" / "runs").iterdir())


# ------------------------------------------------------------------ docs/your-own-optimizer.md
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
PAGE = ROOT / "docs" / "your-own-optimizer.md"


@pytest.fixture
def examples(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return PAGE.read_text()


def test_the_page_shows_the_example_files_as_they_are(examples):
    for name in ("mymod.py", "check_mymod.py"):
        code = (EXAMPLES / name).read_text().rstrip("\n")
        assert f"```python\n{code}\n```" in examples, f"docs/your-own-optimizer.md does not show {name} as it is"


def test_the_pages_checks_run_and_print_what_it_shows(examples):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(ROOT)])}
    done = subprocess.run([sys.executable, str(EXAMPLES / "check_mymod.py")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Lion from scratch vs minidl.optim.Lion, 100 steps: max |difference| = 0.0" in done.stdout
    assert done.stdout.count("6 checks passed") == 2
    assert f"$ PYTHONPATH=docs/examples python docs/examples/check_mymod.py\n{done.stdout}```" in examples


@pytest.mark.parametrize("args", [["mymod:SignSGD", "--steps", "2"], ["mymod:Lion:lr=0.1", "--steps", "1"]])
def test_the_pages_explain_tables_are_what_explain_prints(examples, capsys, args):
    assert cli.main(["explain", *args]) == 0
    out = capsys.readouterr().out
    assert f"$ PYTHONPATH=docs/examples minidl explain {' '.join(args)}\n{out}```" in examples


def test_the_pages_comparison_runs_and_its_two_lions_agree(examples, tmp_path, capsys):
    rows = ["mymod:SignSGD:lr=0.001", "mymod:Lion:lr=0.0003", "lion:convention=paper,lr=0.0003", "adam"]
    assert cli.main(["compare", "--dataset", "synthetic", "--epochs", "1", "--train-subset", "512",
                     "--val-subset", "256", "--quiet", "--no-figures", "--out", str(tmp_path),
                     "--optimizers", *rows]) == 0
    out = capsys.readouterr().out
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[1] for line in out.splitlines()
             if line.startswith("| ") and not line.startswith("| Optimizer")}
    assert list(cells) == rows
    assert cells["mymod:Lion:lr=0.0003"] == cells["lion:convention=paper,lr=0.0003"]
    shown = {line.split(" | ")[0][2:]: line.split(" | ")[1] for line in examples.splitlines()
             if line.startswith("| mymod:") or line.startswith("| lion:") or line.startswith("| adam |")}
    assert list(shown) == rows and shown["mymod:Lion:lr=0.0003"] == shown["lion:convention=paper,lr=0.0003"]
    assert "--optimizers " + " ".join(f'"{r}"' if "," in r else r for r in rows) in examples


def test_an_installed_packages_entry_point_names_an_optimizer(examples, tmp_path, monkeypatch, capsys):
    """The metadata pip writes for the page's pyproject.toml snippet, on sys.path."""
    info = tmp_path / "mymod_optimizers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mymod-optimizers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[minidl.optimizers]\nsignsgd = mymod:SignSGD\nmylion = mymod:Lion\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert '[project.entry-points."minidl.optimizers"]\nsignsgd = "mymod:SignSGD"' in examples
    from minidl import optim

    assert optim.resolve("signsgd").__name__ == "SignSGD" and optim.resolve("mylion").__module__ == "mymod"
    assert cli.main(["explain", "signsgd:lr=0.5", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SignSGD, paper convention: lr=0.5, beta=0.9") and any(line.split()[:3] == ["w_t", "0.5", "-1.5"] for line in out.splitlines())


def test_the_pages_bad_path_line_is_what_explain_prints(examples, capsys):
    assert cli.main(["explain", "nomod:SignSGD"]) == 2
    err = capsys.readouterr().err
    prefix = err.split("(looked in")[0]
    assert f"$ minidl explain nomod:SignSGD\n{prefix}(looked in PYTHONPATH and the current folder" in examples
