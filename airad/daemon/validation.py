"""Validate a raw run request; a rejection names the field (a JSON path) and the reason."""

from __future__ import annotations

import re
from collections.abc import Collection

from pathlib import Path

import msgspec

from airad.request_files import RequestFileError, inline_files
from airad.schemas.request import RunRequest
from airad.tasks.registry import task_problem

_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")
_AT_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<field>[^`]*)`)?$", re.DOTALL)


class RequestError(ValueError):
    """A request that cannot become a run; `field` is a JSON path like `$.budget.usd`."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _from_msgspec(exc: msgspec.MsgspecError) -> RequestError:
    match = _AT_PATH.match(str(exc))
    field = (match.group("field") if match else None) or "$"
    reason = match.group("reason") if match else str(exc)
    named = _NAMED_FIELD.search(reason)
    if named:
        field = f"{field}.{named.group(1)}"
    return RequestError(field, reason)


def parse_request(
    raw: bytes | str, *, toml: bool = False, executors: Collection[str] | None = None, base_dir: Path | None = None
) -> RunRequest:
    """Decode and check a request from JSON (or TOML) text; raise RequestError on any problem.
    With `executors`, the request must name one of those executor kinds (the ones configured).
    With `base_dir` (the folder of a request file), the files it names are inlined first (see
    `airad.request_files`)."""
    if base_dir is not None:
        raw = _inlined(raw, toml, base_dir)
        toml = False
    try:
        if toml:
            request = msgspec.toml.decode(raw, type=RunRequest)
        else:
            request = msgspec.json.decode(raw, type=RunRequest)
    except msgspec.ValidationError as exc:
        raise _from_msgspec(exc) from None
    except msgspec.DecodeError as exc:
        kind = "TOML" if toml else "JSON"
        raise RequestError("$", f"not valid {kind}: {exc}") from None
    problem = task_problem(request.task)
    if problem is not None:
        raise RequestError(*problem)
    kind = request.executor.__struct_config__.tag
    if executors is not None and kind not in executors:
        configured = ", ".join(sorted(executors)) or "none"
        raise RequestError("$.executor.kind", f"this daemon has no {kind!r} executor configured (it has: {configured})")
    return request


def _inlined(raw: bytes | str, toml: bool, base_dir: Path) -> bytes:
    """A request file's text as JSON with its file references inlined."""
    try:
        data = msgspec.toml.decode(raw) if toml else msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise RequestError("$", f"not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    try:
        return msgspec.json.encode(inline_files(data, base_dir))
    except RequestFileError as exc:
        raise RequestError(exc.field, exc.reason) from None
