"""Every quantity of an optimizer's first steps, each beside the formula line that names it.

For each step, ``explain`` runs what ``opt.step()`` runs: the base class's clipping and
weight decay (shown as their own rows when a spec turns them on), then the optimizer's own
rule, once, under ``minidl.optim.trace.trace_update``, which keeps the rule's local
variables.  Each line of the docstring's formula (``minidl.lab.formulas``) that applies to
the convention is matched with the variable the code named after it (``m_t`` is ``m``), so
the numbers are those of the code that trains.  The same steps also run through
``opt.step()`` on a twin parameter, and the table says whether the two agree (they run the
same code, so they agree bit for bit).

    >>> from minidl.lab.explain import explain, format_text
    >>> print(format_text(explain("adam", steps=2)))        # doctest: +SKIP
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from minidl import backend as B
from minidl import optim
from minidl.lab import functions2d
from minidl.lab.formulas import local_names, rule_for
from minidl.lab.specs import RowSpec, parse_spec
from minidl.optim import clipping, weight_decay
from minidl.optim.trace import trace_update
from minidl.tensor import Parameter

DEFAULT_PARAM = (1.0, -2.0)
#: the start for a matrix-wise optimizer that refuses a vector (Muon under the pytorch convention)
DEFAULT_MATRIX = ((1.0, -2.0), (0.5, 1.5))
DEFAULT_FUNCTION = "sphere"  # f = (x^2 + y^2) / 2, so g = w (for any shape of w)
#: ``explain --steps`` above this is refused: each step is a table of its own
MAX_STEPS = 10_000


@dataclass
class ExplainResult:
    spec: RowSpec
    hyper: dict  # the group's hyperparameters (defaults filled in)
    start: object  # w_0, a host numpy array (a vector, or a matrix for matrix-wise rules)
    source: str  # where the gradient comes from, in words
    steps: list = field(default_factory=list)  # per step: list of (symbol, formula, host value)
    max_step_difference: float = 0.0  # max |w_t of the table - w_t of opt.step()| over the steps
    optimizer_name: str = ""  # the class's name
    note: str = ""  # said under the header (a docstring without formula lines)

    @property
    def agrees_with_step(self) -> bool:
        return self.max_step_difference <= 1e-12 * max(1.0, self._scale())

    def _scale(self):
        values = [abs(float(x)) for q in self.steps for (_, _, v) in q if _is_number_like(v)
                  for x in B.np.atleast_1d(v).ravel()]
        return max(values) if values else 1.0


def _is_number_like(v) -> bool:
    return not isinstance(v, (bool, type(None), str)) and B.np.asarray(v).dtype.kind in "fiu"


def _numbers(text_or_seq, name):
    """A vector ``"1,-2"`` or a matrix ``"1,-2;0.5,1.5"`` (rows split by ';'), or a sequence."""
    if isinstance(text_or_seq, str):
        rows = [r for r in text_or_seq.replace(" ", "").split(";") if r]
        try:
            values = [[float(p) for p in row.split(",") if p] for row in rows]
        except ValueError:
            raise ValueError(f"explain: {name} must be numbers separated by commas (rows of a matrix by ';'), "
                             f"like 1,-2 or 1,-2;0.5,1.5; got {text_or_seq!r}") from None
        if len(values) == 1:
            values = values[0]
        elif len({len(r) for r in values}) != 1:
            raise ValueError(f"explain: the rows of {name} have different lengths: {text_or_seq!r}")
    else:
        values = text_or_seq
    array = B.np.array(values, dtype=B.np.float64)
    if array.size == 0 or array.ndim > 2 or not B.np.isfinite(array).all():
        raise ValueError(f"explain: {name} must hold finite numbers (a vector or a matrix), got {text_or_seq!r}")
    return array


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"explain: steps must be an integer >= 1, got {steps!r}")
    if steps > MAX_STEPS:
        raise ValueError(f"explain: steps must be at most {MAX_STEPS:,} (each step is a table of every "
                         f"quantity; for long runs use minidl trajectories), got {steps:,}")


def _gradient_source(grad, function, start):
    """``(gradient of w, words, start)``: a constant gradient, or a test function's."""
    if grad is not None and function is not None:
        raise ValueError("explain: give either grad (a constant gradient) or function, not both")
    fn = None if grad is not None else functions2d.get(function or DEFAULT_FUNCTION)
    start = _numbers((fn.start if fn is not None else DEFAULT_PARAM) if start is None else start, "param")
    if fn is None:
        const = _numbers(grad, "grad")
        if const.shape != start.shape:
            raise ValueError(f"explain: grad has shape {const.shape}, param {start.shape}; they must match")
        words = f"constant gradient g = {_show(const)}"
        return (lambda w: B.xp().asarray(const)), words, start
    if fn.name == "sphere":                # g = w, whatever the shape
        return (lambda w: w.copy()), f"g_t = gradient of sphere, f = |w|^2 / 2, so g_t = w_{{t-1}}", start
    if start.shape != (2,):
        raise ValueError(f"explain: the test function {fn.name} needs a 2-element param, got shape {start.shape}")
    return fn.grad, f"g_t = gradient of {fn.name}, {fn.formula}, at w_{{t-1}}", start


def _show(array) -> str:
    if array.ndim == 1:
        return "[" + ", ".join(f"{v:g}" for v in array) + "]"
    return "[" + "; ".join(", ".join(f"{v:g}" for v in row) for row in array) + "]"


def _optimizer(spec, start, param_given):
    """The optimizer on a twin Parameter at ``start``; a matrix-wise optimizer that refuses a
    vector gets :data:`DEFAULT_MATRIX` when no param was given."""
    xp = B.xp()
    twin = Parameter(xp.array(start, dtype=B.np.float64), name="w")     # (a copy: the twin moves)
    try:
        return spec.create([twin]), twin, start
    except ValueError:
        if param_given or start.ndim != 1:
            raise
    start = B.np.array(DEFAULT_MATRIX)
    twin = Parameter(xp.array(start), name="w")
    return spec.create([twin]), twin, start


def explain(optimizer, steps: int = 3, param=None, grad=None, function=None,
            convention: str = "keras") -> ExplainResult:
    """Run ``steps`` steps of ``optimizer`` (a name or row spec) and collect every quantity.

    The gradient is ``grad`` (the same at every step) when given, else the gradient of
    ``function`` (default ``sphere``, f = ||w||^2 / 2, g = w) at the current point.
    ``param`` defaults to ``function``'s start, (1, -2) for sphere.  float64 throughout.
    """
    spec = optimizer if isinstance(optimizer, RowSpec) else parse_spec(optimizer, default_convention=convention)
    _check_steps(steps)
    gradient, source, start = _gradient_source(grad, function, param)
    opt, twin, start = _optimizer(spec, start, param is not None)
    group = opt.param_groups[0]
    result = ExplainResult(spec, {k: v for k, v in group.items() if k != "params"}, start, source,
                           optimizer_name=type(opt).__name__)
    lines = rule_for(type(opt), opt.convention)
    if not lines:
        result.note = (f"NOTE: {type(opt).__name__}'s docstring has no 'Rule ({opt.convention}):' block of formula "
                       "lines, so only its inputs are shown and its steps only checked against opt.step() "
                       "(docs/your-own-optimizer.md shows the format)")
    w = B.xp().array(start, dtype=B.np.float64)
    state = opt.init_state(w, group)
    for _ in range(steps):
        g_in = gradient(w)
        rows = [("w_{t-1}", "the weights before the step", w.copy()), ("g_t", source, g_in.copy())]
        g, base_values, renamed = _base_steps(opt, w, g_in, group, rows)
        if getattr(type(opt), "FLAT_VECTOR", False):      # L-BFGS: the rule sees one flat vector
            traced = trace_update(opt, w.reshape(-1), g.reshape(-1), state, group)
        else:
            traced = trace_update(opt, w, g, state, group)
        helpers = {k: v for name, local in traced.items() if name != "update" for k, v in local.items()}
        rows.extend(_rule_rows(lines, {**helpers, **traced.get("update", {}), **base_values}, renamed))
        result.steps.append([(s, d, _host(v)) for s, d, v in rows])
        twin.grad = g_in.copy()
        opt.step()
        diff = float(B.np.max(B.np.abs(B.to_numpy(twin.data) - B.to_numpy(w))))
        result.max_step_difference = max(result.max_step_difference, diff)
    return result


def _base_steps(opt, w, g, group, rows):
    """What ``step()`` does before the rule, on ``w`` (in place) and ``g``: rows for each part
    that is switched on, the values for the docstring's base symbols (``w_decayed``), and what
    the rule's inputs are now called (``{"g_t": "g_clipped" or "g_l2", "w_{t-1}": "w_decayed"}``)."""
    values, renamed = {}, {}
    if any(group.get(k) is not None for k in ("clipnorm", "global_clipnorm", "clipvalue")):
        g = clipping.clip_gradients([g], group)[0]
        renamed["g_t"] = "g_clipped"
        rows.append(("g_clipped", "the gradient clipped (clipnorm={clipnorm}, global_clipnorm={global_clipnorm}, "
                                  "clipvalue={clipvalue})".format(**group), g.copy()))
    if group["weight_decay"]:
        if opt.decouples_weight_decay(group):
            weight_decay.apply(w, g, group, True)
            values["w_decayed"] = w.copy()
            if "w_decayed" not in {line.lhs for line in rule_for(type(opt), opt.convention)}:
                rows.append(("w_decayed", "w_decayed = w_{t-1} * (1 - lr * weight_decay)   "
                                          "(decoupled weight decay; the rule starts from w_decayed)", w.copy()))
                renamed["w_{t-1}"] = "w_decayed"
        else:
            g = weight_decay.apply(w, g, group, False)
            rows.append(("g_l2", f"g_l2 = {renamed.get('g_t', 'g_t')} + weight_decay * w_{{t-1}}   (L2 weight "
                                 "decay; the rule sees g_l2)", g.copy()))
            renamed["g_t"] = "g_l2"
    return g, values, renamed


def _rule_rows(lines, values, renamed=None) -> list:
    """One row per formula line whose quantity the code computed (a branch not taken has none);
    in its formula the rule's inputs carry the names of the quantities they are (``renamed``)."""
    rows = []
    for line in lines:
        name = next((n for n in local_names(line.lhs) if n in values), None)
        if name is not None:
            rows.append((line.lhs, _rename(line.text, line.lhs, renamed or {}), values[name]))
    return rows


def _rename(text: str, lhs: str, renamed: dict) -> str:
    """``text`` (a formula line ``lhs = ...   (a note)``) with each input of ``renamed`` replaced
    in the formula's right-hand side, not in the note (``g_t`` as a whole symbol: ``g_t^2``
    becomes ``g_l2^2``)."""
    head, eq, tail = text.partition("=")
    if not eq or head.strip() != lhs:
        return text
    formula, gap, note = tail.partition("   (")          # a note after the formula keeps its words
    for old, new in renamed.items():
        formula = re.sub(rf"(?<![\w{{]){re.escape(old)}(?![\w{{])", new, formula)
    return head + eq + formula + gap + note


def _host(value):
    if B.is_array(value):
        return B.to_numpy(value).copy()
    return value


# ------------------------------------------------------------------ formatting
def _fmt(value, digits: int) -> str:
    if isinstance(value, (bool, type(None), str, int)):
        return str(value)
    return f"{float(value):.{digits}g}"


def _cells(value, width: int, digits: int) -> list:
    """The value split over ``width`` columns: one per element, a scalar in the first."""
    arr = None if isinstance(value, (bool, type(None), str)) else B.np.asarray(value)
    if arr is None or arr.ndim == 0:
        return [_fmt(value if arr is None else arr.item(), digits)] + [""] * (width - 1)
    flat = arr.ravel()
    if flat.size > width:
        return [f"[{', '.join(_fmt(x, digits) for x in flat)}]"] + [""] * (width - 1)
    return [_fmt(x, digits) for x in flat] + [""] * (width - flat.size)


def _header(result: ExplainResult) -> list:
    spec = result.spec
    hyper = ", ".join(f"{k}={v}" for k, v in result.hyper.items()
                      if k not in ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue") or v)
    return [f"{result.optimizer_name}, {spec.convention} convention: {hyper}",
            f"w_0 = {_show(result.start)}; {result.source}; float64"] + ([result.note] if result.note else [])


def _agreement(result: ExplainResult) -> str:
    if result.agrees_with_step:
        return (f"opt.step() gives the same w_t at every step "
                f"(max |difference| = {result.max_step_difference:.3g}).")
    return f"WARNING: opt.step() differs from the table by up to {result.max_step_difference:.3g}."


def _columns(result) -> list:
    """``[0], [1]`` for a vector; ``[0,0], [0,1], ...`` for a matrix."""
    return [f"[{','.join(map(str, index))}]" for index in B.np.ndindex(*result.start.shape)]


def format_text(result: ExplainResult, digits: int = 6) -> str:
    """A fixed-width table: one row per quantity per step, one column per vector element."""
    width = result.start.size
    body = []
    for t, rows in enumerate(result.steps, start=1):
        for i, (sym, desc, val) in enumerate(rows):
            body.append([str(t) if i == 0 else "", sym, *_cells(val, width, digits), desc])
    head = ["t", "quantity", *_columns(result), "formula"]
    widths = [max(len(r[c]) for r in body + [head]) for c in range(len(head))]

    def line(cells):
        out = []
        for c, (cell, wd) in enumerate(zip(cells, widths)):
            last = c == len(cells) - 1
            out.append(cell if last else (cell.rjust(wd) if c == 0 or 2 <= c < 2 + width else cell.ljust(wd)))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * (7 if c == len(widths) - 1 else wd) for c, wd in enumerate(widths))
    lines = _header(result) + ["", line(head), sep]
    for r in body:
        if r[0] and r[0] != "1":
            lines.append("")
        lines.append(line(r))
    return "\n".join(lines + ["", _agreement(result)])


def format_markdown(result: ExplainResult, digits: int = 6) -> str:
    """The same table in Markdown (for docs/)."""
    width = result.start.size
    head = "| t | quantity | " + " | ".join(_columns(result)) + " | formula |"
    sep = "|---:|---|" + "---:|" * width + "---|"
    first, second = _header(result)
    lines = [f"{first}  ", second, "", head, sep]
    for t, rows in enumerate(result.steps, start=1):
        for i, (sym, desc, val) in enumerate(rows):
            cells = " | ".join(_cells(val, width, digits))
            formula = desc.replace("|", "\\|")        # a | inside a table cell must be escaped
            lines.append(f"| {t if i == 0 else ''} | `{sym}` | {cells} | `{formula}` |")
    return "\n".join(lines + ["", _agreement(result)])


# ------------------------------------------------------------------ LaTeX
_GREEK = {"alpha": r"\alpha", "beta": r"\beta", "beta1": r"\beta_1", "beta2": r"\beta_2", "eps": r"\epsilon",
          "eps1": r"\epsilon_1", "eps2": r"\epsilon_2", "rho": r"\rho", "mu": r"\mu", "eta": r"\eta",
          "lambda": r"\lambda", "sigma": r"\sigma", "delta": r"\delta", "theta": r"\theta", "phi": r"\phi",
          "lr": r"\eta", "psi": r"\psi", "gamma": r"\gamma", "tau": r"\tau", "kappa": r"\kappa"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_(?:\{[^}]*\}|[A-Za-z0-9]+))*")


def latex_symbol(name: str) -> str:
    """``v_hat_t`` -> ``\\hat{v}_{t}``, ``m_{t-1}`` -> ``m_{t-1}``, ``beta1`` -> ``\\beta_1``,
    ``bias1_t`` -> ``\\mathrm{bias1}_{t}``: the formula's names as a paper sets them."""
    base, _, rest = name.partition("_")
    parts = [p for p in re.split(r"_(?![^{]*\})", rest) if p] if rest else []
    hat = parts and parts[0] in ("hat", "bar", "max", "prev", "next", "decayed")
    accent = parts.pop(0) if hat else None
    head = _GREEK.get(base, base if len(base) == 1 else rf"\mathrm{{{base}}}")
    if accent in ("hat", "bar"):
        head = rf"\{accent}{{{head}}}"
    elif accent:
        head = rf"{head}^{{\mathrm{{{accent}}}}}"
    if parts:
        sub = ",".join(p.strip("{}") for p in parts)
        own = re.fullmatch(r"(\\[A-Za-z]+)_(\w+)", head)     # \beta_2 and a subscript: \beta_{2,t}, not \beta_2_{t}
        head = f"{own.group(1)}_{{{own.group(2)},{sub}}}" if own else head + f"_{{{sub}}}"
    return head


def _closing(text: str, start: int) -> int:
    """The index just past the parenthesis that closes the one at ``text[start]``."""
    depth, j = 1, start + 1
    while j < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        j += 1
    return j


def latex_formula(text: str) -> str:
    """A formula line of a docstring in LaTeX: names as :func:`latex_symbol`, ``sqrt(x)`` as
    ``\\sqrt{x}``, ``*`` as a thin space, an exponent (a name, a number or a parenthesis)
    braced, and a base that has a superscript of its own braced too (no double superscript)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("sqrt(", i):
            j = _closing(text, i + 4)
            out.append(r"\sqrt{" + latex_formula(text[i + 5:j - 1]) + "}")
            i = j
            continue
        match = _NAME.match(text, i)
        if match and (i == 0 or not text[i - 1].isalnum()):
            out.append(latex_symbol(match.group()))
            i = match.end()
            continue
        if text[i] == "^":
            i, exponent = _exponent(text, i + 1)
            if out and "^" in out[-1]:
                out[-1] = "{" + out[-1] + "}"
            out.append("^{" + exponent + "}")
            continue
        out.append({"*": r" \, ", "%": r"\%", "#": r"\#", "&": r"\&"}.get(text[i], text[i]))
        i += 1
    return "".join(out)


def _exponent(text: str, i: int):
    """The exponent that starts at ``text[i]`` in LaTeX, and the index after it."""
    if i < len(text) and text[i] == "(":
        j = _closing(text, i)
        return j, "(" + latex_formula(text[i + 1:j - 1]) + ")"
    match = _NAME.match(text, i)
    if match:
        return match.end(), latex_symbol(match.group())
    number = re.match(r"-?[0-9.]+", text[i:])
    if number:
        return i + number.end(), number.group()
    return i, ""


_TEXT_ESCAPES = {"_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "{": r"\{", "}": r"\}", "$": r"\$",
                 "^": r"\textasciicircum{}", "|": r"\textbar{}", "~": r"\textasciitilde{}", "\\": r"\textbackslash{}"}


def _latex_text(text: str) -> str:
    """Words in a LaTeX table cell: every character TeX treats specially escaped."""
    return "".join(_TEXT_ESCAPES.get(c, c) for c in text)


def format_latex(result: ExplainResult, digits: int = 6) -> str:
    """The same table as a LaTeX ``tabular`` (booktabs rules), every formula in math mode."""
    width = result.start.size
    cols = "r l " + "r " * width + "l"
    head = " & ".join(["$t$", "quantity", *[f"${c}$" for c in _columns(result)], "formula"])
    lines = [f"% {line}" for line in _header(result)]
    lines += [rf"\begin{{tabular}}{{{cols}}}", r"\toprule", head + r" \\", r"\midrule"]
    for t, rows in enumerate(result.steps, start=1):
        if t > 1:
            lines.append(r"\midrule")
        for i, (sym, desc, val) in enumerate(rows):
            lhs, sep, rhs = desc.partition(" = ")
            if sep and i >= 2:                    # a formula line (the first two rows are words)
                formula = f"${latex_formula(desc.split('   (')[0])}$"
            else:
                formula = _latex_text(desc)
            cells = [c.replace("e-", r"\mathrm{e}{-}") for c in _cells(val, width, digits)]
            lines.append(" & ".join([str(t) if i == 0 else "", f"${latex_symbol(sym)}$",
                                     *[f"${c}$" if c else "" for c in cells], formula]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", f"% {_agreement(result)}"]
    return "\n".join(lines)


# ------------------------------------------------------------------ conventions side by side
def compare_conventions(optimizer, steps: int = 2, param=None, grad=None, function=None) -> dict:
    """``{convention: ExplainResult}``: the same optimizer, inputs and steps under each of its
    conventions (a spec's own ``convention=`` is ignored), so their numbers can sit side by side."""
    spec = optimizer if isinstance(optimizer, RowSpec) else parse_spec(optimizer)
    cls = optim.resolve(spec.optimizer)
    results = {}
    for convention in cls.DEFAULTS:
        hyper = {k: v for k, v in spec.hyper.items()
                 if k in optim.optimizer.default_hyperparameters(cls, convention)}
        other = RowSpec(label=spec.label, optimizer=spec.optimizer, hyper=hyper, convention=convention)
        results[convention] = explain(other, steps=steps, param=param, grad=grad, function=function)
    if param is None and len({tuple(B.np.ravel(r.start)) for r in results.values()}) > 1:
        # one convention's rule takes matrices only (torch's Muon): every column starts from the matrix
        return compare_conventions(spec, steps, B.np.array(DEFAULT_MATRIX), grad, function)
    return results


def format_conventions(results: dict, digits: int = 6, markdown: bool = False) -> str:
    """Every quantity of every step, one column per convention (each value a vector in one cell)."""
    conventions = list(results)
    first = next(iter(results.values()))
    steps = len(first.steps)
    head = ["t", "quantity", *conventions]
    body = []
    for t in range(steps):
        symbols = []
        for r in results.values():
            symbols += [s for s, _, _ in r.steps[t] if s not in symbols]
        for k, sym in enumerate(symbols):
            cells = []
            for r in results.values():
                found = [v for s, _, v in r.steps[t] if s == sym]
                cells.append(_one_cell(found[0], digits) if found else "-")
            body.append([str(t + 1) if k == 0 else "", sym, *cells])
    title = (f"{first.optimizer_name} under each convention, the same inputs: w_0 = {_show(first.start)}; "
             f"{first.source}")
    defaults = "; ".join(f"{c}: " + ", ".join(f"{k}={v}" for k, v in r.hyper.items()
                                               if k not in ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue") or v)
                         for c, r in results.items())
    if markdown:
        lines = [title + "  ", f"({defaults})", "", "| " + " | ".join(head) + " |",
                 "|---:|---|" + "---:|" * len(conventions)]
        lines += ["| " + " | ".join(r[:2] + [c.replace("|", "\\|") for c in r[2:]]) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[c]) for r in body + [head]) for c in range(len(head))]
    rows = [head, ["-" * w for w in widths]] + body
    text = ["  ".join(cell.ljust(w) if c < 2 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]
    return "\n".join([title, f"({defaults})", ""] + text)


def _one_cell(value, digits) -> str:
    cells = [c for c in _cells(value, 1, digits) if c]
    return cells[0] if cells else ""
