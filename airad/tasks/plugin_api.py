"""What a plugin package provides to add a task kind (docs/extending.md): registered under the
entry-point group `airad.tasks`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec import Struct

from airad.tasks.base import Task


def _no_problem(params: Any) -> tuple[str, str] | None:
    return None


@dataclass(frozen=True)
class TaskPlugin:
    """A task kind: `params` is a frozen msgspec Struct whose tag (with `tag_field="kind"`) names the
    kind in a request; `open(params, seed, tasks_root)` prepares the task for a run's seed and returns
    an object implementing the `Task` protocol (its harness included); `problem(params)` says what is
    wrong with a request's parameters as (field, reason), or None: the field is a parameter's name or
    path below the parameters (`"rows"`, or `"$.rows"`), reported as `$.task.params.rows`."""

    params: type[Struct]
    open: Callable[[Any, int, Path], Task]
    problem: Callable[[Any], tuple[str, str] | None] = _no_problem

    @property
    def name(self) -> str:
        """The task kind: its params struct's tag."""
        return str(self.params.__struct_config__.tag)
