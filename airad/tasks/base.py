"""The task boundary: a prepared task with public inputs, a brief for the model and a harness."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from msgspec import Struct

from airad.agents.operators import TaskBrief


class Score(Struct, frozen=True):
    """One harness verdict on one split: a score, or why the submission could not be scored."""

    valid: bool
    score: float | None = None
    error: str = ""


class Grades(Struct, frozen=True):
    """The harness's verdicts on a submission: validation (fitness) and held-out test (reports)."""

    metric: str
    lower_is_better: bool
    validation: Score
    test: Score


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
