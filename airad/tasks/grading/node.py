"""A finished node's verdict: its task's grades of its submission, judged by how its script ended
(validity, and the reason the debug operator is shown), with the test score's medal."""

from __future__ import annotations

from msgspec import Struct

from airad.schemas.events import Medal
from airad.tasks.base import Task
from airad.tasks.grading.grades import Grades, Score
from airad.tasks.grading.medals import MedalThresholds, grading_report


class FinishedNode(Struct, frozen=True):
    """What grading reads of a node whose script ended: its submission file's bytes (None when none
    was collected) and how the script ended (`node.executed`). `memory_mb` is the job's memory limit;
    `uncollected` is why the executor did not collect the submission, when its note says so."""

    submission: bytes | None
    exit_code: int | None
    timed_out: bool = False
    oom: bool = False
    killed: str | None = None
    memory_mb: int | None = None
    uncollected: str | None = None


class Verdict(Struct, frozen=True):
    """A node's grading as its events record it: the validation score (the fitness), whether it counts
    and why not (`node.scored`); the held-out test score and, by the task's leaderboard, its medal
    (`node.tested`)."""

    metric: str
    lower_is_better: bool
    valid: bool
    score: float | None
    error: str
    test_score: float | None
    medal: Medal | None = None
    above_median: bool | None = None
    medal_thresholds: dict[str, float] = {}


def grade_node(task: Task, node: FinishedNode) -> Verdict:
    """Grade the node's submission with the task's harness and judge it by how the script ended."""
    return judge(task.grade(node.submission), node, getattr(task, "medal_thresholds", None))


def judge(grades: Grades, node: FinishedNode, thresholds: MedalThresholds | None = None) -> Verdict:
    """The verdict on `grades`: valid when the harness could score the validation rows and the script
    exited 0 of itself; the reason shown puts how the script ended before the harness's own."""
    validation = grades.validation
    error = validation.error
    if node.uncollected:
        error = node.uncollected
    elif node.killed:
        error = f"the job was stopped ({node.killed}); {error}"
    elif node.oom:
        error = f"the script ran out of memory (limit {node.memory_mb} MiB); {error}"
    elif node.timed_out:
        error = error or "the script ran past its time limit"
    elif node.exit_code not in (0, None) and not validation.valid:
        error = f"the script exited with code {node.exit_code}; {error}"
    return Verdict(
        grades.metric,
        grades.lower_is_better,
        valid=validation.valid and node.exit_code == 0 and not (node.timed_out or node.oom or node.killed),
        score=validation.score,
        error=error,
        test_score=grades.test.score,
        **_medals(grades.test, thresholds),
    )


def _medals(test: Score, thresholds: MedalThresholds | None) -> dict:
    """The test score's medal by the task's leaderboard, when it has one (MLE-bench competitions)."""
    if thresholds is None:
        return {}
    report = grading_report(test.score, test.valid, thresholds)
    return {"medal": report.medal, "above_median": report.above_median, "medal_thresholds": thresholds.as_dict()}
