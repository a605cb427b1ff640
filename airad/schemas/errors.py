"""The one error of a request that cannot be used: the field at fault and why."""

from __future__ import annotations

import re

import msgspec

MAX_FIELD_CHARS = 256
MAX_REASON_CHARS = 1000
ELLIPSIS = "…"


class FieldError(ValueError):
    """A request (or the task or a file it names) that cannot be used; `field` is the JSON path at fault,
    like `$.budget.usd`, and `reason` says why. Both are bounded (`MAX_FIELD_CHARS`, `MAX_REASON_CHARS`):
    a longer one keeps its start and its end around an ellipsis, so a huge value quoted in a reason
    cannot make its rejection huge."""

    def __init__(self, field: str, reason: str):
        field, reason = bounded(field, MAX_FIELD_CHARS), bounded(reason, MAX_REASON_CHARS)
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def bounded(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start and its end joined by an ellipsis,
    `limit` characters in all."""
    if len(text) <= limit:
        return text
    tail = (limit - len(ELLIPSIS)) // 3
    return text[: limit - len(ELLIPSIS) - tail] + ELLIPSIS + text[len(text) - tail :]


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
