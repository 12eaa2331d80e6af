"""`minidl explain --format latex` and `--compare-conventions`."""
from minidl.cli import main


def test_latex_is_a_booktabs_tabular_of_every_step(capsys):
    assert main(["explain", "adam", "--format", "latex", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("\\begin{tabular}") == 1 and "\\toprule" in out and "\\bottomrule" in out
    assert out.count("$w_{t-1}$") == 2                                  # one row per step


def test_compare_conventions_puts_the_three_adadelta_side_by_side(capsys):
    assert main(["explain", "adadelta", "--compare-conventions", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if line.startswith("t "))
    assert head.split()[2:] == ["keras", "pytorch", "paper"]
    # Keras's lr 0.001 against the paper's 1.0: the same dx_t, a thousandth of the move (w_0 = 1)
    w_t = next(line for line in out.splitlines() if line.split()[:1] == ["w_t"])
    assert "0.999999" in w_t and "0.995528" in w_t


def test_compare_conventions_refuses_latex(capsys):
    assert main(["explain", "adam", "--compare-conventions", "--format", "latex"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--compare-conventions" in err
