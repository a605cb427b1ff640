"""A node's verdict: valid only when the harness scored it and the script exited 0 of itself; the
reason names how the script ended before the harness's own; a leaderboard adds the test score's medal."""

from __future__ import annotations

import pytest

from airad.tasks.grading.grades import Grades, Score
from airad.tasks.grading.medals import thresholds_from_scores
from airad.tasks.grading.node import FinishedNode, judge

SCORED = Grades("accuracy", False, Score(valid=True, score=0.9), Score(valid=True, score=0.8))
NONE = Score(valid=False, error="no submission")
MISSING = Grades("accuracy", False, NONE, NONE)


def test_a_clean_exit_with_a_scored_submission_is_valid():
    verdict = judge(SCORED, FinishedNode(b"...", exit_code=0))
    assert (verdict.valid, verdict.score, verdict.error, verdict.test_score) == (True, 0.9, "", 0.8)
    assert (verdict.medal, verdict.above_median, verdict.medal_thresholds) == (None, None, {})


@pytest.mark.parametrize(
    "node, grades, error",
    [
        (FinishedNode(None, 0, uncollected="x was not collected: too big", killed="cancel"), MISSING,
         "x was not collected: too big"),
        (FinishedNode(None, None, killed="cancel", oom=True), MISSING, "the job was stopped (cancel); no submission"),
        (FinishedNode(None, 137, oom=True, memory_mb=512), MISSING,
         "the script ran out of memory (limit 512 MiB); no submission"),
        (FinishedNode(b"...", None, timed_out=True), SCORED, "the script ran past its time limit"),
        (FinishedNode(None, None, timed_out=True), MISSING, "no submission"),
        (FinishedNode(None, 1), MISSING, "the script exited with code 1; no submission"),
    ],
)
def test_the_reason_names_how_the_script_ended_first(node, grades, error):
    verdict = judge(grades, node)
    assert not verdict.valid and verdict.error == error


def test_a_scored_submission_of_a_failed_script_is_invalid_without_a_reason():
    verdict = judge(SCORED, FinishedNode(b"...", exit_code=1))
    assert not verdict.valid and verdict.error == "" and verdict.score == 0.9


def test_a_leaderboard_gives_the_test_score_its_medal():
    thresholds = thresholds_from_scores([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    verdict = judge(SCORED, FinishedNode(b"...", exit_code=0), thresholds)
    assert verdict.medal == "bronze" and verdict.above_median
    assert verdict.medal_thresholds == thresholds.as_dict()
    invalid = judge(MISSING, FinishedNode(None, exit_code=0), thresholds)
    assert invalid.medal is None and invalid.above_median is False
