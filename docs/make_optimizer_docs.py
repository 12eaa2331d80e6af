"""Fill the generated blocks of docs/optimizers.md and docs/tour.md from the code.

The prose of those pages is written by hand; every block between a marker and its end
marker is made here, from the code, so that it cannot drift from it::

    <!-- contents -->                    the table of every optimizer in optim.REGISTRY: what it is,
                                         its conventions, elementwise or not, the torch.optim and
                                         keras.optimizers classes its parity tests compare it with
    <!-- rule: adam -->                  the "Rule (...)" blocks of the class docstring, verbatim
    <!-- defaults: adam -->              the class's DEFAULTS as a table, one column per convention
    <!-- source: minidl/optim/adam.py Adam.update -->
                                         the source of a function or method, verbatim (dedented)
    <!-- explain: adam --steps 2 -->     the command and the table ``minidl explain`` prints
                                         (``SPEC [--convention C] --steps N [--digits D]
                                         [--param W] [--grad G]``, as the command takes them:
                                         ``--param '1,-2;0.5,1.5'`` is a matrix, quoted for the shell)
    <!-- conventions: adam --steps 2 --> w_1 .. w_N under every convention of the class
    ...                                  (the generated lines)
    <!-- /explain -->                    the end marker names the kind again

Usage::

    python docs/make_optimizer_docs.py            # rewrite the blocks in place
    python docs/make_optimizer_docs.py --check    # exit 1, naming the stale blocks, if any
    python docs/make_optimizer_docs.py --new lion # print an empty section for a new optimizer

``tests/test_docs.py`` checks that the committed pages equal what this script makes.
To document a new optimizer: register it in ``minidl/optim/__init__.py``, paste the output
of ``--new NAME`` where its section belongs in docs/optimizers.md, write its prose around
the markers (a rule that is not elementwise gets a "Matrix-wise" paragraph and a worked
example on a matrix), and run the script. The contents table reads each optimizer's torch
and Keras counterparts from ``tests/optim_cases`` (the classes its parity tests run).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import re
import shlex
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests"):          # tests/: the optimizer table's torch and Keras counterparts
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from minidl import optim  # noqa: E402
from minidl.fileio import atomic_write  # noqa: E402
from minidl.lab.explain import explain, format_markdown  # noqa: E402

PAGES = [ROOT / "docs" / "optimizers.md", ROOT / "docs" / "tour.md"]
KINDS = ("contents", "rule", "defaults", "source", "explain", "conventions")
BLOCK = re.compile(r"<!-- (?P<kind>" + "|".join(KINDS) + r")(?::[ \t]*(?P<args>[^\n]*?))?[ \t]*-->\n"
                   r"(?P<body>.*?)<!-- /(?P=kind) -->", re.S)
_RULE_HEADER = re.compile(r"^Rule \([^)]*\):")
#: digits of the w_t values in a ``conventions`` table (enough to tell keras from pytorch Adam)
CONVENTION_DIGITS = 12


# ------------------------------------------------------------------ what a marker names
def optimizer_class(name: str):
    """The class registered as ``name`` (``adam`` -> ``optim.Adam``)."""
    if name not in optim.REGISTRY:
        raise ValueError(f"docs marker names optimizer {name!r}; registered: {', '.join(optim.available())}")
    return optim.REGISTRY[name]


def source_object(args: str):
    """``"minidl/optim/adam.py Adam.update"`` -> (path, the function it names)."""
    parts = args.split()
    if len(parts) != 2 or not parts[0].endswith(".py"):
        raise ValueError(f"a source marker is 'path/to/file.py Qualified.name', got {args!r}")
    path, qualname = parts
    module = importlib.import_module(path[: -len(".py")].replace("/", "."))
    obj = module
    for attr in qualname.split("."):
        obj = getattr(obj, attr)
    return path, obj


def explain_arguments(args: str) -> argparse.Namespace:
    """The arguments of an ``explain`` marker, as ``minidl explain`` reads them."""
    parser = argparse.ArgumentParser(prog="explain marker", add_help=False, exit_on_error=False)
    parser.add_argument("spec")
    parser.add_argument("--convention", default="keras")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--digits", type=int, default=6)
    parser.add_argument("--param", default=None)
    parser.add_argument("--grad", default=None)
    try:
        return parser.parse_args(shlex.split(args))
    except (argparse.ArgumentError, SystemExit):
        raise ValueError(f"an explain marker is 'SPEC [--convention C] --steps N [--digits D] [--param W] "
                         f"[--grad G]', got {args!r}") from None


def explained(a: argparse.Namespace, convention: str | None = None):
    """``minidl explain``'s result for the arguments of a marker (under ``convention`` if given)."""
    return explain(a.spec, steps=a.steps, convention=convention or a.convention, param=a.param, grad=a.grad)


# ------------------------------------------------------------------ the blocks
def source_text(obj) -> str:
    """The source of ``obj`` exactly as in its file, dedented."""
    return textwrap.dedent(inspect.getsource(obj)).rstrip("\n")


def rule_text(cls) -> str:
    """The docstring's ``Rule (...)`` blocks, verbatim: each header (with the lines that
    continue it) and its indented formula lines."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if not _RULE_HEADER.match(lines[i]):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].strip():          # the header and its continuation
            block.append(lines[i])
            i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            block.append(lines[i])                          # the formula lines (and blank lines)
            i += 1
        while block and not block[-1].strip():
            block.pop()
        blocks.append("\n".join(block))
    if not blocks:
        raise ValueError(f"{cls.__name__}'s docstring has no 'Rule (<conventions>):' block")
    return "\n\n".join(blocks)


def _value(v) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def defaults_table(cls) -> str:
    conventions = list(cls.DEFAULTS)
    names = list(dict.fromkeys(k for c in conventions for k in cls.DEFAULTS[c]))
    rows = ["| hyperparameter | " + " | ".join(conventions) + " |", "|---|" + "---|" * len(conventions)]
    for name in names:
        cells = [_value(cls.DEFAULTS[c][name]) if name in cls.DEFAULTS[c] else "—" for c in conventions]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def explain_block(args: str) -> str:
    a = explain_arguments(args)
    table = format_markdown(explained(a), digits=a.digits)
    return f"`python -m minidl explain {args} --format markdown`:\n\n{table}"


def _weights(w) -> str:
    """``[a, b]`` for a vector, ``[a, b; c, d]`` for a matrix (rows split by ';', as ``--param``)."""
    rows = w if w.ndim == 2 else [w]
    return "[" + "; ".join(", ".join(f"{x:.{CONVENTION_DIGITS}g}" for x in row) for row in rows) + "]"


def conventions_block(args: str) -> str:
    a = explain_arguments(args)
    cls = optimizer_class(a.spec)
    head = ["| convention | " + " | ".join(f"w_{t}" for t in range(1, a.steps + 1)) + " |",
            "|---|" + "---|" * a.steps]
    for convention in cls.DEFAULTS:
        result = explained(a, convention)
        cells = []
        for rows in result.steps:
            w = next(v for symbol, _, v in rows if symbol == "w_t")
            cells.append(_weights(w))
        head.append(f"| {convention} | " + " | ".join(cells) + " |")
    start = "".join(f" --{k} {shlex.quote(v)}" for k, v in (("param", a.param), ("grad", a.grad)) if v is not None)
    command = (f"python -m minidl explain {a.spec} --convention C --steps {a.steps}{start} "
               f"--digits {CONVENTION_DIGITS}")
    return (f"The `w_t` rows of `{command}`, for each convention C, with its defaults:\n\n"
            + "\n".join(head))


def _tests_of(name: str) -> str:
    """The module of ``tests/optim_cases/`` that holds the optimizer's cases, where there is one."""
    import optim_cases

    modules = {m.SPEC.name: m for m in vars(optim_cases).values() if inspect.ismodule(m) and hasattr(m, "SPEC")}
    if name not in modules:
        return "—"
    path = Path(modules[name].__file__).resolve().relative_to(ROOT).as_posix()
    return f"[{path}](../{path})"


_CITATION = re.compile(r"\b(19|20)\d\d\b")
#: where a summary goes on to name the framework class it follows (the table has a column for that)
_FOLLOWS = re.compile(r",? (as|and) (Keras 3|torch|``torch|``keras)")


def _closing(text: str, i: int) -> int | None:
    """The index of the parenthesis that closes the one at ``text[i]``; None if none does."""
    depth = 0
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return None


def _without_citations(text: str) -> str:
    """``text`` without its parentheses that hold a year (the paper it cites); a parenthesis
    that is never closed is kept as written."""
    out, i = "", 0
    while i < len(text):
        j = _closing(text, i) if text[i] == "(" else None
        if j is not None and _CITATION.search(text[i:j + 1]):
            out, i = out.rstrip(), j + 1
            continue
        out, i = out + text[i], i + 1
    return out


def summary_of(cls) -> str:
    """What the optimizer is, from the first paragraph of its docstring: without the class's name,
    the papers it cites (its section names them) and the framework class it follows."""
    first = " ".join(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].split())
    first = re.sub(r"^[\w-]+: ", "", first)             # "Adam: ...", "L-BFGS: ..."
    first = _FOLLOWS.split(_without_citations(first))[0].rstrip(".")
    return first.replace("``", "`") + "."


def counterparts() -> dict:
    """``{name: (torch.optim class or None, keras.optimizers class or None)}``: the classes the
    parity tests of tests/optim_cases compare each optimizer with."""
    from optim_cases import TABLE

    return {name: (spec.torch, spec.keras_class) for name, spec in TABLE.items()}


def contents_table() -> str:
    rows = ["| optimizer | what it is | conventions | elementwise | torch.optim | keras.optimizers | code | tests |",
            "|---|---|---|---|---|---|---|---|"]
    frameworks = counterparts()
    for name, cls in optim.REGISTRY.items():
        code = Path(inspect.getsourcefile(cls)).resolve().relative_to(ROOT).as_posix()
        torch_cls, keras_cls = frameworks.get(name, (None, None))
        rows.append(f"| [{cls.__name__}](#{cls.__name__.lower()}) | {summary_of(cls)} | {', '.join(cls.DEFAULTS)} "
                    f"| {'yes' if cls.ELEMENTWISE else '**no**'} | {f'`{torch_cls}`' if torch_cls else '—'} "
                    f"| {f'`{keras_cls}`' if keras_cls else '—'} | [{code}](../{code}) | {_tests_of(name)} |")
    return "\n".join(rows)


def render(kind: str, args: str) -> str:
    """The generated text of one block (without its markers)."""
    if kind == "contents":
        text = contents_table()
    elif kind == "rule":
        text = "```text\n" + rule_text(optimizer_class(args)) + "\n```"
    elif kind == "defaults":
        text = defaults_table(optimizer_class(args))
    elif kind == "source":
        text = "```python\n" + source_text(source_object(args)[1]) + "\n```"
    elif kind == "explain":
        text = explain_block(args)
    else:
        text = conventions_block(args)
    return "\n" + text + "\n\n"


# ------------------------------------------------------------------ pages
def blocks(page_text: str) -> list:
    """``[(kind, args, body)]`` for every generated block of a page, in order."""
    return [(m["kind"], (m["args"] or "").strip(), m["body"]) for m in BLOCK.finditer(page_text)]


def refresh(page_text: str) -> str:
    """The page with every block's body made anew."""
    return BLOCK.sub(lambda m: f"<!-- {m['kind']}{': ' + m['args'].strip() if m['args'] else ''} -->\n"
                               f"{render(m['kind'], (m['args'] or '').strip())}<!-- /{m['kind']} -->",
                     page_text)


def stale(page_text: str, page_name: str = "page") -> list:
    """The blocks of a page whose body is not what the code makes now, named by their marker."""
    return [f"{page_name}: <!-- {kind}{': ' + args if args else ''} -->" for kind, args, body in blocks(page_text)
            if body != render(kind, args)]


#: the start of a worked example of a rule that is not elementwise: a 2 x 2 matrix, so that the
#: rule shows what it does across rows and columns (``--param`` as ``minidl explain`` takes it)
MATRIX_START = "--param '1,-2;0.5,1.5' "


def new_section(name: str) -> str:
    """An empty section, with every marker, for the optimizer registered as ``name``.

    A rule that is not elementwise gets the paragraph that says so (the speed layer runs it
    whole) and its worked example on a matrix; a class of several conventions gets the table of
    its weights under each."""
    cls = optimizer_class(name)
    path = Path(inspect.getsourcefile(cls)).resolve().relative_to(ROOT).as_posix()
    owner = next(k for k in cls.__mro__ if "update" in vars(k))
    start = "" if cls.ELEMENTWISE else MATRIX_START
    lines = [f"## {cls.__name__}", "", "(What it does, in a paragraph; where the sources disagree.)", "",
             "**Weight decay and clipping.** (How the base's options and the rule's own enter.)", ""]
    if not cls.ELEMENTWISE:
        lines += ["**Matrix-wise.** (What couples the elements.) So `ELEMENTWISE = False`: the speed layer "
                  "runs the rule whole.", ""]
    lines += [f"**The rule**, as the docstring states it (`help(optim.{cls.__name__})`):", "",
              f"<!-- rule: {name} -->", "<!-- /rule -->", "",
              f"**Defaults** (`{cls.__name__}.DEFAULTS`):", "", f"<!-- defaults: {name} -->", "<!-- /defaults -->", "",
              f"**The code that runs it**, `{owner.__name__}.update`, which `step()` calls once per parameter:", "",
              f"<!-- source: {path} {owner.__name__}.update -->", "<!-- /source -->", "",
              "**Worked example.**", "", f"<!-- explain: {name} {start}--steps 2 --digits 10 -->", "<!-- /explain -->",
              ""]
    if len(cls.DEFAULTS) > 1:
        lines += [f"<!-- conventions: {name} {start}--steps 2 -->", "<!-- /conventions -->", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks (exit 1 if any)")
    parser.add_argument("--new", metavar="NAME", help="print an empty section for a registered optimizer")
    args = parser.parse_args(argv)
    try:
        if args.new:
            print(new_section(args.new))
            return 0
        if args.check:
            found = [s for page in PAGES for s in stale(page.read_text(), page.name)]
            print("\n".join(found) if found else "every generated block is current")
            return 1 if found else 0
        for page in PAGES:
            text = page.read_text()
            new = refresh(text)
            if new != text:
                atomic_write(page, new)
                print(f"wrote {page.relative_to(ROOT)}")
    except ValueError as exc:
        print(f"make_optimizer_docs: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
