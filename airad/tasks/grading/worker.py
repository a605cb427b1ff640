"""Grading in a worker process: the task is opened there from its spec (once per task and seed) and
grades the node, so the daemon's event loop never waits on the harness's CPU. A worker also
prepares a task's split ahead of the daemon opening it (writing the CSVs is the costly part)."""

from __future__ import annotations

import functools
from pathlib import Path

import msgspec

from airad.schemas.request import TaskSpec
from airad.tasks.base import Task
from airad.tasks.grading.node import FinishedNode, Verdict, grade_node
from airad.tasks.registry import open_task

Job = tuple[bytes, int, str, FinishedNode]
"""One node to grade: its task's spec as JSON, the run's seed, the tasks root, and the node."""


@functools.lru_cache(maxsize=64)
def _opened(spec_json: bytes, seed: int, tasks_root: str) -> Task:
    return open_task(msgspec.json.decode(spec_json, type=TaskSpec), seed, Path(tasks_root))


def grade_in_worker(spec_json: bytes, seed: int, tasks_root: str, node: FinishedNode) -> Verdict:
    """Grade `node` with the task `spec_json` names, prepared for `seed` under `tasks_root`."""
    return grade_node(_opened(spec_json, seed, tasks_root), node)


def grade_batch_in_worker(jobs: list[Job]) -> list[Verdict | Exception]:
    """`grade_in_worker` for each job; a job that raises gets its exception in its place."""
    outcomes: list[Verdict | Exception] = []
    for job in jobs:
        try:
            outcomes.append(grade_in_worker(*job))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def prepare_in_worker(spec_json: bytes, seed: int, tasks_root: str) -> None:
    """Prepare the task on disk (and keep it open for grading); any failure is left for the
    daemon's own open to report, with its field and reason."""
    try:
        _opened(spec_json, seed, tasks_root)
    except Exception:
        pass
