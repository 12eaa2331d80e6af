"""Row specs: the short strings that name one optimizer configuration on the command line.

Shared by ``minidl compare``, ``minidl trajectories`` and ``minidl explain``::

    adam                              Adam, its defaults under the default convention
    sgd:momentum=0.9                  SGD with momentum 0.9
    adadelta:convention=paper,lr=1.0  AdaDelta as the paper writes it, lr 1
    sgd:batch=1                       SGD on one example per step
    gd                                full-batch gradient descent (SGD, batch "full")
    adam:lr=0.01,label=fast-adam      a custom label for legends and tables

Grammar: ``NAME[:KEY=VALUE[,KEY=VALUE...]]``.  ``NAME`` is a registered optimizer
(``minidl.optim.available()``) or ``gd``.  Besides the optimizer's own
hyperparameters for the chosen convention (``DEFAULTS[convention]``) and the
options every optimizer takes (``weight_decay``, ``clipnorm``, ``clipvalue``),
three keys are understood: ``convention`` (when absent, the command's default
convention, or the first of keras/pytorch/paper that the optimizer has), ``batch`` (a positive integer or
``full``) and ``label``.  Values are read as bool (``true``/``false``), int,
float, ``none``, or, for tuple-valued hyperparameters, numbers joined by ``/``
(``betas=0.9/0.999``).  Every mistake raises ``ValueError`` saying what is accepted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SPECIAL_KEYS = ("convention", "batch", "label")

#: names that are not registry entries but stand for one
ALIASES = {"gd": ("sgd", {"batch": "full"})}


@dataclass(frozen=True)
class RowSpec:
    """One optimizer configuration: a row of a comparison, a line of a trajectory plot."""

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
    from minidl import optim
    from minidl.optim.optimizer import default_hyperparameters

    return default_hyperparameters(optim.REGISTRY[name], convention)


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


def _coerce(key: str, raw: str, default, where: str):
    """Read ``raw`` as the type of ``default``; ValueError naming the key otherwise."""
    if isinstance(default, tuple):
        parts = [_parse_scalar(p) for p in raw.split("/")]
        if len(parts) != len(default) or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
            raise ValueError(
                f"{where}: {key}={raw!r} is not {len(default)} numbers joined by '/' "
                f"(e.g. {key}={'/'.join(str(d) for d in default)})")
        return tuple(float(p) for p in parts)
    value = _parse_scalar(raw)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key}={raw!r} is not a bool (expected true or false)")
        return value
    if default is None or isinstance(default, (int, float)):
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: {key}={raw!r} is not a number")
        if isinstance(default, float):
            return float(value)
        return value
    if isinstance(default, str):
        return raw.strip()
    return value


def parse_spec(text: str, default_convention: str = "keras", check: bool = True) -> RowSpec:
    """Parse one row spec; ``check`` also builds the optimizer once so bad values fail here."""
    from minidl import optim

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"row spec: expected a string like 'adam' or 'sgd:momentum=0.9', got {text!r}")
    text = text.strip()
    where = f"row spec {text!r}"
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    options: dict = {}
    if name in ALIASES:
        name, options = ALIASES[name][0], dict(ALIASES[name][1])
    if name not in optim.REGISTRY:
        raise ValueError(
            f"{where}: unknown optimizer {name!r}; accepted: "
            f"{', '.join(sorted(list(optim.REGISTRY) + list(ALIASES)))}")

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

    cls = optim.REGISTRY[name]
    convention = default_convention
    explicit = [raw.lower() for key, raw in pairs if key == "convention"]
    if explicit:
        convention = explicit[0]
    elif convention not in cls.DEFAULTS:
        # the command's default convention is not one this optimizer has (Rprop has no Keras
        # version): take the first it has, in the order of optim.CONVENTIONS
        from minidl.optim.optimizer import CONVENTIONS

        convention = next(c for c in (*CONVENTIONS, *sorted(cls.DEFAULTS)) if c in cls.DEFAULTS)
    if convention not in cls.DEFAULTS:
        raise ValueError(
            f"{where}: {cls.__name__} has no convention {convention!r}; accepted: {', '.join(sorted(cls.DEFAULTS))}")
    accepted = accepted_hyperparameters(name, convention)

    hyper = {}
    label = None
    batch = options.get("batch")
    for key, raw in pairs:
        if key == "convention":
            continue
        if key == "label":
            label = raw
        elif key == "batch":
            if raw.lower() == "full":
                batch = "full"
            else:
                value = _parse_scalar(raw)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{where}: batch={raw!r} (expected a positive integer or 'full')")
                batch = value
        elif key in accepted:
            hyper[key] = _coerce(key, raw, accepted[key], where)
        else:
            raise ValueError(
                f"{where}: {cls.__name__} ({convention} convention) has no hyperparameter {key!r}; "
                f"accepted: {', '.join(sorted(accepted) + list(SPECIAL_KEYS))}")

    spec = RowSpec(label=label or text, optimizer=name, hyper=hyper, convention=convention, batch=batch)
    if check:
        _check_values(spec, where)
    return spec


def _check_values(spec: RowSpec, where: str) -> None:
    """Build the optimizer on a throw-away parameter so its own validation runs now."""
    from minidl import backend as B
    from minidl.tensor import Parameter

    probe = Parameter(B.np.zeros(2, dtype=B.np.float64))
    try:
        spec.create([probe])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def parse_specs(texts, default_convention: str = "keras", check: bool = True) -> list:
    """Parse several specs; labels must be unique (use ``label=`` to tell two apart)."""
    specs = [parse_spec(t, default_convention, check) for t in texts]
    seen = set()
    for s in specs:
        if s.label in seen:
            raise ValueError(f"row specs: the label {s.label!r} appears twice; add label=... to one of them")
        seen.add(s.label)
    return specs


def format_spec(spec: RowSpec) -> str:
    """The canonical spec text of ``spec`` (its name, convention, batch and hyperparameters)."""
    items = [f"convention={spec.convention}"]
    if spec.batch is not None:
        items.append(f"batch={spec.batch}")
    for k, v in spec.hyper.items():
        items.append(f"{k}={'/'.join(str(x) for x in v) if isinstance(v, tuple) else v}")
    return f"{spec.optimizer}:{','.join(items)}"
