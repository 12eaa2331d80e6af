"""The update rule as an optimizer's docstring writes it, read back as data.

An optimizer's docstring states its rule in blocks headed ``Rule (<conventions>):`` (e.g.
``Rule (keras):``, ``Rule (keras, paper):``, ``Rule (every convention):``), each followed
by indented lines ``symbol = expression`` with an optional ``# note``::

    Rule (every convention):

        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t                # state "exp_avg"

The rule's code names its local variables after the symbols (``m_t`` is ``m``, ``m_hat_t``
is ``m_hat``, ``lr_t`` is ``lr_t``: see :func:`local_names`), which is how ``explain``
matches each line with the value the code computed, and how the tests check that every
symbol of the formula is a quantity of the code.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

_HEADER = re.compile(r"^Rule \(([^)]*)\):")
_LINE = re.compile(r"^\s{4,}(?P<lhs>[A-Za-z][\w{}+\-]*)\s+=\s+(?P<rhs>.+?)(?:\s{2,}#\s*(?P<note>.*))?\s*$")
EVERY = "every convention"


@dataclass(frozen=True)
class FormulaLine:
    lhs: str          # as written: "m_t", "v_hat_t", "g_prev"
    rhs: str          # "beta1 * m_{t-1} + (1 - beta1) * g_t"
    note: str         # the comment after '#', or ""
    conventions: tuple  # the block's conventions, or (EVERY,)

    @property
    def text(self) -> str:
        return f"{self.lhs} = {self.rhs}" + (f"   ({self.note})" if self.note else "")


def rule_lines(cls) -> list:
    """Every formula line of ``cls``'s docstring, in order."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines, conventions, in_block = [], None, False
    for raw in doc.splitlines():
        header = _HEADER.match(raw)
        if header:
            names = tuple(c.strip() for c in header.group(1).split(","))
            conventions, in_block = ((EVERY,) if names == (EVERY,) else names), False
        elif conventions is None or not raw.strip():
            continue
        elif raw.startswith(" "):
            match = _LINE.match(raw)
            if match:
                lines.append(FormulaLine(match["lhs"], match["rhs"].strip(), (match["note"] or "").strip(),
                                         conventions))
                in_block = True
        elif in_block:                        # prose after the formula lines ends the block
            conventions = None
    return lines


def rule_for(cls, convention: str) -> list:
    """The formula lines that apply under ``convention``, in the docstring's order."""
    return [line for line in rule_lines(cls) if EVERY in line.conventions or convention in line.conventions]


def local_names(lhs: str) -> list:
    """The code's names a symbol may have: ``lr_t`` -> [lr_t, lr]; ``m_t`` -> [m_t, m]."""
    names = [lhs]
    for suffix in ("_{t}", "_t"):
        if lhs.endswith(suffix):
            names.append(lhs[: -len(suffix)])
    return names
