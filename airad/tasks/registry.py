"""Open the task a run request names; say which field is wrong when it names none."""

from __future__ import annotations

from pathlib import Path

from airad.schemas.request import BundledTask, TaskSpec
from airad.tasks.base import Task
from airad.tasks.bundled import DATASETS, bundled_task_names, prepare_bundled


def task_problem(spec: TaskSpec) -> tuple[str, str] | None:
    """(field, reason) when the task spec cannot be opened, else None."""
    if isinstance(spec, BundledTask) and spec.name not in DATASETS:
        return "$.task.name", f"unknown bundled task {spec.name!r}; known: {', '.join(bundled_task_names())}"
    return None


def open_task(spec: TaskSpec, seed: int, tasks_root: Path) -> Task:
    """Prepare the task for this seed (once) and return it."""
    if isinstance(spec, BundledTask):
        return prepare_bundled(spec, seed, tasks_root)
    raise ValueError(f"unsupported task kind {type(spec).__name__}")
