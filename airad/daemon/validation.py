"""Validate a raw run or experiment request; a rejection names the field (a JSON path) and the reason."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import msgspec

from airad.schemas.request_files import RequestFileError, inline_files
from airad.schemas.experiment import ExperimentRequest, experiment_problem
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


def _decode(raw: bytes | str, kind: type, toml: bool):
    try:
        if toml:
            return msgspec.toml.decode(raw, type=kind)
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise _from_msgspec(exc) from None
    except msgspec.DecodeError as exc:
        raise RequestError("$", f"not valid {'TOML' if toml else 'JSON'}: {exc}") from None


def _check_executor(executor, executors: Collection[str] | None) -> None:
    kind = executor.__struct_config__.tag
    if executors is not None and kind not in executors:
        configured = ", ".join(sorted(executors)) or "none"
        raise RequestError("$.executor.kind", f"this daemon has no {kind!r} executor configured (it has: {configured})")


def parse_request(
    raw: bytes | str, *, toml: bool = False, executors: Collection[str] | None = None, base_dir: Path | None = None
) -> RunRequest:
    """Decode and check a request from JSON (or TOML) text; raise RequestError on any problem.
    With `executors`, the request must name one of those executor kinds (the ones configured).
    With `base_dir` (the folder of a request file), the files it names are inlined first (see
    `airad.schemas.request_files`)."""
    if base_dir is not None:
        raw = _inlined(raw, toml, base_dir)
        toml = False
    request = _decode(raw, RunRequest, toml)
    problem = task_problem(request.task)
    if problem is not None:
        raise RequestError(*problem)
    _check_executor(request.executor, executors)
    return request


def parse_experiment(
    raw: bytes | str, *, toml: bool = False, executors: Collection[str] | None = None, base_dir: Path | None = None
) -> ExperimentRequest:
    """Decode and check an experiment request like `parse_request` (files named by a request file
    are inlined the same way); a task's problem is named at its place in the list (`$.tasks[1].name`)."""
    if base_dir is not None:
        raw = _inlined(raw, toml, base_dir)
        toml = False
    request = _decode(raw, ExperimentRequest, toml)
    for index, task in enumerate(request.tasks):
        problem = task_problem(task)
        if problem is not None:
            field, reason = problem
            raise RequestError(field.replace("$.task", f"$.tasks[{index}]", 1), reason)
    problem = experiment_problem(request)
    if problem is not None:
        raise RequestError(*problem)
    _check_executor(request.executor, executors)
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
