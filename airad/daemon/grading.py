"""Where the daemon grades node submissions: in a thread (the default), or in worker processes."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_process
import msgspec

from airad.schemas.request import RunRequest, TaskSpec
from airad.tasks.base import Grades, Task
from airad.tasks.grading_worker import grade_in_worker, prepare_in_worker


class Grader:
    """Grades submissions for every run of a daemon.

    With `processes` > 0, up to that many worker processes grade at once (each opens a task once
    and keeps it), which keeps the harness's CPU off the event loop's process: what a daemon with
    thousands of runs needs. With 0, a thread of the daemon grades (no start-up cost; fine for a
    few runs at a time)."""

    def __init__(self, processes: int = 0):
        self.processes = processes
        self._limiter = anyio.CapacityLimiter(processes) if processes else None

    async def grade(self, task: Task, request: RunRequest, tasks_root: Path, submission: bytes | None) -> Grades:
        """The harness's grades of `submission` for the run's task."""
        if self._limiter is None:
            return await anyio.to_thread.run_sync(task.grade, submission)
        return await anyio.to_process.run_sync(
            grade_in_worker, msgspec.json.encode(request.task), request.seed, str(tasks_root), submission,
            limiter=self._limiter,
        )

    async def prepare(self, spec: TaskSpec, seed: int, tasks_root: Path) -> None:
        """With worker processes, prepare the task's files in one of them (the daemon then opens a
        prepared task: no CSV writing on the event loop's process); without, nothing."""
        if self._limiter is not None:
            await anyio.to_process.run_sync(
                prepare_in_worker, msgspec.json.encode(spec), seed, str(tasks_root), limiter=self._limiter,
            )
