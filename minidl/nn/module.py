"""Module: the base of every layer and model; Sequential chains them.

A Module registers the Parameters and sub-Modules assigned to its attributes
(in assignment order), so ``parameters()`` finds them all.  A Parameter without a
name is named after the layer and the attribute (``Conv2D(1->32).weight``), which
is how the optimizer's messages name it.  ``state_dict()``
returns host numpy copies keyed by dotted names (``"0.weight"``);
``load_state_dict()`` copies values back into the existing arrays, so an
optimizer that holds the parameters keeps working.
"""
from __future__ import annotations

from collections import OrderedDict

from minidl import backend as B
from minidl.tensor import Parameter, Tensor


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = f"{self.label()}.{name}"
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------- traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def children(self):
        return list(self._modules.values())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) pairs, each parameter once, in registration order."""
        seen = set()
        out = []
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{mod_name}.{name}" if mod_name else name, p))
        return out

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # -------------------------------------------------------------- state
    def state_dict(self):
        """Host numpy copies of every parameter, keyed by dotted name."""
        return OrderedDict((name, B.to_numpy(p.data).copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state, strict: bool = True):
        """Copy ``state`` (name -> array) into the parameters, checking names and shapes."""
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(
                f"load_state_dict: the state does not fit {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, p in own.items():
            if name not in state:
                continue
            value = state[name]
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"load_state_dict: {name} has shape {tuple(p.shape)} in the model "
                    f"but {tuple(value.shape)} in the state"
                )
            p.data[...] = B.get_array_module(p.data).asarray(value, dtype=p.dtype)

    def extra_repr(self) -> str:
        return ""

    def label(self) -> str:
        """How messages name this layer: its class (layers add their sizes, ``Dense(5408->256)``)."""
        return type(self).__name__

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Apply layers in order: ``Sequential(Conv2D(...), ReLU(), ...)``."""

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
            setattr(self, str(i), layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def as_tensor(x) -> Tensor:
    """Wrap a raw array as a constant Tensor (layers accept both)."""
    return x if isinstance(x, Tensor) else Tensor(x)
