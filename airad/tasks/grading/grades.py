"""What a harness says of a submission: a score or the reason there is none, per split."""

from __future__ import annotations

from msgspec import Struct


class SubmissionError(ValueError):
    """The submission cannot be scored; the message is shown to the debug operator."""


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
