"""Nodes graded while the workers are busy travel together: fewer round trips than verdicts, every
caller gets its own verdict, a failing grade fails only its caller, and a cancelled caller's node is
not graded for nobody. The worker is stood in for by a function run in-process."""

from __future__ import annotations

import anyio
import pytest

import airad.daemon.grading as grading
from airad.daemon.grading import Grader
from airad.schemas.request import BundledTask, RunRequest
from airad.tasks.grading.node import FinishedNode, Verdict

REQUEST = RunRequest(task=BundledTask(name="wine"), seed=1)


def node(submission: bytes) -> FinishedNode:
    return FinishedNode(submission, exit_code=0)


class Batches(list):
    """The submissions of each round trip, in order; `pause` is how long a round trip takes."""

    pause = 0.05


@pytest.fixture
def worker(monkeypatch):
    """A fake `to_process.run_sync` that grades a batch after a pause, recording each batch."""
    batches = Batches()

    async def run_sync(function, jobs, limiter):
        async with limiter:
            batches.append([job[3].submission for job in jobs])
            await anyio.sleep(batches.pause)
            outcomes = []
            for job in jobs:
                if job[3].submission == b"boom":
                    outcomes.append(ValueError("the harness choked"))
                else:
                    score = float(len(job[3].submission or b""))
                    outcomes.append(Verdict("accuracy", False, True, score, "", score))
            return outcomes

    monkeypatch.setattr(grading.anyio.to_process, "run_sync", run_sync)
    return batches


async def test_grades_asked_together_share_round_trips_and_each_gets_its_own(worker):
    grader = Grader(processes=2)
    results: dict[int, float] = {}

    async def ask(i: int) -> None:
        verdict = await grader.grade(None, REQUEST, "/tasks", node(b"x" * i))
        results[i] = verdict.score

    async with anyio.create_task_group() as tg:
        for i in range(1, 41):
            tg.start_soon(ask, i)
    assert results == {i: float(i) for i in range(1, 41)}
    assert sum(len(batch) for batch in worker) == 40
    assert grader.round_trips == len(worker) < 40


async def test_a_failing_grade_fails_only_its_caller(worker):
    grader = Grader(processes=1)
    outcomes: dict[bytes, object] = {}

    async def ask(submission: bytes) -> None:
        try:
            outcomes[submission] = (await grader.grade(None, REQUEST, "/tasks", node(submission))).score
        except ValueError as exc:
            outcomes[submission] = str(exc)

    async with anyio.create_task_group() as tg:
        for submission in (b"a", b"boom", b"ccc", b"dd"):
            tg.start_soon(ask, submission)
    assert outcomes == {b"a": 1.0, b"boom": "the harness choked", b"ccc": 3.0, b"dd": 2.0}


async def test_a_cancelled_caller_takes_its_submission_back(worker):
    worker.pause = 0.2
    grader = Grader(processes=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(grader.grade, None, REQUEST, "/tasks", node(b"first"))
        await anyio.sleep(0.01)  # the first is in flight; the next waits
        with anyio.move_on_after(worker.pause / 4):
            await grader.grade(None, REQUEST, "/tasks", node(b"cancelled"))
        tg.start_soon(grader.grade, None, REQUEST, "/tasks", node(b"later"))
    graded = [s for batch in worker for s in batch]
    assert b"cancelled" not in graded and graded == [b"first", b"later"]
