"""Row specs: the short strings that name one optimizer configuration on the command line.

Shared by ``minidl compare``, ``minidl trajectories``, ``minidl explain`` and ``minidl lrfind``::

    adam                              Adam, its defaults under the default convention
    sgd:momentum=0.9                  SGD with momentum 0.9
    adadelta:convention=paper,lr=1.0  AdaDelta as the paper writes it, lr 1
    sgd:batch=1                       SGD on one example per step
    gd                                full-batch gradient descent (SGD, batch "full")
    adam:lr=0.01,label=fast-adam      a custom label for legends and tables
    lbfgs:line_search_fn=strong_wolfe a string value
    lookahead:inner=sgd,momentum=0.9  Lookahead around SGD with momentum (inner_momentum=0.9 alike)
    mymodule:SignSGD                  the class SignSGD of mymodule.py, a class of your own
    mymodule:SignSGD:lr=0.1,beta=0.5  ... with its hyperparameters
    pkg.sub:SignSGD:lr=0.1            ... from a package (a dotted module path)

Grammar::

    SPEC    = NAME [":" OPTIONS]
    NAME    = a registered name (minidl.optim.available()) | "gd"
            | a name an installed package registers (entry-point group "minidl.optimizers")
            | MODULE ":" CLASS                  (MODULE dotted, importable from PYTHONPATH or ".")
    OPTIONS = KEY "=" VALUE ["," KEY "=" VALUE ...]

How the colons are read: a spec is cut at its first two colons, ``A[:B[:C]]``.  When ``A`` is
a registered name, ``gd`` or an entry-point name, or when ``B`` holds an ``=``, ``NAME`` is
``A`` and everything after the first colon is ``OPTIONS`` (so a value may hold a colon:
``lookahead:inner=mymodule:SignSGD``).  Otherwise ``NAME`` is the class path ``A:B`` and
``C`` (if any) is ``OPTIONS``.  A key without ``=`` is never a class (``sgd:momentum`` is
refused as not KEY=VALUE), and a module named like a registered optimizer must be written
with its package (``mypkg.adam:Adam``).  A registered name is read in any case; a class path
is kept as written.

``OPTIONS``: the optimizer's own hyperparameters for the chosen convention
(``DEFAULTS[convention]``), the options every optimizer takes (``weight_decay``, ``clipnorm``,
``global_clipnorm``, ``clipvalue``) and three keys of the row: ``convention`` (when absent,
the command's default convention, or the first of keras/pytorch/paper that the optimizer
has), ``batch`` (a positive integer or ``full``) and ``label``.  Lookahead also takes its
inner optimizer's hyperparameters (those of ``inner``, under ``inner_convention``), by their
names or as ``inner_<name>`` (``inner_alpha`` is ASGD's alpha, ``alpha`` Lookahead's own).
The frameworks' spellings are accepted under their convention, as the constructors accept
them: Keras's ``learning_rate``, ``beta_1``, ``beta_2``, ``epsilon`` (``adam:learning_rate=0.01``)
and PyTorch's ``betas`` (``adam:convention=pytorch,betas=0.9/0.99``).

Values are read as the type of the hyperparameter's default: bool (``true``/``false``), int,
float, a string (``line_search_fn=strong_wolfe``), ``none``, numbers joined by ``/`` for a
tuple of numbers (``betas=0.9/0.999``), names joined by ``/`` for a tuple of names
(``exclude_layers=embedding/head``).  A hyperparameter whose default is ``none`` takes a
number, a string or ``none``.  Every mistake raises one ``ValueError`` saying what is
accepted; a spec's values are checked by building the optimizer once on a probe parameter
(a 2-vector, or a 2x2 matrix for an optimizer that takes matrices only, as Muon's pytorch
convention does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

SPECIAL_KEYS = ("convention", "batch", "label")

#: names that are not registry entries but stand for one
ALIASES = {"gd": ("sgd", {"batch": "full"})}


@dataclass(frozen=True)
class RowSpec:
    """One optimizer configuration: a row of a comparison, a line of a trajectory plot.

    ``optimizer`` is a registered name (``"adam"``), an entry-point name, or a class path
    (``"mymodule:SignSGD"``): whatever ``minidl.optim.resolve`` takes."""

    label: str
    optimizer: str
    hyper: dict = field(default_factory=dict)
    convention: str = "keras"
    batch: int | str | None = None  # None: the command's default; "full": all examples; or a size

    def create(self, params):
        """Build the optimizer over ``params``."""
        from minidl import optim

        return optim.create(self.optimizer, params, convention=self.convention, **self.hyper)

    def accepted(self) -> dict:
        """Every hyperparameter this optimizer accepts under this convention, with its default."""
        return accepted_hyperparameters(self.optimizer, self.convention)


def accepted_hyperparameters(name: str, convention: str) -> dict:
    """The hyperparameters (and their defaults) of the optimizer ``name`` under ``convention``."""
    from minidl import optim
    from minidl.optim.optimizer import default_hyperparameters

    return default_hyperparameters(optim.resolve(name), convention)


def _parse_scalar(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        return text.strip()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce_tuple(key: str, raw: str, default: tuple, where: str) -> tuple:
    """``a/b/c`` as a tuple: of numbers where the default holds numbers, else of names."""
    if not default or not all(_is_number(d) for d in default):
        return tuple(p.strip() for p in raw.split("/") if p.strip())
    parts = [_parse_scalar(p) for p in raw.split("/")]
    if len(parts) != len(default) or not all(_is_number(p) for p in parts):
        raise ValueError(
            f"{where}: {key}={raw!r} is not {len(default)} numbers joined by '/' "
            f"(e.g. {key}={'/'.join(str(d) for d in default)})")
    return tuple(float(p) for p in parts)


def _coerce(key: str, raw: str, default, where: str):
    """Read ``raw`` as the type of ``default``; ValueError naming the key otherwise."""
    if isinstance(default, tuple):
        return _coerce_tuple(key, raw, default, where)
    value = _parse_scalar(raw)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key}={raw!r} is not a bool (expected true or false)")
        return value
    if default is None:
        return value          # a number, a string or None: the optimizer's validation decides
    if isinstance(default, (int, float)):
        if not _is_number(value):
            raise ValueError(f"{where}: {key}={raw!r} is not a number")
        if isinstance(default, float):
            return float(value)
        return value
    if isinstance(default, str):
        return raw.strip()
    return value


# ------------------------------------------------------------------ the name
def _known_name(name: str) -> bool:
    """A registered name, an alias or an installed package's entry-point name (any case)."""
    from minidl import optim
    from minidl.optim import registry

    low = name.strip().lower()
    return low in optim.REGISTRY or low in ALIASES or low in registry.entry_points()


def split_spec(text: str) -> tuple:
    """``(NAME, OPTIONS)`` of a spec, the colons read as the module docstring says."""
    first, sep, rest = text.partition(":")
    if not sep or _known_name(first):
        return first.strip(), rest
    second, sep2, options = rest.partition(":")
    if "=" in second or not second.strip():
        return first.strip(), rest
    return f"{first.strip()}:{second.strip()}", options


def _resolve_name(name: str, where: str):
    """``(name as recorded, options implied, class)``; ValueError with what is accepted."""
    from minidl import optim
    from minidl.optim import registry

    options: dict = {}
    low = name.lower()
    if low in ALIASES:
        low, options = ALIASES[low][0], dict(ALIASES[low][1])
    if low in optim.REGISTRY:
        return low, options, optim.REGISTRY[low]
    if registry.is_class_path(name):
        try:
            return name, options, optim.resolve(name)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    plugins = registry.entry_points()
    if low in plugins:
        try:
            return low, options, optim.resolve(low)
        except ValueError as exc:
            raise ValueError(f"{where}: entry point {low!r} of group {registry.ENTRY_POINT_GROUP!r}: "
                             f"{exc}") from None
    known = sorted(list(optim.REGISTRY) + list(ALIASES) + [p for p in plugins if p not in optim.REGISTRY])
    raise ValueError(f"{where}: unknown optimizer {name!r}; accepted: {', '.join(known)}, "
                     "or module:Class for a class of your own (e.g. mymodule:SignSGD)")


def _pairs(rest: str, where: str) -> list:
    """``KEY=VALUE,...`` as ``[(key, raw value), ...]``, each key once."""
    pairs = []
    if rest.strip():
        for item in rest.split(","):
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or not key or not raw.strip():
                raise ValueError(f"{where}: {item.strip()!r} is not KEY=VALUE")
            if key in {k for k, _ in pairs}:
                raise ValueError(f"{where}: {key!r} is given twice")
            pairs.append((key, raw.strip()))
    return pairs


def _convention(cls, pairs, default_convention: str, where: str) -> str:
    from minidl.optim.optimizer import CONVENTIONS

    if not isinstance(cls.DEFAULTS, dict) or not cls.DEFAULTS:
        raise ValueError(f"{where}: {cls.__name__}.DEFAULTS must map a convention to its hyperparameters' "
                         f"defaults, e.g. {{'paper': {{'lr': 0.01}}}}; got {cls.DEFAULTS!r}")
    explicit = [raw.lower() for key, raw in pairs if key == "convention"]
    convention = explicit[0] if explicit else default_convention
    if not explicit and convention not in cls.DEFAULTS:
        # the command's default convention is not one this optimizer has (Rprop has no Keras
        # version): take the first it has, in the order of optim.CONVENTIONS
        convention = next(c for c in (*CONVENTIONS, *sorted(cls.DEFAULTS)) if c in cls.DEFAULTS)
    if convention not in cls.DEFAULTS:
        raise ValueError(
            f"{where}: {cls.__name__} has no convention {convention!r}; accepted: {', '.join(sorted(cls.DEFAULTS))}")
    return convention


def _inner_accepted(cls, own: dict, pairs, where: str) -> dict:
    """For Lookahead: its inner optimizer's hyperparameters, by name and as ``inner_<name>``
    (a name Lookahead has itself only as ``inner_<name>``); {} for any other optimizer."""
    from minidl import optim
    from minidl.optim.optimizer import COMMON_DEFAULTS, default_convention, default_hyperparameters

    if not issubclass(cls, optim.Lookahead):
        return {}
    given = dict(pairs)
    inner_name = given.get("inner", own["inner"])
    try:
        inner = optim.resolve(inner_name)
    except ValueError as exc:
        raise ValueError(f"{where}: Invalid inner: {exc}") from None     # Lookahead's own wording
    convention = given.get("inner_convention", own["inner_convention"])
    if convention == "auto":
        convention = "paper" if "paper" in inner.DEFAULTS else default_convention(inner)
    if convention not in inner.DEFAULTS:
        raise ValueError(f"{where}: Invalid inner_convention: {convention!r} ({inner.__name__} has "
                         f"{', '.join(sorted(inner.DEFAULTS))}, or auto)")
    extra = {}
    for key, default in default_hyperparameters(inner, convention).items():
        if key in COMMON_DEFAULTS:
            continue                       # applied once, by Lookahead's base class
        extra[f"inner_{key}"] = default
        if key not in own:
            extra[key] = default
    return extra


def _batch(raw: str, where: str):
    if raw.lower() == "full":
        return "full"
    value = _parse_scalar(raw)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: batch={raw!r} (expected a positive integer or 'full')")
    return value


def parse_spec(text: str, default_convention: str = "keras", check: bool = True) -> RowSpec:
    """Parse one row spec; ``check`` also builds the optimizer once so bad values fail here."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"row spec: expected a string like 'adam' or 'sgd:momentum=0.9', got {text!r}")
    text = text.strip()
    where = f"row spec {text!r}"
    name, rest = split_spec(text)
    name, options, cls = _resolve_name(name, where)
    pairs = _pairs(rest, where)
    convention = _convention(cls, pairs, default_convention, where)
    own = accepted_hyperparameters(name, convention)
    accepted = {**own, **_inner_accepted(cls, own, pairs, where)}

    hyper, label, batch = {}, None, options.get("batch")
    for key, raw in pairs:
        if key == "convention":
            continue
        if key == "label":
            label = raw
        elif key == "batch":
            batch = _batch(raw, where)
        elif key in accepted:
            _set_once(hyper, key, _coerce(key, raw, accepted[key], where), key, where)
        elif key in _framework_names(cls, convention):
            for ours, value in _from_framework_name(cls, convention, key, raw, accepted, where).items():
                _set_once(hyper, ours, value, key, where)
        else:
            raise ValueError(
                f"{where}: {cls.__name__} ({convention} convention) has no hyperparameter {key!r}; "
                f"accepted: {', '.join(sorted(accepted) + list(SPECIAL_KEYS))}")

    spec = RowSpec(label=label or text, optimizer=name, hyper=hyper, convention=convention, batch=batch)
    if check:
        check_values(spec, where)
    return spec



def _framework_names(cls, convention: str) -> dict:
    """Keras's or PyTorch's spellings under ``convention`` -> minidl's name (or names)."""
    from minidl.optim.optimizer import FRAMEWORK_NAMES

    return {**FRAMEWORK_NAMES.get(convention, {}), **getattr(cls, "FRAMEWORK_NAMES", {}).get(convention, {})}


def _from_framework_name(cls, convention, key, raw, accepted, where) -> dict:
    """``learning_rate=0.01`` -> ``{"lr": 0.01}``; ``betas=0.8/0.9`` -> ``{"beta1": 0.8, "beta2": 0.9}``."""
    ours = _framework_names(cls, convention)[key]
    if not isinstance(ours, tuple):
        return {ours: _coerce(ours, raw, accepted[ours], where)} if ours in accepted else {}
    parts = raw.split("/")
    if len(parts) != len(ours) or not all(name in accepted for name in ours):
        raise ValueError(f"{where}: {key} expected {len(ours)} values joined by '/' "
                         f"({'/'.join(ours)}), got {raw!r}")
    return {name: _coerce(name, part, accepted[name], where) for name, part in zip(ours, parts)}


def _set_once(hyper: dict, name: str, value, spelled: str, where: str) -> None:
    if name in hyper:
        raise ValueError(f"{where}: {name} is given twice (the second time as {spelled!r}); give it once")
    hyper[name] = value

def check_values(spec: RowSpec, where: str) -> None:
    """Build the optimizer on a throw-away parameter so its own validation runs now: a
    2-vector, and where the optimizer refuses that, a 2x2 matrix (Muon's pytorch convention
    takes matrices only); the matrix's message when both fail (it is the one about the values)."""
    from minidl import backend as B
    from minidl.tensor import Parameter

    error = None
    for shape in ((2,), (2, 2)):
        try:
            spec.create([Parameter(B.np.zeros(shape, dtype=B.np.float64))])
            return
        except (ValueError, TypeError) as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a class of one's own may raise anything
            error = f"building it raised {type(exc).__name__}: {exc}"
    raise ValueError(f"{where}: {error}")


def parse_specs(texts, default_convention: str = "keras", check: bool = True) -> list:
    """Parse several specs; labels must be unique (use ``label=`` to tell two apart)."""
    specs = [parse_spec(t, default_convention, check) for t in texts]
    seen = set()
    for s in specs:
        if s.label in seen:
            raise ValueError(f"row specs: the label {s.label!r} appears twice; add label=... to one of them")
        seen.add(s.label)
    return specs


def _format_value(value) -> str:
    if isinstance(value, tuple):
        return "/".join(str(x) for x in value)
    return "none" if value is None else str(value)


def format_spec(spec: RowSpec) -> str:
    """The canonical spec text of ``spec`` (its name, convention, batch and hyperparameters),
    which :func:`parse_spec` reads back to the same optimizer (a class path included)."""
    items = [f"convention={spec.convention}"]
    if spec.batch is not None:
        items.append(f"batch={spec.batch}")
    for k, v in spec.hyper.items():
        items.append(f"{k}={_format_value(v)}")
    return f"{spec.optimizer}:{','.join(items)}"
