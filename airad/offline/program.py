"""What a research program asks of the offline coder: model families to try first, and to avoid.

A family counts as "to avoid" when it is named under a heading, or on a line, that says avoid,
don't, do not or never; as "to try" when the heading or line says try, prefer or explore (avoid
wins when both do). Lines are read in order, so the try list keeps the program's order. Families
are recognised by `FAMILY_ALIASES`; anything else in the program is for a real model to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airad.offline.catalog import FAMILY_ALIASES, FAMILY_NAMES

_AVOID = re.compile(r"\bavoid|\bdon'?t\b|\bdo not\b|\bnever\b", re.IGNORECASE)
_TRY = re.compile(r"\btry\b|\btrying\b|\bprefer|\bexplore\b", re.IGNORECASE)
_HEADING = re.compile(r"^\s*#+\s+(.*)$")
_LABEL = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*)?([\w '-]{1,40}?)(?:\*\*)?\s*:")
_VERB = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*)?(avoid|don'?t|do not|never|try|prefer|explore)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ProgramHints:
    """Families to draft first (in the program's order) and families never to use."""

    try_first: tuple[str, ...] = ()
    avoid: frozenset[str] = frozenset()

    def allowed(self, families) -> list[str]:
        """`families` without the avoided ones, in their order."""
        return [family for family in families if family not in self.avoid]

    def note(self) -> str:
        """One sentence on what the program asks, for a plan; empty when it asks nothing."""
        parts = []
        if self.try_first:
            parts.append("try " + ", ".join(FAMILY_NAMES[f] for f in self.try_first) + " first")
        if self.avoid:
            parts.append("avoid " + ", ".join(FAMILY_NAMES[f] for f in sorted(self.avoid)))
        return f"The research program asks to {' and to '.join(parts)}." if parts else ""


NO_HINTS = ProgramHints()


def program_hints(text: str) -> ProgramHints:
    """The families a research program's text asks to try and to avoid."""
    tried: list[str] = []
    avoided: set[str] = set()
    section = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            section = _mode(heading.group(1))
            continue
        label, verb = _LABEL.match(line), _VERB.match(line)
        mode = (_mode(label.group(1)) if label else None) or (_mode(verb.group(1)) if verb else None) or section
        if mode is None:
            continue
        for family in families_named(line):
            if mode == "avoid":
                avoided.add(family)
            elif family not in tried:
                tried.append(family)
    return ProgramHints(tuple(f for f in tried if f not in avoided), frozenset(avoided))


def families_named(text: str) -> list[str]:
    """The families `text` names, in the order they first appear."""
    found = []
    for family, alias in FAMILY_ALIASES.items():
        match = re.search(alias, text, re.IGNORECASE)
        if match:
            found.append((match.start(), family))
    return [family for _, family in sorted(found)]


def _mode(text: str) -> str | None:
    if _AVOID.search(text):
        return "avoid"
    if _TRY.search(text):
        return "try"
    return None
