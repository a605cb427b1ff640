"""The task boundary: a prepared task with public inputs, a brief for the model and a harness
(its grades: `airad.tasks.grading`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from airad.agents.operators import TaskBrief
from airad.tasks.grading.grades import Grades


class Task(Protocol):
    """A prepared task: what a node's script may read, what the model is told, how outputs are scored."""

    name: str
    public_dir: Path
    submission_path: str

    def brief(self) -> TaskBrief:
        """The task description and an overview of the public files."""
        ...

    def grade(self, submission: bytes | None) -> Grades:
        """Score a submission file's bytes (None when the script wrote none)."""
        ...
