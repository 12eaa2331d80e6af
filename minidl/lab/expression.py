"""A test function of one's own, from a formula in x and y: ``"x**2 + 10*y**2"``.

:func:`parse` reads the text with Python's ``ast`` module and accepts only arithmetic:

* numbers, the names ``x`` and ``y``, and the constants ``pi`` and ``e``;
* ``+ - * /``, unary ``-`` and ``+``, parentheses;
* ``**`` with a constant exponent between -10 and 10 (``x**2``, ``y**-1``; not ``x**y``, and
  not ``9**9**9``);
* the functions ``sin cos tanh exp log sqrt abs`` of one argument.

Anything else (another name, an attribute, a call of something else, a lambda, a comparison, a
string) is a ``ValueError`` that names what was found.  The text is at most
:data:`MAX_LENGTH` characters and :data:`MAX_NODES` syntax nodes, so no input can make the
parser or the evaluation run away.  Nothing is passed to ``eval``: the tree is walked by
:func:`evaluate`, on numbers, arrays (the contour grid) and minidl Tensors alike, so the
gradient the optimizers see comes from minidl's autograd.

:func:`function2d` wraps a parsed formula as a :class:`~minidl.lab.functions2d.Function2D`
with a plot window and a start point.
"""
from __future__ import annotations

import ast
import math

from minidl import backend as B
from minidl import ops
from minidl.lab.functions2d import Function2D
from minidl.tensor import Tensor

MAX_LENGTH = 200
MAX_NODES = 200
MAX_EXPONENT = 10
NAMES = ("x", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}
#: function name -> (on a Tensor, on a number or an array)
FUNCTIONS = {
    "sin": (ops.sin, "sin"), "cos": (ops.cos, "cos"), "tanh": (ops.tanh, "tanh"),
    "exp": (lambda t: t.exp(), "exp"), "log": (lambda t: t.log(), "log"),
    "sqrt": (ops.sqrt, "sqrt"), "abs": (ops.absolute, "abs"),
}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}
_ALLOWED = ("x, y, pi, e, numbers, + - * / ** (a constant power), parentheses and "
            + " ".join(FUNCTIONS))


def _refuse(what: str):
    raise ValueError(f"--function: {what} is not allowed (use {_ALLOWED})")


def _constant(node) -> float | None:
    """The value of a number, or of -number, +number: None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    return None


def _check(node, callees=()) -> None:
    """Refuse, naming it, the first node that is not arithmetic in x and y (``callees``: the
    name nodes that a call calls, checked with their call)."""
    if isinstance(node, ast.Name) and id(node) in callees:
        return
    if isinstance(node, ast.Constant):
        if _constant(node) is None:
            _refuse(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id not in NAMES and node.id not in CONSTANTS:
            _refuse(f"the name {node.id!r}")
    elif isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            power = _constant(node.right)
            if power is None or abs(power) > MAX_EXPONENT:
                _refuse(f"the power {ast.unparse(node.right)!r} (a constant from -{MAX_EXPONENT} to {MAX_EXPONENT})")
        elif type(node.op) not in _BINARY:
            _refuse(f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            _refuse(f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in FUNCTIONS or node.keywords or len(node.args) != 1:
            _refuse(f"the call {name}(...)" if name not in FUNCTIONS else f"{name} with other than one argument")
    elif not isinstance(node, (ast.Expression, ast.operator, ast.unaryop, ast.Load)):
        _refuse(f"{type(node).__name__} ({ast.unparse(node) if isinstance(node, ast.expr) else '...'})")


def parse(text: str) -> ast.Expression:
    """The checked syntax tree of a formula in x and y (ValueError naming what is wrong)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("--function: expected a formula in x and y, e.g. \"x**2 + 10*y**2\"")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"--function: at most {MAX_LENGTH} characters, got {len(text)}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"--function {text!r}: not a formula ({exc.msg})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ValueError(f"--function: at most {MAX_NODES} terms and operators, got {len(nodes)}")
    callees = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        _check(node, callees)
    return tree


def _call(name: str, value):
    on_tensor, on_array = FUNCTIONS[name]
    if isinstance(value, Tensor):
        return on_tensor(value)
    xp = B.get_array_module(value) if B.is_array(value) else B.np
    return getattr(xp, on_array)(value)


def evaluate(tree, x, y):
    """The formula's value at (x, y): numbers, arrays or Tensors (then differentiable)."""
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return {"x": x, "y": y}.get(node.id, CONSTANTS.get(node.id))
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return walk(node.left) ** _constant(node.right)
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        return _call(node.func.id, walk(node.args[0]))
    return walk(tree)


def _window(window) -> tuple:
    xmin, xmax, ymin, ymax = (float(v) for v in window)
    if not (all(math.isfinite(v) for v in (xmin, xmax, ymin, ymax)) and xmin < xmax and ymin < ymax):
        raise ValueError(f"--window: expected XMIN,XMAX,YMIN,YMAX with XMIN < XMAX and YMIN < YMAX, got {window}")
    return (xmin, xmax), (ymin, ymax)


def function2d(text: str, window=(-2.0, 2.0, -2.0, 2.0), start=None, name: str = "custom") -> Function2D:
    """The formula ``text`` as a test function: drawn over ``window`` (XMIN, XMAX, YMIN, YMAX),
    started from ``start`` (default: the window's upper-left quarter point).  Its minimum is
    unknown, so a run is judged only by staying finite (:class:`Function2D` ``minimum=None``)."""
    tree = parse(text)
    xlim, ylim = _window(window)
    if start is None:
        start = (xlim[0] + 0.25 * (xlim[1] - xlim[0]), ylim[0] + 0.75 * (ylim[1] - ylim[0]))
    with B.np.errstate(all="ignore"):                 # log(-1) is reported below, as a message
        probe = evaluate(tree, B.np.float64(start[0]), B.np.float64(start[1]))
    if not math.isfinite(float(probe)):
        raise ValueError(f"--function {text!r}: not finite at the start {tuple(start)} (value {float(probe)})")
    return Function2D(name, f"f = {text.strip()}", lambda x, y: evaluate(tree, x, y), None,
                      start=tuple(float(v) for v in start), xlim=xlim, ylim=ylim, note="given with --function")
