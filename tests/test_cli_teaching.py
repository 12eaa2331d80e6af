"""The `minidl trajectories` and `minidl explain` commands write what they promise."""
import subprocess
import sys

import pytest

from minidl.cli import build_parser, main

pytest.importorskip("matplotlib")


def test_trajectories_writes_png_gif_and_summary(tmp_path, capsys):
    out = tmp_path / "traj"
    rc = main(["trajectories", "--functions", "quadratic", "saddle", "--optimizers", "sgd",
               "sgd:momentum=0.9,lr=0.005", "--steps", "12", "--out", str(out), "--animate",
               "--per-optimizer"])
    assert rc == 0
    for name in ["quadratic.png", "saddle.png", "quadratic.gif", "saddle.gif",
                 "optimizer_sgd.png", "optimizer_sgd_momentum_0.9_lr_0.005.png"]:
        path = out / name
        assert path.exists() and path.stat().st_size > 1000, name
    summary = (out / "summary.txt").read_text()
    assert "quadratic" in summary and "saddle" in summary and "sgd:momentum=0.9,lr=0.005" in summary
    assert (out / "quadratic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "quadratic.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    printed = capsys.readouterr().out
    assert "sgd:momentum=0.9,lr=0.005" in printed and "wrote" in printed


def test_trajectories_start_point(tmp_path, capsys):
    rc = main(["trajectories", "--functions", "rosenbrock", "--optimizers", "gd", "--steps", "3",
               "--start=-1.5,2", "--out", str(tmp_path)])
    assert rc == 0 and (tmp_path / "rosenbrock.png").exists()


def test_bad_spec_is_a_clear_error(tmp_path, capsys):
    rc = main(["trajectories", "--optimizers", "sgd:beta=1", "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no hyperparameter 'beta'" in err and "momentum" in err


def test_explain_text_and_markdown(capsys):
    assert main(["explain", "sgd:momentum=0.9", "--steps", "2"]) == 0
    text = capsys.readouterr().out
    assert "-0.0189" in text and "0.9711" in text and "t  quantity" in text
    assert main(["explain", "sgd", "--param", "1,-2", "--grad", "0.5,0.1", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| t | quantity |" in md and "constant gradient g = [0.5, 0.1]" in md
    assert md.count("| `w_{t-1}` |") == 3  # default --steps 3


def test_explain_adam_function(capsys):
    assert main(["explain", "adam", "--function", "quadratic", "--convention", "pytorch", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "Adam, pytorch convention" in out and "quadratic" in out


def test_explain_rejects_grad_with_function():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explain", "sgd", "--grad", "1,2", "--function", "sphere"])


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "minidl", "explain", "sgd", "--steps", "1"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "0.99" in res.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "trajectories" in capsys.readouterr().out


def test_per_optimizer_figures_of_labels_that_look_alike_do_not_overwrite(tmp_path, capsys):
    rc = main(["trajectories", "--functions", "quadratic", "--optimizers", "sgd:label=a/b", "sgd:lr=0.01,label=a_b",
               "--steps", "3", "--out", str(tmp_path), "--per-optimizer"])
    assert rc == 0
    assert sorted(p.name for p in tmp_path.glob("optimizer_*.png")) == ["optimizer_a_b-2.png", "optimizer_a_b.png"]


def test_trajectories_bad_out_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["trajectories", "--functions", "quadratic", "--steps", "2", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err == f"minidl trajectories: error: --out: {blocker} exists and is not a folder\n"
