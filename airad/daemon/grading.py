"""Where the daemon grades finished nodes (`airad.tasks.grading.node.grade_node`): in a thread (the
default), or in worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_process
import msgspec

from airad.schemas.request import RunRequest, TaskSpec
from airad.tasks.base import Task
from airad.tasks.grading.node import FinishedNode, Verdict, grade_node
from airad.tasks.grading.worker import Job, grade_batch_in_worker, prepare_in_worker

BATCH = 64


@dataclass(eq=False)
class _Pending:
    """One node waiting for its verdict (`outcome`: the Verdict, or the exception grading raised)."""

    job: Job
    outcome: Verdict | Exception | None = None


class Grader:
    """Grades finished nodes for every run of a daemon.

    With `processes` > 0, up to that many worker processes grade at once (each opens a task once
    and keeps it), which keeps the harness's CPU off the event loop's process: what a daemon with
    thousands of runs needs. Nodes that finish while every worker is busy go to the next free
    one together, up to `BATCH` a round trip, so under load a grade costs one pipe round trip in
    `BATCH`, not one each (`round_trips` counts them). With 0, a thread of the daemon grades (no
    start-up cost; fine for a few runs at a time)."""

    def __init__(self, processes: int = 0):
        self.processes = processes
        self._limiter = anyio.CapacityLimiter(processes) if processes else None
        self._queue: list[_Pending] = []
        self._sending = 0
        self._sent = anyio.Event()
        self.round_trips = 0

    async def grade(self, task: Task, request: RunRequest, tasks_root: Path, node: FinishedNode) -> Verdict:
        """The verdict on `node`, a finished node of a run on `task`."""
        if self._limiter is None:
            return await anyio.to_thread.run_sync(grade_node, task, node)
        pending = _Pending((msgspec.json.encode(request.task), request.seed, str(tasks_root), node))
        self._queue.append(pending)
        try:
            while pending.outcome is None:
                if self._queue and self._sending < self.processes:
                    await self._send()
                else:
                    await self._sent.wait()
        finally:
            if pending in self._queue:  # cancelled before it was sent
                self._queue.remove(pending)
        if isinstance(pending.outcome, Exception):
            raise pending.outcome
        return pending.outcome

    async def _send(self) -> None:
        """Grade the oldest waiting nodes in one worker round trip; shielded, so the callers whose
        nodes ride along get their verdicts even if this one is cancelled."""
        batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
        self._sending += 1
        self.round_trips += 1
        outcomes: list[Verdict | Exception] = [RuntimeError("grading was interrupted")] * len(batch)
        try:
            with anyio.CancelScope(shield=True):
                outcomes = await anyio.to_process.run_sync(
                    grade_batch_in_worker,
                    [pending.job for pending in batch],
                    limiter=self._limiter,
                )
        except Exception as exc:
            outcomes = [exc] * len(batch)
        finally:
            for pending, outcome in zip(batch, outcomes, strict=False):
                pending.outcome = outcome
            self._sending -= 1
            self._sent.set()
            self._sent = anyio.Event()

    async def prepare(self, spec: TaskSpec, seed: int, tasks_root: Path) -> None:
        """With worker processes, prepare the task's files in one of them (the daemon then opens a
        prepared task: no CSV writing on the event loop's process); without, nothing."""
        if self._limiter is not None:
            await anyio.to_process.run_sync(
                prepare_in_worker,
                msgspec.json.encode(spec),
                seed,
                str(tasks_root),
                limiter=self._limiter,
            )
