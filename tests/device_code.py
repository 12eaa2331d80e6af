"""Reading minidl's source as device code: which array module an expression names, what it
calls on it, and where an array is turned into a host value.

Shared by tests/test_cupy_namespace.py and tests/test_host_sync.py (imported as a sibling
module by pytest).  Everything is read from the package's own files with ``ast`` at test
time; the only path known here is the package root, ``minidl.__file__``'s folder.

How an expression is classified (``Scope.kind``):

* ``"xp"``, the active array module (numpy on the CPU, cupy on the GPU): ``B.xp()``,
  ``B.get_array_module(...)`` (``B`` any alias of ``minidl.backend``), ``<name>.xp`` (the
  backend's ``_state.xp``), a name assigned from one of these (``xp = B.get_array_module(w)``)
  or bound by ``with B.use_backend(...) as xp``, a parameter called ``xp``; inside
  ``backend.py`` also its own ``xp()`` and ``get_array_module(...)``;
* ``"cupy"``: a name bound to the cupy module (``import cupy``, ``_cupy = cupy``);
* ``"np"``, numpy named on purpose, host code: ``B.np``, a name assigned from it
  (``np = B.np``), ``import numpy as np`` (backend.py only).
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path

import minidl

ROOT = Path(minidl.__file__).resolve().parent
PACKAGE = ROOT.name

#: builtins that turn a device array into a host number (a device-to-host copy and a sync)
SCALAR_CASTS = ("float", "int", "bool", "complex")
#: array methods that copy a device array to the host
HOST_METHODS = ("item", "tolist")
#: numpy functions that copy their argument into a host array (cupy refuses them outright)
HOST_COPIES = ("asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray")
#: explicit device-to-host transfers: the backend's ``to_numpy``, cupy's ``asnumpy``
TRANSFERS = ("to_numpy", "asnumpy")


@dataclass
class Use:
    """One ``xp.<chain>`` (or ``cupy.<chain>``) in the source, and how it is called."""

    root: str                  # "xp" or "cupy"
    chain: tuple               # ("add", "at") for xp.add.at
    where: str                 # "ops/basic.py:218"
    function: str              # qualified name of the enclosing function
    called: bool = False
    positional: int = 0
    keywords: tuple = ()
    star: bool = False         # *args in the call: positional count unknown
    double_star: bool = False  # **kwargs in the call: keywords unknown


@dataclass
class Conversion:
    """One place where an array may be turned into a host value."""

    kind: str                  # "float", "item", "numpy.asarray", "to_numpy", ...
    text: str                  # the call as ast.unparse writes it
    function: str              # qualified name of the enclosing function
    where: str
    lineno: int
    end_lineno: int
    host_guarded: bool         # only reached where the array is numpy's (a host branch)

    @property
    def key(self):
        return (self.function, self.text)


@dataclass
class Scope:
    """A function (or a module's top level) and the names it binds to array modules."""

    module: "Module"
    qualname: str
    node: ast.AST
    parent: "Scope | None"
    class_name: str | None = None
    xp_names: set = field(default_factory=set)
    np_names: set = field(default_factory=set)
    children: list = field(default_factory=list)

    @property
    def start(self):
        decos = getattr(self.node, "decorator_list", [])
        return min([self.node.lineno] + [d.lineno for d in decos]) if hasattr(self.node, "lineno") else 1

    @property
    def end(self):
        return getattr(self.node, "end_lineno", 10 ** 9)

    def where(self, lineno):
        return f"{self.module.rel}:{lineno}"

    # ------------------------------------------------------------ classification
    def kind(self, node):
        """``"xp"``, ``"cupy"``, ``"np"`` or None: which array module ``node`` names."""
        mod = self.module
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                    and f.value.id in mod.backend_aliases and f.attr in ("xp", "get_array_module")):
                return "xp"
            if mod.is_backend and isinstance(f, ast.Name) and f.id in ("xp", "get_array_module"):
                return "xp"
            if mod.is_backend and isinstance(f, ast.Name) and f.id == "_import_cupy":
                return "cupy"
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in mod.backend_aliases:
                return "np" if node.attr == "np" else None
            return "xp" if node.attr == "xp" else None
        if isinstance(node, ast.Name):
            scope = self
            while scope is not None:
                if node.id in scope.xp_names:
                    return "xp"
                if node.id in scope.np_names:
                    return "np"
                scope = scope.parent
            if node.id in mod.cupy_names:
                return "cupy"
        return None

    def root_kind(self, node):
        """The kind of the innermost object of an attribute chain (``xp`` of ``xp.lib.x``)."""
        while isinstance(node, ast.Attribute):
            kind = self.kind(node)
            if kind is not None:
                return kind
            node = node.value
        return self.kind(node)

    def own_nodes(self):
        """Every node of this scope's body, not those of the functions and classes inside it."""
        nodes = self.__dict__.get("_own")
        if nodes is None:
            nodes, stack = [], list(self.node.body if hasattr(self.node, "body") else [])
            while stack:
                node = stack.pop()
                nodes.append(node)
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    stack.extend(ast.iter_child_nodes(node))
            self.__dict__["_own"] = nodes
        return nodes


@dataclass
class Module:
    name: str
    path: Path
    rel: str
    tree: ast.Module
    is_backend: bool
    backend_aliases: set = field(default_factory=set)
    cupy_names: set = field(default_factory=set)
    module_aliases: dict = field(default_factory=dict)   # local name -> dotted minidl module
    from_imports: dict = field(default_factory=dict)     # local name -> (dotted module, name)
    scopes: list = field(default_factory=list)           # every function, top level first
    parents: dict = field(default_factory=dict)

    def innermost(self, lineno):
        """The innermost function whose lines hold ``lineno`` (the top level if none)."""
        best = self.scopes[0]
        for s in self.scopes[1:]:
            if s.start <= lineno <= s.end and s.start >= best.start:
                best = s
        return best


# ----------------------------------------------------------------------- loading
def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _read_imports(mod):
    backend = f"{PACKAGE}.backend"
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                local = a.asname or a.name.split(".")[0]
                if a.name == "cupy" or a.name.startswith("cupy."):
                    mod.cupy_names.add(local)
                elif a.name == backend and a.asname:
                    mod.backend_aliases.add(a.asname)
                elif a.name.startswith(PACKAGE + ".") and a.asname:
                    mod.module_aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                local = a.asname or a.name
                if node.module == PACKAGE and a.name == "backend":
                    mod.backend_aliases.add(local)
                elif node.module == PACKAGE or node.module.startswith(PACKAGE + "."):
                    full = f"{node.module}.{a.name}"
                    if (ROOT.parent / full.replace(".", "/")).with_suffix(".py").exists() or \
                            (ROOT.parent / full.replace(".", "/") / "__init__.py").exists():
                        mod.module_aliases[local] = full
                    else:
                        mod.from_imports[local] = (node.module, a.name)
    # _cupy = cupy (the backend's module-level handle on the imported module)
    for _ in range(2):
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) \
                    and node.value.id in mod.cupy_names:
                mod.cupy_names.update(t.id for t in node.targets if isinstance(t, ast.Name))


def _bind_names(scope):
    """The names this scope binds to an array module (assignments, with-as, parameters)."""
    node = scope.node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        scope.xp_names.update(a.arg for a in args if a.arg == "xp")
    for sub in scope.own_nodes():
        pairs = []
        if isinstance(sub, ast.Assign):
            pairs = [(t, sub.value) for t in sub.targets]
        elif isinstance(sub, ast.AnnAssign) and sub.value is not None:
            pairs = [(sub.target, sub.value)]
        elif isinstance(sub, (ast.With, ast.AsyncWith)):
            for item in sub.items:
                f = getattr(item.context_expr, "func", None)
                if isinstance(f, ast.Attribute) and f.attr == "use_backend" and isinstance(item.optional_vars, ast.Name):
                    scope.xp_names.add(item.optional_vars.id)
        for target, value in pairs:
            if isinstance(target, ast.Name):
                kind = scope.kind(value)
                if kind == "xp":
                    scope.xp_names.add(target.id)
                elif kind == "np":
                    scope.np_names.add(target.id)
                elif isinstance(value, ast.Name) and value.id == "numpy":
                    scope.np_names.add(target.id)


def _add_scopes(mod, parent, body, prefix, class_name):
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = Scope(mod, prefix + node.name, node, parent, class_name)
            mod.scopes.append(scope)
            parent.children.append(scope)
            _bind_names(scope)
            _add_scopes(mod, scope, node.body, scope.qualname + ".<locals>.", None)
        elif isinstance(node, ast.ClassDef):
            _add_scopes(mod, parent, node.body, prefix + node.name + ".", node.name)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for name in ("body", "orelse", "finalbody"):
                _add_scopes(mod, parent, getattr(node, name, []), prefix, class_name)
            for handler in getattr(node, "handlers", []):
                _add_scopes(mod, parent, handler.body, prefix, class_name)


def load_module(path, source=None):
    path = Path(path)
    source = path.read_text() if source is None else source
    tree = ast.parse(source, str(path))
    try:
        rel = str(path.relative_to(ROOT))
    except ValueError:
        rel = path.name
    name = _module_name(path) if rel != path.name or path.parent == ROOT else path.stem
    mod = Module(name, path, rel, tree, is_backend=(name == f"{PACKAGE}.backend"))
    _read_imports(mod)
    if mod.is_backend:
        mod_np = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                  for a in n.names if a.name == "numpy"}
    else:
        mod_np = set()
    top = Scope(mod, "<module>", tree, None, None, np_names=mod_np)
    mod.scopes.append(top)
    _bind_names(top)
    _add_scopes(mod, top, tree.body, "", None)
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            mod.parents[child] = node
    return mod


@functools.lru_cache(maxsize=None)
def package():
    """Every module of the package, parsed: ``{dotted name: Module}``."""
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        mod = load_module(path)
        mods[mod.name] = mod
    return mods


_EXTRA = {}


def register(mod):
    """Make ``module_of_path`` know a module parsed from a string (the tests' own samples)."""
    _EXTRA[str(mod.path)] = mod


@functools.lru_cache(maxsize=None)
def _by_path():
    return {str(mod.path): mod for mod in package().values()}


def module_of_path(filename):
    """The parsed package module of a code object's file name, or None."""
    return _EXTRA.get(filename) or _by_path().get(filename)


def spelling_index(mod):
    """``{line: {(attribute, kind)}}`` for every ``xp.<name>`` / ``np.<name>`` of the module, on
    every line of the call it is part of: what the source says a call on that line goes to."""
    index = getattr(mod, "_spellings", None)
    if index is not None:
        return index
    index = {}
    for scope in mod.scopes:
        for node in scope.own_nodes():
            if not isinstance(node, ast.Attribute):
                continue
            kind = scope.root_kind(node.value)
            if kind not in ("xp", "np", "cupy"):
                continue
            top = node
            while isinstance(mod.parents.get(top), ast.Attribute):
                top = mod.parents[top]
            span = mod.parents.get(top) if isinstance(mod.parents.get(top), ast.Call) else top
            for line in range(span.lineno, span.end_lineno + 1):
                index.setdefault(line, set()).add((node.attr, "np" if kind == "np" else "xp"))
    mod._spellings = index
    return index


# ------------------------------------------------------------ array-module uses
def uses_in(mod):
    """Every ``xp.<chain>`` and ``cupy.<chain>`` of a module, with the calls' arguments."""
    out = []
    for scope in mod.scopes:
        for node in scope.own_nodes():
            if not isinstance(node, ast.Attribute):
                continue
            root = scope.kind(node.value)
            if root not in ("xp", "cupy"):
                continue
            chain, top = [node.attr], node
            parent = mod.parents.get(top)
            while isinstance(parent, ast.Attribute) and parent.value is top:
                top = parent
                chain.append(top.attr)
                parent = mod.parents.get(top)
            if isinstance(parent, ast.Call) and parent.func is top:
                out.append(_call_use(root, tuple(chain), scope, parent))
            else:
                out.append(Use(root, tuple(chain), scope.where(node.lineno), scope.qualname))
    return out


@functools.lru_cache(maxsize=None)
def array_module_uses():
    """Every ``xp.<chain>`` and ``cupy.<chain>`` of the package."""
    return tuple(u for mod in package().values() for u in uses_in(mod))


def _names_module(scope):
    return any(isinstance(n, (ast.Attribute, ast.Call, ast.Name)) and scope.kind(n) in ("xp", "cupy")
               for n in scope.own_nodes())


def device_scopes():
    """The functions that name the array module, and the closures inside them: device code."""
    found = []
    for mod in package().values():
        device = {id(s) for s in mod.scopes if s.qualname != "<module>" and _names_module(s)}
        for scope in mod.scopes:
            s = scope
            while s is not None and id(s) not in device:
                s = s.parent
            if s is not None:
                found.append(scope)
    return found


def _call_use(root, chain, scope, call):
    return Use(root, chain, scope.where(call.lineno), scope.qualname, True,
               sum(not isinstance(a, ast.Starred) for a in call.args),
               tuple(k.arg for k in call.keywords if k.arg is not None),
               any(isinstance(a, ast.Starred) for a in call.args),
               any(k.arg is None for k in call.keywords))


def method_calls(scopes):
    """Every ``<value>.name(...)`` call in ``scopes`` whose value is not an array module (the
    array methods among them), as Uses with root "method"."""
    return [_call_use("method", (node.func.attr,), scope, node)
            for scope in scopes for node in scope.own_nodes()
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and scope.root_kind(node.func) is None and not _names_a_module(scope, node.func.value)]


def _names_a_module(scope, node):
    mod = scope.module
    return isinstance(node, ast.Name) and (node.id in mod.module_aliases or node.id in mod.backend_aliases)


def array_attributes(scopes):
    """``{attribute name: first place}`` of every ``<value>.name`` in ``scopes`` whose value is
    not an array module (array methods such as ``.astype`` are among them)."""
    names = {}
    for scope in scopes:
        for node in scope.own_nodes():
            if isinstance(node, ast.Attribute) and scope.root_kind(node) is None:
                names.setdefault(node.attr, scope.where(node.lineno))
    return names


# ------------------------------------------------------------------- conversions
def _is_np_compare(scope, node):
    """``"host"`` for ``X is B.np`` / ``B.name() == "numpy"``, ``"device"`` for their negations."""
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    op, right = node.ops[0], node.comparators[0]
    if scope.kind(right) == "np" or scope.kind(node.left) == "np":
        return {ast.Is: "host", ast.IsNot: "device"}.get(type(op))
    names_backend = (isinstance(node.left, ast.Call) and isinstance(node.left.func, ast.Attribute)
                     and node.left.func.attr == "name" and isinstance(node.left.func.value, ast.Name)
                     and node.left.func.value.id in scope.module.backend_aliases)
    if names_backend and isinstance(right, ast.Constant) and right.value in ("numpy", "cupy"):
        host = (right.value == "numpy") == isinstance(op, ast.Eq)
        if isinstance(op, (ast.Eq, ast.NotEq)):
            return "host" if host else "device"
    return None


def _guard(scope, test):
    """Whether ``if test:`` guards its body as host-only ("host") or its else branch ("device")."""
    direct = _is_np_compare(scope, test)
    if direct:
        return direct
    if isinstance(test, ast.BoolOp):
        kinds = [_is_np_compare(scope, v) for v in test.values]
        if isinstance(test.op, ast.And) and "host" in kinds:
            return "host"
        if isinstance(test.op, ast.Or) and "device" in kinds:
            return "device"
    return None


def _exits(stmts):
    return bool(stmts) and isinstance(stmts[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


def classify_call(scope, call):
    """The kind of host conversion ``call`` is, or None."""
    f = call.func
    if isinstance(f, ast.Name):
        if f.id in SCALAR_CASTS and call.args:
            return f.id
        if scope.module.is_backend and f.id in TRANSFERS:
            return f.id
        return None
    if not isinstance(f, ast.Attribute):
        return None
    kind = scope.kind(f.value)
    if f.attr in HOST_METHODS and kind is None and not call.args:
        return f.attr
    if f.attr in HOST_COPIES and kind == "np":
        return f"numpy.{f.attr}"
    if f.attr in TRANSFERS and (kind in ("xp", "cupy") or (
            isinstance(f.value, ast.Name) and f.value.id in scope.module.backend_aliases)):
        return f.attr
    return None


def conversions_in(scope):
    """Every host conversion in ``scope``'s own code, and whether a host guard covers it."""
    found = []

    def record(call, guarded):
        kind = classify_call(scope, call)
        if kind:
            found.append(Conversion(kind, ast.unparse(call), scope.qualname, scope.where(call.lineno),
                                    call.lineno, call.end_lineno, guarded))

    def walk(node, guarded):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        if isinstance(node, (ast.If, ast.IfExp)):
            walk(node.test, guarded)
            g = _guard(scope, node.test)
            body, orelse = (node.body, node.orelse)
            for part, extra in ((body, g == "host"), (orelse, g == "device")):
                if isinstance(part, list):
                    block(part, guarded or extra)
                else:
                    walk(part, guarded or extra)
            return
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            g = guarded
            for v in node.values:
                walk(v, g)
                g = g or _is_np_compare(scope, v) == "host"
            return
        if isinstance(node, ast.Call):
            record(node, guarded)
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                block(value, guarded)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, ast.AST):
                        walk(v, guarded)
            elif isinstance(value, ast.AST):
                walk(value, guarded)

    def block(stmts, guarded):
        for stmt in stmts:
            walk(stmt, guarded)
            if isinstance(stmt, ast.If) and not stmt.orelse and _exits(stmt.body) \
                    and _guard(scope, stmt.test) == "device":
                guarded = True          # `if not numpy: return` - the rest is host-only

    node = scope.node
    block(node.body if hasattr(node, "body") else [], False)
    return found


# -------------------------------------------------------------- static call graph
def _function_in(modname, name, depth=0):
    """The top-level function ``name`` of module ``modname`` (following its re-exports)."""
    mod = package().get(modname)
    if mod is None or depth > 4:
        return None
    for scope in mod.scopes:
        if scope.qualname == name:
            return scope
    if name in mod.from_imports:
        return _function_in(*mod.from_imports[name], depth + 1)
    return None


def _method_in(mod, class_name, name, depth=0):
    if class_name is None or depth > 6:
        return None
    for scope in mod.scopes:
        if scope.qualname == f"{class_name}.{name}":
            return scope
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for base in node.bases:
                if isinstance(base, ast.Name):
                    owner, base_name = mod, base.id
                    if base.id in mod.from_imports:
                        owner = package().get(mod.from_imports[base.id][0]) or mod
                        base_name = mod.from_imports[base.id][1]
                    found = _method_in(owner, base_name, name, depth + 1)
                    if found is not None:
                        return found
    return None


def resolve(scope, call):
    """The package function ``call`` (in ``scope``) runs, where a name says it statically:
    a module-level function (its own module's or an imported one), ``module.f(...)``,
    ``self.method(...)`` (in the class or its bases); else None."""
    mod, f = scope.module, call.func
    if isinstance(f, ast.Name):
        return _function_in(mod.name, f.id)
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        base = f.value.id
        if base in mod.module_aliases:
            return _function_in(mod.module_aliases[base], f.attr)
        if base in mod.backend_aliases:
            return _function_in(f"{PACKAGE}.backend", f.attr)
        if base == "self":
            owner = scope
            while owner is not None and owner.class_name is None:
                owner = owner.parent
            return _method_in(mod, owner.class_name, f.attr) if owner else None
    return None


def callees(scope, nodes=None):
    """The package functions the calls among ``nodes`` (default: the scope's own code) resolve
    to; not the transfers, which are conversions themselves."""
    out = []
    for node in scope.own_nodes() if nodes is None else nodes:
        if isinstance(node, ast.Call) and not classify_call(scope, node):
            target = resolve(scope, node)
            if target is not None:
                out.append(target)
    return out


def closure(scopes):
    """``scopes``, the functions nested in them and everything they call (see ``callees``)."""
    seen, todo = {}, list(scopes)
    while todo:
        s = todo.pop()
        key = (s.module.name, s.qualname)
        if key in seen:
            continue
        seen[key] = s
        todo.extend(s.children)
        todo.extend(callees(s))
    return list(seen.values())
