"""A user's test function from a formula: parsed safely, its gradient from autograd, through the CLI."""
import numpy as np
import pytest

from minidl import cli
from minidl.lab import expression as E
from minidl.lab import functions2d, trajectories
from minidl.lab.specs import parse_spec


def test_the_value_and_the_autograd_gradient_of_a_formula():
    fn = E.function2d("x**2 + 10*y**2")
    w = np.array([1.0, 2.0])
    assert fn.value(w) == 41.0
    np.testing.assert_array_equal(fn.grad(w), [2.0, 40.0])                  # (2x, 20y), exactly
    every = E.function2d("sin(x)*cos(y) + sqrt(x**2 + y**2 + 1) - abs(x) + tanh(y) + exp(-x**2) + log(1 + y**2)"
                         " + pi*e - x/2 + y**-2")
    w, h = np.array([0.3, -0.7]), 1e-6
    fd = [(every.value(w + h * e) - every.value(w - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(every.grad(w), fd, rtol=1e-7)
    X, Y = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))      # the contour grid
    np.testing.assert_allclose(E.function2d("x*y + 1").value_xy(X, Y), X * Y + 1)


@pytest.mark.parametrize("text, says", [
    ("__import__('os').system('ls')", "the call __import__('os').system"),
    ("x.real", "Attribute"),
    ("(lambda: 1)()", "the call"),
    ("lambda: 1", "Lambda"),
    ("9**9**9", "the power"),
    ("x**y", "the power 'y'"),
    ("x**11", "the power '11'"),
    ("os", "the name 'os'"),
    ("sin", "the name 'sin'"),
    ("'a' * 3", "the constant 'a'"),
    ("x if y else 1", "IfExp"),
    ("x < y", "Compare"),
    ("sin(x, y)", "one argument"),
    ("[x, y]", "List"),
    ("x // 2", "FloorDiv"),
    ("x" + " + x" * 120, "characters"),
    ("x +", "not a formula"),
    ("", "expected a formula"),
])
def test_anything_but_arithmetic_is_refused_naming_it(text, says):
    with pytest.raises(ValueError, match="--function") as info:
        E.parse(text)
    assert says in str(info.value)


def test_sgd_on_a_formula_converges_to_its_minimum():
    functions2d.register(E.function2d("x**2 + 10*y**2", name="bowl-for-a-test"))
    try:
        run = trajectories.run_trajectory("bowl-for-a-test", parse_spec("sgd:lr=0.02"), steps=400)
    finally:
        functions2d.USER_FUNCTIONS.pop("bowl-for-a-test")
    assert np.abs(run.points[-1]).max() < 1e-3 and run.losses[-1] < 1e-6 and run.diverged_at is None


def test_the_cli_draws_a_formula_and_refuses_a_bad_one_in_one_line(tmp_path, capsys):
    out = tmp_path / "f"
    assert cli.main(["trajectories", "--function", "x**2 + 10*y**2", "--window=-3,3,-2,2", "--steps", "50",
                     "--optimizers", "sgd", "adam", "--out", str(out)]) == 0
    assert (out / "custom.png").stat().st_size > 0 and "custom" in (out / "summary.txt").read_text()
    capsys.readouterr()
    for args in (["--function", "open('x')"], ["--function", "x", "--window=1,0,0,1"], ["--function", "log(x)",
                                                                                     "--start=-1,1"]):
        assert cli.main(["trajectories", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("--function" in err[0] or "--window" in err[0]) and "Traceback" not in err[0]
