"""Open the task a run request names; say which field is wrong when it names none."""

from __future__ import annotations

from pathlib import Path

from airad.schemas.errors import FieldError
from airad.schemas.request import BundledTask, ContractTask, CsvTask, MleBenchTask, PluginTask, ScriptTask, TaskSpec
from airad.schemas.request_files import HOST_PATHS, is_relative_host_path
from airad.tasks.base import Task


def task_problem(spec: TaskSpec) -> tuple[str, str] | None:
    """(field, reason) when the task spec cannot be opened, else None. Cheap: no data is read."""
    relative = relative_path(spec)
    if relative is not None:
        return relative
    if isinstance(spec, BundledTask):
        from airad.tasks.bundled import DATASETS, bundled_task_names

        if spec.name not in DATASETS:
            return "$.task.name", f"unknown bundled task {spec.name!r}; known: {', '.join(bundled_task_names())}"
        return None
    if isinstance(spec, CsvTask):
        from airad.tasks.csv_task import csv_task_problem

        return csv_task_problem(spec)
    if isinstance(spec, ContractTask):
        from airad.tasks.contract import contract_task_problem

        return contract_task_problem(spec)
    if isinstance(spec, MleBenchTask):
        from airad.tasks.mlebench import mlebench_task_problem

        return mlebench_task_problem(spec)
    if isinstance(spec, ScriptTask):
        from airad.tasks.script import script_task_problem

        return script_task_problem(spec)
    if isinstance(spec, PluginTask):
        from airad.tasks.plugins import plugin_task_problem

        return plugin_task_problem(spec)
    return "$.task.kind", f"unsupported task kind {type(spec).__name__}"


def relative_path(spec: TaskSpec) -> tuple[str, str] | None:
    """(field, reason) for a path on the daemon's host that is not absolute: the daemon would read it
    against its own working directory, which the client cannot know."""
    for name in HOST_PATHS:
        value = getattr(spec, name, None)
        if is_relative_host_path(value):
            return (
                f"$.task.{name}",
                f"{value!r} is relative: a path on the daemon's host must be absolute (or start with ~) "
                "(airad submit and airad.Client make a request file's paths absolute beside the file)",
            )
    return None


def open_task(spec: TaskSpec, seed: int, tasks_root: Path) -> Task:
    """Prepare the task for this seed (once) and return it; `FieldError` if it cannot be."""
    problem = task_problem(spec)
    if problem is not None:
        raise FieldError(*problem)
    if isinstance(spec, BundledTask):
        from airad.tasks.bundled import prepare_bundled

        return prepare_bundled(spec, seed, tasks_root)
    if isinstance(spec, CsvTask):
        from airad.tasks.csv_task import prepare_csv

        return prepare_csv(spec, seed, tasks_root)
    if isinstance(spec, ContractTask):
        from airad.tasks.contract import prepare_contract

        return prepare_contract(spec, seed, tasks_root)
    if isinstance(spec, ScriptTask):
        from airad.tasks.script import prepare_script

        return prepare_script(spec)
    if isinstance(spec, PluginTask):
        from airad.tasks.plugins import open_plugin_task

        return open_plugin_task(spec, seed, tasks_root)
    from airad.tasks.mlebench import prepare_mlebench

    return prepare_mlebench(spec, seed, tasks_root)
