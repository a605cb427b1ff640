"""The harness that scores a CSV submission against answers it keeps to itself."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from airad.tasks.base import Grades, Score
from airad.tasks.metrics import Metric


class SubmissionError(ValueError):
    """The submission cannot be scored; the message is shown to the debug operator."""


class CsvHarness:
    """Scores `submission.csv` rows: validation rows give the fitness, test rows the held-out score.

    `answers` has the id column, the target column and a `split` column ("validation" or "test").
    """

    def __init__(self, answers: pd.DataFrame, id_column: str, target_column: str, metric: Metric):
        self.answers = answers.set_index(id_column)
        self.id_column = id_column
        self.target_column = target_column
        self.metric = metric

    def grade(self, submission: bytes | None) -> Grades:
        """Validate the file, then score each split; an invalid file is invalid for both."""
        try:
            predictions = self._read(submission)
        except SubmissionError as exc:
            failed = Score(valid=False, error=str(exc))
            return Grades(self.metric.name, self.metric.lower_is_better, failed, failed)
        return Grades(
            self.metric.name,
            self.metric.lower_is_better,
            self._score(predictions, "validation"),
            self._score(predictions, "test"),
        )

    def _score(self, predictions: pd.Series, split: str) -> Score:
        rows = self.answers[self.answers["split"] == split]
        if rows[self.target_column].isna().all():
            return Score(valid=False, error=f"no labels for the {split} rows")
        truth = rows[self.target_column].to_numpy()
        predicted = predictions.loc[rows.index].to_numpy()
        try:
            value = self.metric(truth, predicted)
        except ValueError as exc:
            return Score(valid=False, error=f"{self.metric.name} cannot be computed: {exc}")
        if not np.isfinite(value):
            return Score(valid=False, error=f"{self.metric.name} is not finite ({value})")
        return Score(valid=True, score=value)

    def _read(self, submission: bytes | None) -> pd.Series:
        if submission is None:
            raise SubmissionError("no submission: the script did not write submission/submission.csv")
        try:
            frame = pd.read_csv(io.BytesIO(submission))
        except (ValueError, pd.errors.ParserError) as exc:
            raise SubmissionError(f"submission.csv is not a readable CSV: {exc}") from None
        for column in (self.id_column, self.target_column):
            if column not in frame.columns:
                raise SubmissionError(
                    f"submission is missing column {column!r} (it has {list(frame.columns)[:10]})"
                )
        expected = len(self.answers)
        if len(frame) != expected:
            raise SubmissionError(f"submission has {len(frame)} rows, expected {expected} (one per row of test.csv)")
        ids = frame[self.id_column]
        if ids.duplicated().any():
            raise SubmissionError(f"submission repeats ids, e.g. {ids[ids.duplicated()].iloc[0]!r}")
        unknown = ~ids.isin(self.answers.index)
        if unknown.any():
            raise SubmissionError(f"submission has {int(unknown.sum())} ids that are not in test.csv, e.g. {ids[unknown].iloc[0]!r}")
        values = frame[self.target_column]
        if self.metric.probabilities or values.dtype.kind in "fiub":
            values = pd.to_numeric(values, errors="coerce")
        missing = int(values.isna().sum())
        if missing:
            raise SubmissionError(f"column {self.target_column!r} has {missing} missing or non-numeric values")
        return pd.Series(values.to_numpy(), index=ids.to_numpy())
