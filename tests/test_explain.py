"""minidl explain: its numbers equal hand-computed values, its rows are the docstring's formula
lines with the values the rule's own code computed, and opt.step() gives the same weights.

All worked examples: keras convention, w_0 = [1, -2], f = ||w||^2 / 2 so g_t = w_{t-1}.
"""
import re

import numpy as np
import pytest

from minidl import optim
from minidl.lab.explain import explain, format_markdown, format_text
from minidl.lab.formulas import rule_for
from minidl.lab.specs import parse_spec


def _new_w(result, t):
    return _value(result.steps[t - 1], "w_t")


def _value(rows, symbol):
    """The value of ``symbol`` in a step's rows; fails when the table has no such row."""
    found = [v for s, _, v in rows if s == symbol]
    assert len(found) == 1, (symbol, [s for s, _, _ in rows])
    return found[0]


def _close(rows, symbol, expected, rel=1e-9):
    np.testing.assert_allclose(np.asarray(_value(rows, symbol), dtype=float), expected, rtol=rel, atol=0,
                               err_msg=symbol)


def test_sgd_two_steps():
    r = explain("sgd", steps=2)  # lr 0.01
    # w_1 = w_0 - 0.01 g_1 = [1 - 0.01, -2 + 0.02]
    np.testing.assert_allclose(_new_w(r, 1), [0.99, -1.98], rtol=1e-15)
    # g_2 = w_1; w_2 = 0.99 * w_1 = [0.9801, -1.9602]
    np.testing.assert_allclose(_new_w(r, 2), [0.9801, -1.9602], rtol=1e-15)
    _close(r.steps[1], "g_t", [0.99, -1.98])  # g_2
    assert r.agrees_with_step


def test_sgd_momentum_two_steps():
    r = explain("sgd:momentum=0.9", steps=2)  # Keras form: v_t = mu v_{t-1} - lr g_t, w_t = w_{t-1} + v_t
    # v_1 = -0.01 * [1, -2] = [-0.01, 0.02]; w_1 = [0.99, -1.98]
    _close(r.steps[0], "v_t", [-0.01, 0.02])
    np.testing.assert_allclose(_new_w(r, 1), [0.99, -1.98], rtol=1e-15)
    # v_2 = 0.9 * [-0.01, 0.02] - 0.01 * [0.99, -1.98] = [-0.009 - 0.0099, 0.018 + 0.0198] = [-0.0189, 0.0378]
    _close(r.steps[1], "v_t", [-0.0189, 0.0378])
    # w_2 = [0.99 - 0.0189, -1.98 + 0.0378] = [0.9711, -1.9422]
    np.testing.assert_allclose(_new_w(r, 2), [0.9711, -1.9422], rtol=1e-14)
    assert r.agrees_with_step


def test_adagrad_two_steps():
    r = explain("adagrad", steps=2)  # lr 0.001, a_0 = 0.1, eps 1e-7 inside the sqrt
    # a_1 = 0.1 + g^2 = [1.1, 4.1]
    _close(r.steps[0], "a_t", [1.1, 4.1])
    # step_1 = 0.001 * [1, -2] / sqrt([1.1000001, 4.1000001]) = [0.001 / 1.0488089, -0.002 / 2.0248457]
    _close(r.steps[0], "step_t", [0.0009534625459063867, -0.000987729584604107])
    np.testing.assert_allclose(_new_w(r, 1), [0.9990465374540937, -1.9990122704153959], rtol=1e-12)
    # a_2 = a_1 + w_1^2 = [1.1 + 0.99809398, 4.1 + 3.99605006] = [2.09809398, 8.09605006]
    _close(r.steps[1], "a_t", [2.098093983999014, 8.096050057271315])
    # step_2 = 0.001 * w_1 / sqrt(a_2 + 1e-7) = [0.00068972067, -0.00070255263]
    np.testing.assert_allclose(_new_w(r, 2), [0.9983568167873557, -1.9983097177837894], rtol=1e-12)
    assert r.agrees_with_step


def test_adam_two_steps():
    r = explain("adam", steps=2)  # lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7 (added to sqrt(v))
    s1, s2 = r.steps
    # m_1 = 0.1 g = [0.1, -0.2]; v_1 = 0.001 g^2 = [0.001, 0.004]
    _close(s1, "m_t", [0.1, -0.2])
    _close(s1, "v_t", [0.001, 0.004])
    # bias corrections 1 - 0.9 = 0.1 and 1 - 0.999 = 0.001
    _close(s1, "bias1_t", 0.1)
    _close(s1, "bias2_t", 0.001)
    # alpha_1 = 0.001 * sqrt(0.001) / 0.1 = 3.16227766e-4
    _close(s1, "alpha_t", 0.00031622776601683816)
    # step_1 = alpha_1 * m_1 / (sqrt(v_1) + 1e-7) = [0.000999996838, -0.000999998419]
    _close(s1, "step_t", [0.0009999968377323405, -0.0009999984188636707])
    np.testing.assert_allclose(_new_w(r, 1), [0.9990000031622677, -1.9990000015811362], rtol=1e-13)
    # m_2 = 0.9 m_1 + 0.1 w_1 = [0.09 + 0.0999000003, -0.18 - 0.1999000002]
    _close(s2, "m_t", [0.18990000031622678, -0.37990000015811365])
    # v_2 = 0.999 v_1 + 0.001 w_1^2 = [0.000999 + 0.000998001006, 0.003996 + 0.003996001006]
    _close(s2, "v_t", [0.0019970010063182107, 0.007992001006321383])
    # alpha_2 = 0.001 * sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.001 * sqrt(0.001999) / 0.19
    _close(s2, "alpha_t", 0.00023531672532745276)
    np.testing.assert_allclose(_new_w(r, 2), [0.9980000316036992, -1.998000015767051], rtol=1e-13)
    assert r.agrees_with_step


#: options that switch on every branch of a rule, so that together they show every formula line
VARIANTS = {"sgd": ["", "momentum=0.9", "momentum=0.9,nesterov=true"],
            "rmsprop": ["", "centered=true,momentum=0.9"],
            "adam": ["", "amsgrad=true"], "adamw": ["", "amsgrad=true"],
            "adafactor": ["", "weight_decay=0.1"],
            "adabelief": ["", "amsgrad=true"],
            "lookahead": ["", "k=2"]}
#: rules whose lines depend on the parameter's shape are explained on a vector and on a matrix
MATRIX = "1,-2;0.5,1.5"
PARAMS = {"adafactor": [None, MATRIX], "muon": [None, MATRIX]}
#: rules with lines that appear only after some steps (RAdam rectifies from rho_t > 5: step 6)
STEPS = {"radam": 7}


def _conventions():
    return [(n, c) for n in optim.available() for c in optim.REGISTRY[n].DEFAULTS]


def _explained(name, convention, options, param):
    spec = parse_spec(f"{name}:convention={convention}" + (f",{options}" if options else ""), check=False)
    function = "rosenbrock" if param is None else None
    try:
        return explain(spec, steps=STEPS.get(name, 2), function=function, param=param)
    except ValueError as exc:          # a matrix-wise convention refuses a vector: its matrix run shows it
        if param is None and name in PARAMS:
            return None
        raise exc


@pytest.mark.parametrize("name, convention", _conventions())
def test_the_table_shows_every_symbol_of_the_docstring_formula(name, convention):
    """Every formula line of the rule (for this convention) gets a row in some variant, at some
    step, and every row after w_{t-1} and g_t is a formula line (or a base step), in the
    docstring's order."""
    lines = rule_for(optim.REGISTRY[name], convention)
    assert lines, f"{name} has no Rule block for {convention}"
    order = [line.lhs for line in lines]
    shown = set()
    for options in VARIANTS.get(name, [""]):
        for param in PARAMS.get(name, [None]):
            r = _explained(name, convention, options, param)
            if r is None:
                continue
            assert r.max_step_difference == 0.0
            for rows in r.steps:
                symbols = [s for s, _, _ in rows]
                assert symbols[:2] == ["w_{t-1}", "g_t"]
                rule_rows = [s for s in symbols[2:] if s in order]
                assert rule_rows == sorted(rule_rows, key=order.index)
                assert set(symbols[2:]) - set(order) <= {"g_clipped", "g_l2", "w_decayed"}
                shown |= set(symbols)
    missing = [lhs for lhs in order if lhs not in shown]
    assert not missing, f"{name} ({convention}): formula lines with no row: {missing}"


@pytest.mark.parametrize("name, convention", _conventions())
def test_the_table_equals_opt_step(name, convention):
    for param in PARAMS.get(name, [None]):
        r = _explained(name, convention, "", param)
        if r is not None:
            assert r.max_step_difference <= 1e-12, r.max_step_difference


def test_a_matrix_wise_optimizer_is_explained_on_a_matrix():
    r = explain(parse_spec("muon:convention=pytorch", check=False), steps=1)   # refuses a vector
    assert r.start.shape == (2, 2) and _value(r.steps[0], "O_t").shape == (2, 2)
    text = format_text(r)
    assert "[0,0]" in text and "[1,1]" in text and "w_0 = [1, -2; 0.5, 1.5]" in text
    with pytest.raises(ValueError, match="different lengths"):
        explain("adam", param="1,2;3")


def test_constant_gradient_and_start():
    r = explain("sgd", steps=2, param="1,-2", grad="0.5,0.1")
    # w_1 = [1 - 0.005, -2 - 0.001]; w_2 = [1 - 0.01, -2 - 0.002]
    np.testing.assert_allclose(_new_w(r, 2), [0.99, -2.002], rtol=1e-15)
    assert "constant gradient" in r.source


def test_weight_decay_rows_keep_step_parity():
    r = explain("sgd:weight_decay=0.1,convention=pytorch", steps=2)
    # coupled L2: g = w + 0.1 w = 1.1 w; w_1 = w_0 - 0.001 * 1.1 w_0 = 0.9989 w_0
    np.testing.assert_allclose(_new_w(r, 1), [0.9989, -1.9978], rtol=1e-14)
    assert any(sym == "g_l2" for sym, _, _ in r.steps[0])
    assert r.agrees_with_step


def test_the_rules_formulas_name_the_inputs_the_steps_before_it_made():
    """Decoupled decay: the w_t row reads w_decayed, its value; L2 decay after clipping: g_l2 is
    made from g_clipped, and the moments read g_l2.  Without either, the rule's own names."""
    def formulas(spec):
        r = explain(spec, steps=1)
        assert r.agrees_with_step
        return {sym: text for sym, text, _ in r.steps[0]}

    keras = formulas("adam:weight_decay=0.1,lr=0.1")
    assert keras["w_t"] == "w_t = w_decayed - step_t"
    assert keras["w_decayed"].startswith("w_decayed = w_{t-1} * (1 - lr * weight_decay)")
    torch = formulas("adam:weight_decay=0.1,convention=pytorch,clipvalue=0.5")
    assert torch["g_l2"].startswith("g_l2 = g_clipped + weight_decay * w_{t-1}")
    assert torch["m_t"].startswith("m_t = beta1 * m_{t-1} + (1 - beta1) * g_l2")
    assert torch["v_t"].startswith("v_t = beta2 * v_{t-1} + (1 - beta2) * g_l2^2")
    assert torch["w_t"] == "w_t = w_{t-1} - step_t"                   # L2: the weights are not decayed
    plain = formulas("adam")
    assert plain["w_t"] == "w_t = w_{t-1} - step_t" and plain["m_t"].endswith("(1 - beta1) * g_t   (first moment, "
                                                                               'state "exp_avg")')


def test_formats():
    r = explain("sgd:momentum=0.9", steps=2)
    text = format_text(r)
    assert "SGD, keras convention" in text and "-0.0189" in text and "0.9711" in text
    assert "opt.step() gives the same" in text
    md = format_markdown(r)
    assert "| t | quantity | [0] | [1] | formula |" in md and "| 0.9711 | -1.9422 |" in md


def test_bad_input():
    with pytest.raises(ValueError, match="either grad"):
        explain("sgd", grad="1,2", function="quadratic")
    with pytest.raises(ValueError, match="numbers separated by commas"):
        explain("sgd", param="a,b")
    with pytest.raises(ValueError, match="must match"):
        explain("sgd", param="1,2", grad="1,2,3")
    with pytest.raises(ValueError, match="steps"):
        explain("sgd", steps=0)
    with pytest.raises(ValueError, match="at most 10,000"):
        explain("sgd", steps=10_001)
    with pytest.raises(ValueError, match="unknown optimizer"):
        explain("adamm")


def test_latex_table_sets_every_formula_in_math_mode():
    from minidl.lab.explain import format_latex, latex_formula, latex_symbol

    text = format_latex(explain("adam", steps=2))
    assert text.count(r"\begin{tabular}") == 1 and text.count(r"\bottomrule") == 1
    assert r"$\alpha_{t} = \eta  \,  \sqrt{\mathrm{bias2}_{t}} / \mathrm{bias1}_{t}$" in text
    body = [line for line in text.splitlines() if line.endswith(r"\\")]
    assert len(body) == 1 + 2 * 9                      # the header and 9 rows per step
    for line in body:
        assert line.count("{") == line.count("}") and line.count("$") % 2 == 0, line
    assert latex_symbol("v_hat_t") == r"\hat{v}_{t}" and latex_symbol("m_{t-1}") == "m_{t-1}"
    assert latex_symbol("beta2") == r"\beta_2" and latex_symbol("w_decayed") == r"w^{\mathrm{decayed}}"
    assert latex_formula("sqrt(v_t + eps)") == r"\sqrt{v_{t} + \epsilon}"


def _script_errors(math: str) -> list:
    """Where TeX would stop: a second subscript or superscript on one atom ("Double
    subscript"), found by walking the math's brace levels as TeX groups them."""
    errors, stack = [], [{"sub": False, "sup": False}]
    i = 0
    while i < len(math):
        c = math[i]
        if c == "\\":
            command = re.match(r"\\([A-Za-z]+|.)", math[i:]).group()
            i += len(command)
            if command in (r"\,", r"\;", r"\!", r"\ "):
                continue
            stack[-1].update(sub=False, sup=False)               # a command starts a new atom
            continue
        if c in "_^":
            kind = "sub" if c == "_" else "sup"
            if stack[-1][kind]:
                errors.append(math[max(0, i - 20):i + 10])
            stack[-1][kind] = True
            i += 1
            if i < len(math) and math[i] == "{":
                stack.append({"sub": False, "sup": False, "script": True})
                i += 1
            elif i < len(math):
                i += 1                                       # a one-character script
            continue
        if c == "{":
            stack.append({"sub": False, "sup": False})
        elif c == "}":
            group = stack.pop()
            if not group.get("script"):
                stack[-1].update(sub=False, sup=False)           # a {group} is a new atom
        elif not c.isspace():
            stack[-1].update(sub=False, sup=False)
        i += 1
    return errors


def test_the_script_checker_finds_double_scripts():
    assert _script_errors(r"\beta_2_{t}") and _script_errors(r"x^{a}^{b}") and _script_errors(r"x_1_2")
    assert not _script_errors(r"\beta_{2,t} = {\eta^{\mathrm{max}}_{t}}^{\mathrm{w}_{lr}} + g_{t}^{2}")


@pytest.mark.parametrize("name", sorted(optim.available()))
def test_latex_of_every_optimizer_and_convention_sets_without_double_scripts(name):
    from minidl.lab.explain import format_latex

    for convention in optim.REGISTRY[name].DEFAULTS:
        text = format_latex(explain(f"{name}:convention={convention}", steps=2))
        for line in text.splitlines():
            if not line.endswith(r"\\"):
                continue
            cells = re.split(r"(?<!\\)&", line[:-2])
            for cell in cells:
                pieces = re.split(r"(?<!\\)\$", cell)
                assert len(pieces) % 2 == 1, cell                       # $ in pairs
                for k, piece in enumerate(pieces):
                    if k % 2:
                        assert not _script_errors(piece), (name, convention, piece)
                    else:
                        assert not re.search(r"(?<!\\)[_^{}|]", piece.replace(r"\textasciicircum{}", "")
                                             .replace(r"\textbar{}", "")), (name, convention, piece)


def test_lbfgs_on_a_matrix_sees_the_flat_vector_and_agrees_with_step():
    r = explain("lbfgs", param="1,-2;0.5,1.5", steps=2)
    assert r.agrees_with_step and r.start.shape == (2, 2)
    assert [sym for sym, _, _ in r.steps[1]][-1] == "w_t"


def test_conventions_side_by_side_start_every_column_from_the_same_point():
    from minidl.lab.explain import compare_conventions

    results = compare_conventions("muon", steps=1)                 # torch's Muon takes matrices only
    assert {r.start.shape for r in results.values()} == {(2, 2)}
    assert all(r.agrees_with_step for r in results.values())
    assert {r.start.shape for r in compare_conventions("adam", steps=1).values()} == {(2,)}


def test_conventions_side_by_side_are_the_three_explain_runs():
    from minidl.lab.explain import compare_conventions, format_conventions

    results = compare_conventions("adadelta", steps=2)
    assert list(results) == ["keras", "pytorch", "paper"]
    for convention, r in results.items():
        alone = explain(f"adadelta:convention={convention}", steps=2)
        np.testing.assert_array_equal(_value(r.steps[1], "w_t"), _value(alone.steps[1], "w_t"))
    # Keras's lr 0.001 against the paper's 1.0: the first step's dx is the same size, w moves 1000x less
    dx_keras, dx_paper = (_value(results[c].steps[0], "dx_t") for c in ("keras", "paper"))
    w0 = np.array([1.0, -2.0])
    moved = {c: np.abs(_value(results[c].steps[0], "w_t") - w0) for c in ("keras", "paper")}
    np.testing.assert_allclose(moved["keras"], 0.001 * np.abs(dx_keras), rtol=1e-9)   # 1 - 1.4e-6: rounding
    np.testing.assert_allclose(moved["paper"], 1.0 * np.abs(dx_paper), rtol=1e-12)
    text = format_conventions(results)
    assert "keras" in text.splitlines()[3] and "paper" in text.splitlines()[3]
    assert "lr=0.001" in text and "lr=1.0" in text
    md = format_conventions(results, markdown=True)
    assert "| t | quantity | keras | pytorch | paper |" in md
