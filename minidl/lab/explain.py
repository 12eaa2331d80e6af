"""Every intermediate quantity of an optimizer's first steps, as a table to check by hand.

The numbers come from the optimizer's teaching path,
``opt.reference_step(w, g, state, group)``, which returns the quantities of its
docstring formula in the order it computes them.  The same steps are also run
through ``opt.step()`` (the fast path that trains networks) on a twin parameter,
and the table says whether the two agree.

Weight decay and gradient clipping, which the base class applies before any
rule, are shown as their own rows when a spec turns them on.

    >>> from minidl.lab.explain import explain, format_text
    >>> print(format_text(explain("adam", steps=2)))        # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from minidl import backend as B
from minidl.lab import functions2d
from minidl.lab.specs import RowSpec, parse_spec

DEFAULT_PARAM = (1.0, -2.0)
DEFAULT_FUNCTION = "sphere"  # f = (x^2 + y^2) / 2, so g = w


@dataclass
class ExplainResult:
    spec: RowSpec
    hyper: dict  # the group's hyperparameters (defaults filled in)
    start: tuple
    source: str  # where the gradient comes from, in words
    steps: list = field(default_factory=list)  # per step: list of (symbol, description, host value)
    max_step_difference: float = 0.0  # max |reference_step w_t - opt.step() w_t| over the steps

    @property
    def agrees_with_step(self) -> bool:
        return self.max_step_difference <= 1e-12 * max(1.0, self._scale())

    def _scale(self):
        values = [abs(float(x)) for q in self.steps for (_, _, v) in q if v is not None
                  for x in B.np.atleast_1d(v).ravel()]
        return max(values) if values else 1.0


def _vector(text_or_seq, name):
    if isinstance(text_or_seq, str):
        parts = [p for p in text_or_seq.replace(" ", "").split(",") if p]
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"explain: {name} must be numbers separated by commas, like 1,-2; got {text_or_seq!r}") from None
    else:
        values = tuple(float(v) for v in text_or_seq)
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"explain: {name} must hold finite numbers, got {text_or_seq!r}")
    return values


def explain(optimizer, steps: int = 3, param=None, grad=None, function=None,
            convention: str = "keras") -> ExplainResult:
    """Run ``steps`` teaching steps of ``optimizer`` (a name or row spec) and collect every quantity.

    The gradient is ``grad`` (the same at every step) when given, else the
    gradient of ``function`` (default ``sphere``, f = ||w||^2 / 2, g = w) at the
    current point.  ``param`` defaults to ``function``'s start, (1, -2) for sphere.
    """
    from minidl import optim
    from minidl.optim import clipping, weight_decay
    from minidl.tensor import Parameter

    spec = optimizer if isinstance(optimizer, RowSpec) else parse_spec(optimizer, default_convention=convention)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"explain: steps must be an integer >= 1, got {steps!r}")
    if grad is not None and function is not None:
        raise ValueError("explain: give either grad (a constant gradient) or function, not both")
    fn = None
    if grad is None:
        fn = functions2d.get(function or DEFAULT_FUNCTION)
    if param is None:
        start = fn.start if fn is not None else DEFAULT_PARAM
    else:
        start = _vector(param, "param")
    if grad is not None:
        const_g = _vector(grad, "grad")
        if len(const_g) != len(start):
            raise ValueError(f"explain: grad has {len(const_g)} numbers, param {len(start)}; they must match")
        source = f"constant gradient g = [{', '.join(f'{v:g}' for v in const_g)}]"
    else:
        if len(start) != 2:
            raise ValueError(f"explain: a test function needs a 2-element param, got {len(start)} numbers")
        source = f"g_t = gradient of {fn.name}, {fn.formula}, at w_{{t-1}}"

    xp = B.xp()
    dt = B.np.float64
    twin = Parameter(xp.asarray(start, dtype=dt), name="w")
    opt = optim.create(spec.optimizer, [twin], convention=spec.convention, **spec.hyper)
    group = opt.param_groups[0]
    hyper = {k: v for k, v in group.items() if k != "params"}
    decoupled = opt._decoupled_weight_decay()
    # AdamW's reference_step shows its own (decoupled) decay as its first quantity; for the
    # others the base class applies weight decay before the rule, so it is shown here
    own_decay = getattr(type(opt), "REFERENCE_STEP_APPLIES_WEIGHT_DECAY", type(opt).DECOUPLED_WEIGHT_DECAY)

    w = xp.asarray(start, dtype=dt)
    state = opt.initial_state(w, group)
    result = ExplainResult(spec, hyper, tuple(start), source)
    for _ in range(steps):
        g = xp.asarray(const_g, dtype=dt) if grad is not None else fn.grad(w)
        rows = [("w_{t-1}", "weights before the step", w)]
        # what the base class does before the rule (only shown when switched on)
        g_rule = g
        if group["clipnorm"] is not None or group["clipvalue"] is not None:
            rows.append(("g_raw", "gradient before clipping", g))
            g_rule = clipping.clip_gradients([g], group["clipnorm"], group["clipvalue"])[0]
            rows.append(("g_clip", f"clipped gradient (clipnorm={group['clipnorm']}, "
                                   f"clipvalue={group['clipvalue']})", g_rule))
        w_rule = w
        if group["weight_decay"] and not own_decay:
            w_rule = w.copy()
            g_rule = weight_decay.apply(w_rule, g_rule, group, decoupled)
            if decoupled:
                rows.append(("w_decayed", "decoupled weight decay w <- w - lr * wd * w", w_rule))
            else:
                rows.append(("g_l2", "L2 weight decay g <- g + wd * w", g_rule))
        w_new, state, quantities = opt.reference_step(w_rule, g_rule, state, group)
        rows.extend(quantities)
        result.steps.append([(s, d, _host(v)) for s, d, v in rows])

        twin.grad = g.copy()
        opt.step()
        diff = float(B.np.max(B.np.abs(B.to_numpy(twin.data) - B.to_numpy(w_new))))
        result.max_step_difference = max(result.max_step_difference, diff)
        w = w_new
    return result


def _host(value):
    if B.is_array(value):
        return B.to_numpy(value).copy()
    return value


# ------------------------------------------------------------------ formatting
def _fmt(value, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}g}"


def _cells(value, width: int, digits: int) -> list:
    """The value split over ``width`` columns: one per element, a scalar in the first."""
    arr = B.np.asarray(value) if not isinstance(value, (bool, type(None))) else None
    if arr is None or arr.ndim == 0:
        return [_fmt(value if arr is None else arr.item(), digits)] + [""] * (width - 1)
    flat = arr.ravel()
    if flat.size > width:
        return [f"[{', '.join(_fmt(x, digits) for x in flat)}]"] + [""] * (width - 1)
    return [_fmt(x, digits) for x in flat] + [""] * (width - flat.size)


def _header(result: ExplainResult) -> list:
    spec = result.spec
    cls = _class_name(spec.optimizer)
    hyper = ", ".join(f"{k}={v}" for k, v in result.hyper.items()
                      if k not in ("weight_decay", "clipnorm", "clipvalue") or v)
    return [f"{cls}, {spec.convention} convention: {hyper}",
            f"w_0 = [{', '.join(f'{v:g}' for v in result.start)}]; {result.source}; float64"]


def _class_name(name):
    from minidl import optim

    return optim.REGISTRY[name].__name__


def _agreement(result: ExplainResult) -> str:
    if result.agrees_with_step:
        return (f"opt.step() gives the same w_t at every step "
                f"(max |difference| = {result.max_step_difference:.3g}).")
    return (f"WARNING: opt.step() differs from reference_step by up to {result.max_step_difference:.3g}.")


def format_text(result: ExplainResult, digits: int = 6) -> str:
    """A fixed-width table: one row per quantity per step, one column per vector element."""
    width = len(result.start)
    cols = [f"[{i}]" for i in range(width)]
    body = []
    for t, rows in enumerate(result.steps, start=1):
        for i, (sym, desc, val) in enumerate(rows):
            body.append([str(t) if i == 0 else "", sym, *_cells(val, width, digits), desc])
    head = ["t", "quantity", *cols, "meaning"]
    widths = [max(len(r[c]) for r in body + [head]) for c in range(len(head))]
    widths[-1] = 0

    def line(cells):
        out = []
        for c, (cell, wd) in enumerate(zip(cells, widths)):
            if c == len(cells) - 1:
                out.append(cell)
            elif 2 <= c < 2 + width or c == 0:
                out.append(cell.rjust(wd))
            else:
                out.append(cell.ljust(wd))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * max(wd, 7) if c == len(widths) - 1 else "-" * wd for c, wd in enumerate(widths))
    lines = _header(result) + ["", line(head), sep]
    prev_t = None
    for r in body:
        if r[0] and prev_t is not None:
            lines.append("")
        prev_t = r[0] or prev_t
        lines.append(line(r))
    lines += ["", _agreement(result)]
    return "\n".join(lines)


def format_markdown(result: ExplainResult, digits: int = 6) -> str:
    """The same table in Markdown (for docs/)."""
    width = len(result.start)
    head = "| t | quantity | " + " | ".join(f"[{i}]" for i in range(width)) + " | meaning |"
    sep = "|---:|---|" + "---:|" * width + "---|"
    first, second = _header(result)
    lines = [f"{first}  ", second, "", head, sep]
    for t, rows in enumerate(result.steps, start=1):
        for i, (sym, desc, val) in enumerate(rows):
            cells = _cells(val, width, digits)
            lines.append(f"| {t if i == 0 else ''} | `{sym}` | " + " | ".join(cells) + f" | {desc} |")
    lines += ["", _agreement(result)]
    return "\n".join(lines)
