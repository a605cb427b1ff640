"""The harness of table tasks: scores a CSV submission against answers it keeps to itself."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from airad.tasks.grading.grades import Grades, Score, SubmissionError
from airad.tasks.metrics import Metric


class CsvHarness:
    """Scores `submission.csv` rows: validation rows give the fitness, test rows the held-out score.

    `answers` has the id column, the target column and a `split` column ("validation" or "test").
    """

    def __init__(self, answers: pd.DataFrame, id_column: str, target_column: str, metric: Metric):
        self.answers = answers.set_index(id_column)
        self.id_column = id_column
        self.target_column = target_column
        self.metric = metric
        self._rows = {
            split: np.flatnonzero((self.answers["split"] == split).to_numpy()) for split in ("validation", "test")
        }
        self._truth = self.answers[target_column].to_numpy()

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

    def _score(self, predictions: np.ndarray, split: str) -> Score:
        rows = self._rows[split]
        truth = self._truth[rows]
        if pd.isna(truth).all():
            return Score(valid=False, error=f"no labels for the {split} rows")
        try:
            value = self.metric(truth, predictions[rows])
        except ValueError as exc:
            return Score(valid=False, error=f"{self.metric.name} cannot be computed: {exc}")
        if not np.isfinite(value):
            return Score(valid=False, error=f"{self.metric.name} is not finite ({value})")
        return Score(valid=True, score=value)

    def _read(self, submission: bytes | None) -> np.ndarray:
        """The submitted values in the answers' row order."""
        if submission is None:
            raise SubmissionError("no submission: the script did not write submission/submission.csv")
        try:
            frame = pd.read_csv(io.BytesIO(submission))
        except (ValueError, pd.errors.ParserError) as exc:
            raise SubmissionError(f"submission.csv is not a readable CSV: {exc}") from None
        for column in (self.id_column, self.target_column):
            if column not in frame.columns:
                raise SubmissionError(f"submission is missing column {column!r} (it has {list(frame.columns)[:10]})")
        expected = len(self.answers)
        if len(frame) != expected:
            raise SubmissionError(f"submission has {len(frame)} rows, expected {expected} (one per row of test.csv)")
        ids = pd.Index(frame[self.id_column])
        if ids.has_duplicates:
            raise SubmissionError(f"submission repeats ids, e.g. {ids[ids.duplicated()].tolist()[0]!r}")
        positions = self.answers.index.get_indexer(ids)
        unknown = positions < 0
        if unknown.any():
            raise SubmissionError(
                f"submission has {int(unknown.sum())} ids that are not in test.csv, e.g. {ids[unknown].tolist()[0]!r}"
            )
        values = frame[self.target_column]
        if self.metric.probabilities or values.dtype.kind in "fiub":
            values = pd.to_numeric(values, errors="coerce")
        missing = int(values.isna().sum())
        if missing:
            raise SubmissionError(f"column {self.target_column!r} has {missing} missing or non-numeric values")
        aligned: np.ndarray = np.empty(len(positions), dtype=values.dtype if values.dtype.kind in "biuf" else object)
        aligned[positions] = values.to_numpy()
        return aligned
