"""The harness for a competition-graded task: one submission file holds the validation rows and the
test rows; each split is graded by the competition's own grader against answers the harness keeps."""

from __future__ import annotations

import io
from typing import Protocol

import numpy as np
import pandas as pd

from airad.tasks.grading.grades import Grades, Score, SubmissionError


class CompetitionGrader(Protocol):
    """What the harness needs of a competition: its row key, its metric, and its grading function."""

    @property
    def id_column(self) -> str: ...

    @property
    def metric(self) -> str: ...

    @property
    def lower_is_better(self) -> bool: ...

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        """Score a submission against answers with the same rows; raise SubmissionError if it is malformed."""
        ...


class CompetitionHarness:
    """Grades `submission.csv` for a task whose answers carry a `split` column (validation / test).

    The file must have the sample submission's columns and one row per answer row; then each split's
    rows go to the competition's grader with that split's answers."""

    def __init__(self, answers: pd.DataFrame, grader: CompetitionGrader, columns: list[str]):
        self.answers = answers
        self.grader = grader
        self.columns = columns

    def grade(self, submission: bytes | None) -> Grades:
        """Validate the file's shape, then grade each split on its own."""
        try:
            frame = self._read(submission)
        except SubmissionError as exc:
            failed = Score(valid=False, error=str(exc))
            return Grades(self.grader.metric, self.grader.lower_is_better, failed, failed)
        return Grades(
            self.grader.metric,
            self.grader.lower_is_better,
            self._score(frame, "validation"),
            self._score(frame, "test"),
        )

    def _score(self, frame: pd.DataFrame, split: str) -> Score:
        key = self.grader.id_column
        answers = self.answers[self.answers["split"] == split].drop(columns=["split"])
        if answers.empty:
            return Score(valid=False, error=f"this task has no {split} rows")
        rows = frame[frame[key].isin(answers[key])]
        try:
            value = float(self.grader.grade(rows.reset_index(drop=True), answers.reset_index(drop=True)))
        except SubmissionError as exc:
            return Score(valid=False, error=str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            return Score(valid=False, error=f"{self.grader.metric} cannot be computed: {exc}")
        if not np.isfinite(value):
            return Score(valid=False, error=f"{self.grader.metric} is not finite ({value})")
        return Score(valid=True, score=value)

    def _read(self, submission: bytes | None) -> pd.DataFrame:
        if submission is None:
            raise SubmissionError("no submission: the script did not write submission/submission.csv")
        try:
            frame = pd.read_csv(io.BytesIO(submission), dtype={self.grader.id_column: str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise SubmissionError(f"submission.csv is not a readable CSV: {exc}") from None
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise SubmissionError(
                f"submission columns differ from sample_submission.csv: missing {missing[:10]}, unexpected {extra[:10]}"
            )
        key = self.grader.id_column
        expected = len(self.answers)
        if len(frame) != expected:
            raise SubmissionError(
                f"submission has {len(frame)} rows, expected {expected} (one per row of sample_submission.csv)"
            )
        ids = frame[key]
        if ids.duplicated().any():
            counts = ids.value_counts()
            allowed = self.answers[key].value_counts().reindex(counts.index, fill_value=0)
            over = counts[(counts > 1) & (counts > allowed)]
            if len(over):
                raise SubmissionError(f"submission repeats {key} values, e.g. {over.index[0]!r}")
        unknown = ~ids.isin(self.answers[key])
        if unknown.any():
            raise SubmissionError(
                f"submission has {int(unknown.sum())} {key} values not in sample_submission.csv, "
                f"e.g. {ids[unknown].iloc[0]!r}"
            )
        return frame
