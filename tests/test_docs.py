"""docs/optimizers.md and docs/tour.md say what the code says now.

* every quoted function (``<!-- source: path Qualified.name -->``) is, line for line, the
  function in that file;
* every optimizer of ``optim.REGISTRY`` has a section with its rule, its defaults, its
  ``update`` quoted and an ``explain`` table; a rule that is not elementwise says that the
  speed layer runs it whole; the contents table gives each one's conventions, elementwise or
  not, and its torch and Keras counterparts;
* the tour names every optimizer and quotes its ``update`` or points to its section;
* every ``explain`` table (``<!-- explain: SPEC ... -->``) is what ``minidl explain`` prints now;
* every other generated block (rules, defaults, contents, per-convention tables) is what
  ``docs/make_optimizer_docs.py`` makes from the code now.

When one fails: ``python docs/make_optimizer_docs.py`` rewrites the generated blocks; then read
the prose around the ones that changed.
"""
import importlib
import importlib.util
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from minidl import optim
from minidl.lab.explain import explain, format_markdown
from minidl.lab.formulas import rule_lines

ROOT = Path(__file__).resolve().parents[1]
OPTIMIZERS_MD = ROOT / "docs" / "optimizers.md"
TOUR_MD = ROOT / "docs" / "tour.md"
REGENERATE = "run `python docs/make_optimizer_docs.py` and read the prose around what changed"

SOURCE = re.compile(r"<!-- source: (?P<path>\S+) (?P<qualname>\S+) -->\n\n```python\n(?P<code>.*?)\n```\n\n"
                    r"<!-- /source -->", re.S)
EXPLAIN = re.compile(r"<!-- explain: (?P<args>[^\n]*?) -->\n(?P<body>.*?)<!-- /explain -->", re.S)
OPENING = re.compile(r"^<!-- (contents|rule|defaults|source|explain|conventions)(:[^\n]*)? -->$", re.M)


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_optimizer_docs", ROOT / "docs" / "make_optimizer_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


@pytest.fixture(scope="module")
def pages():
    return {"optimizers.md": OPTIMIZERS_MD.read_text(), "tour.md": TOUR_MD.read_text()}


def _resolve(path, qualname):
    obj = importlib.import_module(path[: -len(".py")].replace("/", "."))
    for attr in qualname.split("."):
        obj = getattr(obj, attr)
    return obj


def _sections(text):
    """``{heading: text}`` for every ``## heading`` of a page."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


# ------------------------------------------------------------------ quoted code
def test_every_quoted_function_is_the_function_in_its_file(pages):
    quotes = list(SOURCE.finditer(pages["optimizers.md"]))
    assert len(quotes) >= len(optim.REGISTRY), "fewer quoted functions than optimizers"
    for m in quotes + list(SOURCE.finditer(pages["tour.md"])):
        obj = _resolve(m["path"], m["qualname"])
        where = f"<!-- source: {m['path']} {m['qualname']} -->"
        assert Path(inspect.getsourcefile(obj)).resolve() == (ROOT / m["path"]).resolve(), \
            f"{where}: {m['qualname']} is defined in {inspect.getsourcefile(obj)}"
        assert m["code"] == textwrap.dedent(inspect.getsource(obj)).rstrip("\n"), f"{where} is stale: {REGENERATE}"
        # the same lines, at their indentation, are in the file itself
        first = inspect.getsourcelines(obj)[0][0]
        indent = first[: len(first) - len(first.lstrip())]
        lines = [indent + line if line else line for line in m["code"].split("\n")]
        assert "\n".join(lines) in (ROOT / m["path"]).read_text(), where


def test_every_generated_block_has_its_end_marker(pages):
    for name, text in pages.items():
        opened = len(OPENING.findall(text))
        assert opened == len(GEN.blocks(text)), f"{name}: a marker without its end marker (<!-- /kind -->)"


# ------------------------------------------------------------------ one section per optimizer
@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_registered_optimizer_has_a_section(pages, name):
    cls = optim.REGISTRY[name]
    sections = _sections(pages["optimizers.md"])
    assert cls.__name__ in sections, (f"docs/optimizers.md has no '## {cls.__name__}' section; "
                                      f"`python docs/make_optimizer_docs.py --new {name}` prints one")
    section = sections[cls.__name__]
    quoted = [_resolve(m["path"], m["qualname"]) for m in SOURCE.finditer(section)]
    assert any(obj is cls.update for obj in quoted), f"## {cls.__name__} does not quote {cls.__name__}.update"
    assert f"<!-- rule: {name} -->" in section
    assert f"<!-- defaults: {name} -->" in section
    specs = [m["args"].split()[0].split(":")[0] for m in EXPLAIN.finditer(section)]
    assert name in specs, f"## {cls.__name__} has no <!-- explain: {name} ... --> table"


@pytest.mark.parametrize("name", [n for n, cls in optim.REGISTRY.items() if not cls.ELEMENTWISE])
def test_a_rule_that_is_not_elementwise_says_the_speed_layer_runs_it_whole(pages, name):
    section = _spaces(_sections(pages["optimizers.md"])[optim.REGISTRY[name].__name__])
    assert "`ELEMENTWISE = False`" in section and re.search(r"speed layer runs (the rule|it|\w+) whole", section)


def test_the_contents_table_marks_each_rule_elementwise_or_not_with_its_counterparts(pages):
    rows = {line.split("](#")[0].lstrip("| ["): line.split(" | ") for line in pages["optimizers.md"].splitlines()
            if line.startswith("| [")}
    assert set(rows) == {cls.__name__ for cls in optim.REGISTRY.values()}
    for name, cls in optim.REGISTRY.items():
        row = rows[cls.__name__]
        assert row[2] == ", ".join(cls.DEFAULTS) and row[3] == ("yes" if cls.ELEMENTWISE else "**no**"), row
    assert rows["Muon"][4:6] == ["`Muon`", "`Muon`"] and rows["Nadam"][4:6] == ["`NAdam`", "`Nadam`"]
    assert rows["ADOPT"][4:6] == ["—", "—"]


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_the_tour_quotes_or_points_to_the_code_of_every_optimizer(pages, name):
    cls = optim.REGISTRY[name]
    quoted = [_resolve(m["path"], m["qualname"]) for m in SOURCE.finditer(pages["tour.md"])]
    anchor = f"(optimizers.md#{cls.__name__.lower()})"
    assert any(obj is cls.update for obj in quoted) or anchor in pages["tour.md"], \
        f"docs/tour.md neither quotes {cls.__name__}.update nor points to {anchor}"
    assert re.search(rf"\b{re.escape(cls.__name__)}\b", pages["tour.md"], re.I), f"tour.md never names {cls.__name__}"


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_formula_line_of_the_docstring_is_in_the_section(pages, name):
    """The rule block holds each line that ``explain`` reads from the docstring."""
    cls = optim.REGISTRY[name]
    section = _sections(pages["optimizers.md"])[cls.__name__]
    rule = section.split(f"<!-- rule: {name} -->", 1)[1].split("<!-- /rule -->", 1)[0]
    written = [_spaces(line.split("  #")[0]) for line in rule.splitlines()]
    for line in rule_lines(cls):
        assert _spaces(f"{line.lhs} = {line.rhs}") in written, f"## {cls.__name__}: {line.lhs} = {line.rhs} missing"


def _spaces(text):
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------ numbers
def test_every_explain_table_is_what_explain_prints_now(pages):
    count = 0
    for page, text in pages.items():
        for m in EXPLAIN.finditer(text):
            a = GEN.explain_arguments(m["args"])
            result = explain(a.spec, steps=a.steps, convention=a.convention, param=a.param, grad=a.grad)
            table = format_markdown(result, digits=a.digits)
            expected = f"\n`python -m minidl explain {m['args']} --format markdown`:\n\n{table}\n\n"
            assert m["body"] == expected, f"{page}: <!-- explain: {m['args']} --> is stale: {REGENERATE}"
            count += 1
    assert count >= len(optim.REGISTRY) + 9  # a table per optimizer here, nine in the tour


def test_every_generated_block_is_current(pages):
    found = [s for name, text in pages.items() for s in GEN.stale(text, name)]
    assert not found, f"stale blocks ({REGENERATE}): {found}"


def test_a_changed_line_or_number_is_reported():
    """The check above can fail: one character changed in a quote or a table is found."""
    text = OPTIMIZERS_MD.read_text()
    code_changed = text.replace("    w -= step\n", "    w += step\n", 1)
    number_changed = text.replace("| 0.1 | -0.2 |", "| 0.1 | -0.3 |", 1)
    assert code_changed != text and number_changed != text
    assert GEN.stale(code_changed) and GEN.stale(number_changed)
    assert not GEN.stale(text)


# ------------------------------------------------------------------ the page as a whole
def test_links_point_to_files_that_exist(pages):
    for target in re.findall(r"\]\(((?:\.\./)?[\w./-]+\.(?:py|md))\)", pages["optimizers.md"]):
        assert (OPTIMIZERS_MD.parent / target).resolve().exists(), f"docs/optimizers.md links to {target}"


def test_no_page_describes_the_removed_second_copy_of_each_rule(pages):
    for name, text in pages.items():
        for stale_word in ("reference_step", "fast path", "teaching path", "scratch buffer"):
            assert stale_word not in text, f"{name} mentions {stale_word!r}"


def test_a_new_section_is_filled_by_the_generator():
    section = GEN.refresh(GEN.new_section("adamw"))
    assert section.startswith("## AdamW\n")
    assert textwrap.dedent(inspect.getsource(optim.Adam.update)).rstrip("\n") in section
    assert "<!-- explain: adamw --steps 2 --digits 10 -->" in section and "| `w_decayed` |" in section
    assert "<!-- conventions: adamw --steps 2 -->" in section and "| pytorch | [" in section
    assert "Matrix-wise" not in section
    assert not GEN.stale(section)


def test_a_new_section_of_a_matrix_wise_rule_starts_from_a_matrix_and_says_it_runs_whole():
    section = GEN.refresh(GEN.new_section("adafactor"))
    assert "`ELEMENTWISE = False`: the speed layer runs the rule whole." in section
    assert "<!-- explain: adafactor --param '1,-2;0.5,1.5' --steps 2 --digits 10 -->" in section
    assert "| `row_var_t` |" in section and "| [0,0] | [0,1] | [1,0] | [1,1] |" in section
    assert "--convention C --steps 2 --param '1,-2;0.5,1.5' --digits 12" in section     # the same start
    assert not GEN.stale(section)


def test_a_new_section_of_a_single_convention_has_no_table_of_conventions():
    section = GEN.new_section("ftrl")
    assert "<!-- explain: ftrl --steps 2 --digits 10 -->" in section and "<!-- conventions" not in section


def test_the_contents_summary_drops_citations_and_keeps_an_unclosed_parenthesis():
    assert GEN._without_citations('moments (You et al. 2020, "Large (Batch)") per tensor') == "moments per tensor"
    assert GEN._without_citations("a rate (per tensor, since 2020") == "a rate (per tensor, since 2020"
    assert GEN._without_citations("a rate (lr / 2) here") == "a rate (lr / 2) here"
    assert GEN.summary_of(optim.Lamb) == "layer-wise adaptive moments."
