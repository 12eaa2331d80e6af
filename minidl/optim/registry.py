"""Finding an optimizer class from what a user writes: a registered name, ``module:Class``, or
a name an installed package registers.

* ``"adam"``: minidl's own registry (``minidl.optim.REGISTRY``);
* ``"mymodule:SignSGD"`` (or ``"pkg.sub:SignSGD"``): the class ``SignSGD`` of a module importable
  from ``PYTHONPATH`` or the current folder;
* a name an installed package registers in the entry-point group ``minidl.optimizers``
  (in its ``pyproject.toml``: ``[project.entry-points."minidl.optimizers"] signsgd =
  "mypkg.optim:SignSGD"``).

Every failure is one ``ValueError`` saying what was looked for and what was found: no such
module, no such class in it, or not a ``minidl.optim.Optimizer``.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys

from minidl.optim.optimizer import Optimizer

ENTRY_POINT_GROUP = "minidl.optimizers"

#: name -> class of minidl's own optimizers (filled by ``minidl/optim/__init__.py``, which imports
#: them all; a module below them, so an optimizer that names another, Lookahead, imports no cycle)
REGISTRY: dict = {}


def is_class_path(name: str) -> bool:
    """``module:Class``: a colon with a dotted module name before it and a name after."""
    module, sep, cls = name.partition(":")
    return bool(sep) and bool(cls) and all(part.isidentifier() for part in module.split(".")) \
        and cls.isidentifier()


def import_class(path: str, base):
    """The class named by ``module:Class``, checked to be a subclass of ``base``."""
    module_name, _, class_name = path.partition(":")
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)                   # the current folder, as `python -m` would
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ValueError(f"optimizer {path!r}: no module named {exc.name!r} (looked in PYTHONPATH and "
                             f"the current folder {here})") from None
        raise ValueError(f"optimizer {path!r}: importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        raise ValueError(f"optimizer {path!r}: importing {module_name!r} failed: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(here)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ValueError(f"optimizer {path!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) "
                         f"has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"optimizer {path!r}: {class_name!r} is a {type(cls).__name__}, "
                         f"not a subclass of minidl.optim.Optimizer")
    return cls


def entry_points() -> dict:
    """``{name: entry point}`` of the installed packages' ``minidl.optimizers`` group."""
    try:
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # pragma: no cover - Python < 3.10
        found = importlib.metadata.entry_points().get(ENTRY_POINT_GROUP, [])
    return {ep.name.lower(): ep for ep in found}


def resolve(name, registry: dict = REGISTRY, base=Optimizer):
    """The optimizer class ``name`` stands for (see the module docstring)."""
    if isinstance(name, type):
        if issubclass(name, base):
            return name
        raise ValueError(f"optimizer {name!r} is not a subclass of minidl.optim.Optimizer")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"optimizer: expected a name such as 'adam' or 'module:Class', got {name!r}")
    key = name.strip()
    if key.lower() in registry:
        return registry[key.lower()]
    if is_class_path(key):
        return import_class(key, base)
    plugins = entry_points()
    if key.lower() in plugins:
        return import_class(plugins[key.lower()].value, base)
    known = sorted(registry) + sorted(set(plugins) - set(registry))
    raise ValueError(f"unknown optimizer {name!r}; available: {', '.join(known)}, or module:Class "
                     "for a class of your own")
