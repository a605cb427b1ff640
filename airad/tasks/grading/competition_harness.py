"""The harness for a competition-graded task: one submission file holds the validation rows and the
test rows; each split is graded by the competition's own grader against answers the harness keeps.

Two gradings. `mlebench` (the default) reads the file as MLE-bench does (pandas' own type inference,
so an id written `1.0` is the id 1) and leaves the columns, the values and the repeats to the
competition's grader, which checks what MLE-bench's `grade()` checks; the harness itself asks only
what it needs to cut the file in two: one row per answer row, and ids that are the sample
submission's (where a grader reads no ids, taxi's and nomad's, a row it cannot place takes an answer
row no other row claimed). `kaggle` also requires exactly the sample submission's columns and no
unknown or repeated id before any grader runs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from airad.tasks.grading.grades import Grades, Score, SubmissionError

Grading = Literal["mlebench", "kaggle"]
GRADINGS: tuple[Grading, ...] = ("mlebench", "kaggle")


class CompetitionGrader(Protocol):
    """What the harness needs of a competition: its row key, its metric, and its grading function."""

    @property
    def id_column(self) -> str: ...

    @property
    def metric(self) -> str: ...

    @property
    def lower_is_better(self) -> bool: ...

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame, grading: Grading = "mlebench") -> float:
        """Score a submission against answers with the same rows; raise SubmissionError if it is malformed."""
        ...

    def pairs_by_position(self, grading: Grading = "mlebench") -> bool:
        """Whether the grader pairs rows by their place in the file rather than by id."""
        ...

    def checks_ids(self, grading: Grading = "mlebench") -> bool:
        """Whether the grader compares the submission's ids with the answers' (else it never reads them)."""
        ...


class CompetitionHarness:
    """Grades `submission.csv` for a task whose answers carry a `split` column (validation / test).

    The file must have one row per answer row; each split's rows (told apart by id) then go to the
    competition's grader with that split's answers. `columns` are the sample submission's columns;
    `sample_ids` its ids in its order, which a grader that pairs rows by position needs (without
    them such a grader gets the answers in the submission's order, as if it paired by id)."""

    def __init__(
        self,
        answers: pd.DataFrame,
        grader: CompetitionGrader,
        columns: list[str],
        *,
        grading: Grading = "mlebench",
        sample_ids: Sequence[object] | None = None,
    ):
        if grading not in GRADINGS:
            raise ValueError(f"unknown grading {grading!r}; known: {', '.join(GRADINGS)}")
        self.answers = answers
        self.grader = grader
        self.columns = columns
        self.grading: Grading = grading
        key = grader.id_column
        self._keyed = answers.assign(**{key: comparable_ids(answers[key])}).reset_index(drop=True)
        self._validation = (self._keyed["split"] == "validation").to_numpy()
        self._index = _Occurrences(self._keyed[key])
        self._rank, self._ranked = np.arange(len(answers)), False  # each answer row's place in the sample
        if sample_ids is not None:
            sample = comparable_ids(pd.Series(list(sample_ids)))
            place = _Occurrences(sample).find(self._keyed[key])
            if (place >= 0).all() and len(sample) == len(answers):
                self._rank, self._ranked = place, True

    def grade(self, submission: bytes | None) -> Grades:
        """Validate the file's shape, then grade each split on its own."""
        try:
            if self.grading == "kaggle":
                frame = self._read(submission)
                parts = {split: self._kaggle_rows(frame, split) for split in ("validation", "test")}
            else:
                parts = self._mlebench_rows(submission)
        except SubmissionError as exc:
            failed = Score(valid=False, error=str(exc))
            return Grades(self.grader.metric, self.grader.lower_is_better, failed, failed)
        return Grades(
            self.grader.metric,
            self.grader.lower_is_better,
            self._score(*parts["validation"], "validation"),
            self._score(*parts["test"], "test"),
        )

    def _kaggle_rows(self, frame: pd.DataFrame, split: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        key = self.grader.id_column
        answers = self.answers[self.answers["split"] == split].drop(columns=["split"])
        return frame[frame[key].isin(answers[key])], answers

    def _mlebench_rows(self, submission: bytes | None) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
        """Each split's rows of the file, typed as a file of their own, and its answers."""
        frame = read_submission(submission, float_precision="round_trip")
        self._check_row_count(frame)
        found = self._answer_rows(frame)
        by_position = self.grader.pairs_by_position(self.grading)
        parts = {}
        for split in ("validation", "test"):
            mine = (self._validation[found] == (split == "validation")).nonzero()[0]
            if by_position:  # answer rows in the sample's order, else in the submission's (as if by id)
                chosen = found[mine]
                if self._ranked:
                    chosen = chosen[np.argsort(self._rank[chosen], kind="stable")]
                answers = self._keyed.iloc[chosen]
            else:
                answers = self._keyed[self._keyed["split"] == split]
            rows = as_own_file(frame.iloc[mine], keep=self.grader.id_column)
            parts[split] = (rows, answers.drop(columns=["split"]))
        return parts

    def _answer_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """For each row of the file, the answer row it belongs to: the k-th row with an id goes to the
        k-th answer row with it. Where the grader reads no ids (taxi, nomad), rows whose id matches
        none take the answer rows no row claimed, in the file's and the sample's order."""
        key, checks = self.grader.id_column, self.grader.checks_ids(self.grading)
        if key not in frame.columns and checks:
            raise SubmissionError(
                f"submission has no {key!r} column, which tells its validation rows from its test rows; "
                f"sample_submission.csv has the columns {list(self.columns)[:10]}"
            )
        if key not in frame.columns:
            found = np.full(len(frame), -1)
        else:
            ids = comparable_ids(frame[key])
            if ids.isna().any() and checks:
                first, count = int(np.argmax(ids.isna().to_numpy())), int(ids.isna().sum())
                raise SubmissionError(f"id column {key!r} has {count} empty values (first at row {first})")
            found = self._index.find(ids)
            if (found < 0).any() and checks:
                raise SubmissionError(self._unmatched(ids, found))
        loose = (found < 0).nonzero()[0]
        if len(loose):
            unclaimed = np.setdiff1d(np.arange(len(self._keyed)), found[found >= 0])
            found[loose] = unclaimed[np.argsort(self._rank[unclaimed], kind="stable")]
        return found

    def _unmatched(self, ids: pd.Series, found: np.ndarray) -> str:
        key = self.grader.id_column
        known = self._keyed[key]
        unknown = ids[(found < 0) & ~ids.isin(known).to_numpy()]
        if known.dtype.kind in "iuf" and ids.dtype == object:  # numbered ids, and text among them: name the text
            text = unknown[pd.to_numeric(unknown, errors="coerce").isna().to_numpy()]
            unknown = text if len(text) else unknown
        if len(unknown):
            return (
                f"submission has {len(unknown)} {key} values not in sample_submission.csv, "
                f"e.g. {_plain(unknown.iloc[0])!r}"
            )
        repeated = ids[found < 0].iloc[0]
        count, allowed = int((ids == repeated).sum()), int((known == repeated).sum())
        return (
            f"submission repeats {key} values, e.g. {_plain(repeated)!r} appears {count} times, "
            f"sample_submission.csv has it {allowed} time{'s' if allowed != 1 else ''}"
        )

    def _score(self, rows: pd.DataFrame, answers: pd.DataFrame, split: str) -> Score:
        if answers.empty:
            return Score(valid=False, error=f"this task has no {split} rows")
        caught: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError)
        if self.grading == "mlebench":
            caught = (Exception,)  # as in MLE-bench, whatever a grader raises makes the submission invalid
        try:
            value = float(self.grader.grade(rows.reset_index(drop=True), answers.reset_index(drop=True), self.grading))
        except SubmissionError as exc:
            return Score(valid=False, error=str(exc))
        except caught as exc:
            return Score(valid=False, error=f"{self.grader.metric} cannot be computed: {exc}")
        if not np.isfinite(value):
            return Score(valid=False, error=f"{self.grader.metric} is not finite ({value})")
        return Score(valid=True, score=value)

    def _check_row_count(self, frame: pd.DataFrame) -> None:
        expected = len(self.answers)
        if len(frame) != expected:
            raise SubmissionError(
                f"submission has {len(frame)} rows, expected {expected} (one per row of sample_submission.csv)"
            )

    def _read(self, submission: bytes | None) -> pd.DataFrame:
        frame = read_submission(submission, dtype={self.grader.id_column: str})
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise SubmissionError(
                f"submission columns differ from sample_submission.csv: missing {missing[:10]}, unexpected {extra[:10]}"
            )
        key = self.grader.id_column
        self._check_row_count(frame)
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


def read_submission(submission: bytes | None, **options) -> pd.DataFrame:
    """The submission's CSV as a frame; SubmissionError when there is none or it cannot be read."""
    if submission is None:
        raise SubmissionError("no submission: the script did not write submission/submission.csv")
    try:
        return pd.read_csv(io.BytesIO(submission), **options)
    except (ValueError, OverflowError, pd.errors.ParserError) as exc:
        raise SubmissionError(f"submission.csv is not a readable CSV: {exc}") from None


def as_own_file(rows: pd.DataFrame, keep: str = "") -> pd.DataFrame:
    """One split's rows typed as if they were a file of their own: a text column whose values in
    these rows all read as numbers becomes numbers (a stray word among the test rows makes the
    whole column text when pandas reads the file, and must not change how validation is scored).
    The `keep` column (the ids, matched already against the whole file's) stays as it is."""
    rows = rows.copy()
    for column in rows.columns:
        if rows[column].dtype == object and column != keep:
            try:
                rows[column] = pd.to_numeric(rows[column])
            except (ValueError, TypeError):
                pass
    return rows


def comparable_ids(ids: pd.Series) -> pd.Series:
    """Ids as MLE-bench compares them: text that reads as numbers becomes numbers (as pandas reads a
    CSV), and whole floats become integers, so `1`, `1.0` and `001` are one id and `a1` is another."""
    if ids.dtype == object or pd.api.types.is_string_dtype(ids):
        try:
            ids = pd.to_numeric(ids)
        except (ValueError, TypeError):
            return ids
    if ids.dtype.kind == "f" and bool(np.isfinite(ids).all()) and bool((ids % 1 == 0).all()):
        return ids.astype("int64")
    return ids


class _Occurrences:
    """Where each id's occurrence sits in a reference column: the k-th `a` among the ids is found at
    the k-th `a` of the reference (a plain hash lookup when no id repeats)."""

    def __init__(self, reference: pd.Series):
        self.unique = reference.is_unique
        self.index = pd.Index(reference.to_numpy()) if self.unique else _occurrences(reference)

    def find(self, ids: pd.Series) -> np.ndarray:
        """Each id's position in the reference; -1 where it has none."""
        if self.unique and ids.is_unique:
            return self.index.get_indexer(ids.to_numpy())
        reference = self.index if not self.unique else _occurrences(pd.Series(self.index))
        return reference.get_indexer(_occurrences(ids))


def _occurrences(ids: pd.Series) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([ids.to_numpy(), ids.groupby(ids, sort=False).cumcount().to_numpy()])


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
