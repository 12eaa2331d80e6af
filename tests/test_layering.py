"""minidl's imports point one way, none closes a cycle, and no function is over 100 lines.

Every ``import`` and ``from ... import`` in minidl (at module level and inside functions
alike) is read with ``ast``.  Two checks:

* the layering of the README: each part of minidl may import only the parts below it
  (``ALLOWED``); the core (backend, tensor, ops, nn, optim, data, models, gradient_check) never
  imports the speed layer, training or the lab;
* no cycle among minidl's modules.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "minidl"

CORE_BASE = {"backend", "fileio"}
CORE = CORE_BASE | {"tensor", "ops", "nn", "optim", "data", "models", "gradient_check"}
#: part of minidl -> the parts it may import (itself always)
ALLOWED = {
    "backend": set(),
    "fileio": set(),
    "tensor": {"backend"},
    "ops": {"backend", "tensor"},
    "nn": {"backend", "tensor", "ops"},
    "optim": {"backend", "tensor"},
    "data": {"backend", "fileio"},
    "gradient_check": {"backend", "tensor"},
    "models": {"backend", "tensor", "ops", "nn"},
    "perf": CORE,
    "train": CORE | {"perf", "__init__"},
    "testing": CORE | {"perf", "train", "__init__"},
    "lab": CORE | {"perf", "train", "__init__"},
    "cli": CORE | {"perf", "train", "lab", "testing", "__init__"},
    "__main__": {"cli"},
    "__init__": CORE,
}


def _modules():
    mods = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _resolve(name):
    """The minidl module an import names (a name imported from a package may be a module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module, path):
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "minidl" or name.startswith("minidl."):
                target = _resolve(name)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _part(module):
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def test_every_part_is_in_the_layering():
    assert {_part(m) for m in MODULES} <= set(ALLOWED), sorted({_part(m) for m in MODULES} - set(ALLOWED))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    part = _part(module)
    wrong = sorted(t for t in GRAPH[module] if _part(t) != part and _part(t) not in ALLOWED[part])
    assert not wrong, f"{module} ({part}) imports {wrong}; {part} may import only {sorted(ALLOWED[part])}"


def test_no_import_cycle():
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_function_in_minidl_is_longer_than_100_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 100:
                long.append(f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert len(MODULES) > 40 and long == [], long


def test_no_module_imports_another_modules_private_names():
    """A name with a leading underscore is its module's own: what another module needs is
    public (``from minidl.cli.common import positive_int``, not ``_positive_int``)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minidl"):
                found += [f"{path.relative_to(ROOT)}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []
