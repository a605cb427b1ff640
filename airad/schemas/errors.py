"""The one error of a request that cannot be used: the field at fault and why."""

from __future__ import annotations

import re

import msgspec


class FieldError(ValueError):
    """A request (or the task or a file it names) that cannot be used; `field` is the JSON path at fault,
    like `$.budget.usd`, and `reason` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")
_AT_PATH = re.compile(r"^(?P<reason>.*?)(?: - at (?P<key>`key` in )?`(?P<field>[^`]*)`)?$", re.DOTALL)


def field_error(exc: msgspec.MsgspecError, at: str = "$") -> FieldError:
    """msgspec's decoding error as a FieldError: its path (below `at`, the JSON path of what was
    decoded) and its reason, with a named missing or unknown field added to the path."""
    match = _AT_PATH.match(str(exc))
    field = (match.group("field") if match else None) or "$"
    reason = match.group("reason") if match else str(exc)
    if match and match.group("key"):
        reason = f"a key: {reason}"
    named = _NAMED_FIELD.search(reason)
    if named:
        field = f"{field}.{named.group(1)}"
    return FieldError(at + field.removeprefix("$"), reason)
