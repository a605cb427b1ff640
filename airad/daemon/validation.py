"""Validate a raw run or experiment request; a rejection names the field (a JSON path) and the reason."""

from __future__ import annotations

import typing
from collections.abc import Collection
from pathlib import Path

import msgspec

from airad.daemon.plugins import Plugins, installed_plugins
from airad.daemon.template_sets import operators_problem
from airad.schemas.errors import FieldError, field_error
from airad.schemas.experiment import ExperimentRequest, experiment_problem
from airad.schemas.json_schema import integral_floats_as_ints
from airad.schemas.request import ExecutorSpec, RunRequest, is_derived_run_id
from airad.schemas.request_files import inline_files
from airad.schemas.tags import struct_tag
from airad.tasks.registry import task_problem


def _decode(raw: bytes | str, kind: type, toml: bool):
    try:
        if toml:
            return msgspec.toml.decode(raw, type=kind)
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise _with_known_kinds(field_error(exc)) from None
    except msgspec.DecodeError as exc:
        raise FieldError("$", f"not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1]
        raise FieldError("$", f"not valid UTF-8: {exc.reason} (byte {byte!r})") from None


KIND_FIELDS = {"$.executor.kind": typing.get_args(ExecutorSpec)}
"""Tagged unions whose unknown kind the decoder reports bare; policies and tasks list theirs elsewhere."""


def _with_known_kinds(error: FieldError) -> FieldError:
    """`error`, naming the known kinds when it is an unknown kind of a tagged union."""
    members = KIND_FIELDS.get(error.field)
    if members is None or not error.reason.startswith("Invalid value"):
        return error
    known = ", ".join(member.__struct_config__.tag for member in members)
    return FieldError(error.field, f"{error.reason}; known: {known}")


def _check_executor(executor: ExecutorSpec, executors: Collection[str] | None) -> None:
    kind = struct_tag(executor)
    if executors is not None and kind not in executors:
        configured = ", ".join(sorted(executors)) or "none"
        raise FieldError("$.executor.kind", f"this daemon has no {kind!r} executor configured (it has: {configured})")


def parse_request(
    raw: bytes | str, *, toml: bool = False, executors: Collection[str] | None = None, base_dir: Path | None = None
) -> RunRequest:
    """Decode and check a request from JSON (or TOML) text; raise FieldError on any problem.
    With `executors`, the request must name one of those executor kinds (the ones configured).
    With `base_dir` (the folder of a request file), the files it names are inlined first (see
    `airad.schemas.request_files`)."""
    plugins = installed_plugins()
    request = _decode(_prepared(raw, toml, base_dir, plugins), RunRequest, False)
    if request.run_id is not None and is_derived_run_id(request.run_id):
        raise FieldError(
            "$.run_id", f"{request.run_id!r}: ids of the form req-N are given by the daemon to requests that name none"
        )
    problem = task_problem(request.task)
    if problem is not None:
        raise FieldError(*problem)
    _raise(plugins.policy_problem(request.policy))
    _raise(plugins.operator_models_problem(request.operator_models))
    if request.operators is not None:
        _raise(operators_problem(request.operators, "$.operators"))
    _check_executor(request.executor, executors)
    return request


def _raise(problem: FieldError | None) -> None:
    if problem is not None:
        raise problem


def parse_experiment(
    raw: bytes | str, *, toml: bool = False, executors: Collection[str] | None = None, base_dir: Path | None = None
) -> ExperimentRequest:
    """Decode and check an experiment request like `parse_request` (files named by a request file
    are inlined the same way); a task's problem is named at its place in the list (`$.tasks[1].name`)."""
    plugins = installed_plugins()
    request = _decode(_prepared(raw, toml, base_dir, plugins), ExperimentRequest, False)
    for index, task in enumerate(request.tasks):
        problem = task_problem(task)
        if problem is not None:
            field, reason = problem
            raise FieldError(field.replace("$.task", f"$.tasks[{index}]", 1), reason)
    problem = experiment_problem(request)
    if problem is not None:
        raise FieldError(*problem)
    for index, solver in enumerate(request.solvers):
        _raise(plugins.policy_problem(solver.policy, f"$.solvers[{index}].policy"))
        _raise(plugins.operator_models_problem(solver.operator_models, f"$.solvers[{index}].operator_models"))
        if solver.operators is not None:
            _raise(operators_problem(solver.operators, f"$.solvers[{index}].operators"))
    _check_executor(request.executor, executors)
    return request


def _prepared(raw: bytes | str, toml: bool, base_dir: Path | None, plugins: Plugins) -> bytes:
    """A request's text as JSON, with the files a request file names inlined (`base_dir`: its folder),
    plugin kinds in the log's form, and integral numbers as integers (JSON Schema's `integer`)."""
    data = integral_floats_as_ints(_decode(raw, object, toml))
    if base_dir is not None:
        data = inline_files(data, base_dir)
    return msgspec.json.encode(plugins.normalized(data))
