"""The one error of a request that cannot be used: the field at fault and why."""

from __future__ import annotations


class FieldError(ValueError):
    """A request (or the task or a file it names) that cannot be used; `field` is the JSON path at fault,
    like `$.budget.usd`, and `reason` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
