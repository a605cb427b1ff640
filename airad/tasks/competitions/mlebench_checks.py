"""The checks MLE-bench's graders make of a submission, and the scikit-learn calls they score with.

MLE-bench counts a submission valid when its `grade()` returns; anything it raises makes the
submission invalid. Here each of those failures is a `SubmissionError` naming the column, the count
and a first offending id or value, so a debug step can fix the script that wrote the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from airad.tasks.competitions.checks import few, plain
from airad.tasks.grading.grades import SubmissionError

# MLE-bench's graders test each row's sum with numpy's `isclose(sum, 1, atol=1e-6)`, whose relative
# tolerance (1e-5) also applies: a row passes within 1e-6 + 1e-5 of 1.
ROW_SUM_ATOL = 1e-6
ROW_SUM_RTOL = 1e-5
FAST_SORT_OVER = 10_000  # rows: above this, distinct text ids are sorted as fixed-width strings
FAST_SORT_BYTES = 2**30  # ... when those strings fit in this much memory


def need_columns(submission: pd.DataFrame, columns: Sequence[str]) -> None:
    """The submission has every one of `columns` (others may be there too)."""
    missing = [column for column in columns if column not in submission.columns]
    if missing:
        raise SubmissionError(f"submission is missing columns {few(missing)}; the grader reads {few(list(columns))}")


def need_exact_columns(submission: pd.DataFrame, columns: Sequence[str]) -> None:
    """The submission has exactly `columns`, in any order, and no other column."""
    need_columns(submission, columns)
    extra = [str(column) for column in submission.columns if column not in columns]
    if extra:
        hint = " (write the CSV with index=False)" if any(c.startswith("Unnamed") for c in extra) else ""
        raise SubmissionError(
            f"submission has unexpected columns {few(extra)}{hint}; this grader takes exactly {few(list(columns))}"
        )


def need_rows(submission: pd.DataFrame, answers: pd.DataFrame) -> None:
    """One submission row per answer row."""
    if len(submission) != len(answers):
        raise SubmissionError(f"submission has {len(submission)} rows, expected {len(answers)} (one per test row)")


def sort_on(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows sorted on `column` with pandas' default sort, as MLE-bench sorts them (not stable:
    rows that share a value may come out in another order than they went in)."""
    values = frame[column].to_numpy()
    if values.dtype == object and len(values) > FAST_SORT_OVER:
        order = _text_order(values)
        if order is not None:
            return frame.iloc[order]
    try:
        return frame.sort_values(column)
    except TypeError as exc:
        raise SubmissionError(f"column {column!r} cannot be sorted, it mixes numbers and text ({exc})") from None


def _text_order(values: np.ndarray) -> np.ndarray | None:
    """The sorted order of distinct strings, sorted as fixed-width text (the same order as Python's,
    many times faster than sorting objects); None when a value is not text or two are equal, where
    the order of equal values depends on the sort pandas uses."""
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None
    if len(values) * max(map(len, values)) * 4 > FAST_SORT_BYTES:  # one very long id would make every id long
        return None
    text: np.ndarray = values.astype(str)
    order = np.argsort(text, kind="stable")
    ordered = text[order]
    return None if bool(np.any(ordered[1:] == ordered[:-1])) else order


def pair_by_sorted_ids(
    submission: pd.DataFrame, answers: pd.DataFrame, column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames sorted on the id column, whose values must then agree row by row."""
    try:
        ours, theirs = sort_on(submission, column), sort_on(answers, column)
    except SubmissionError:  # ids of mixed types: name the ones that are not test ids
        raise SubmissionError(id_mismatch(submission[column], answers[column], column)) from None
    if not same_values(ours[column].to_numpy(), theirs[column].to_numpy()):
        raise SubmissionError(id_mismatch(submission[column], answers[column], column))
    return ours, theirs


def same_values(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Whether two id arrays hold equal values position by position (1.0 equals 1; "1" does not)."""
    if len(ours) != len(theirs):
        return False
    if (ours.dtype.kind in "biuf") != (theirs.dtype.kind in "biuf"):
        ours, theirs = ours.astype(object), theirs.astype(object)
    return not bool(np.any(ours != theirs))


def id_mismatch(ours: pd.Series, theirs: pd.Series, column: str) -> str:
    """Why two id columns differ: empty ids, ids that are not test ids, missing ones, or repeats."""
    if ours.isna().any():
        return f"id column {column!r} has {int(ours.isna().sum())} empty values"
    known = set(theirs.tolist())
    unknown = [value for value in ours.tolist() if value not in known]
    if unknown:
        return f"{len(unknown)} ids in column {column!r} are not test ids, e.g. {few([plain(v) for v in unknown], 3)}"
    given = set(ours.tolist())
    absent = [value for value in theirs.tolist() if value not in given]
    counts, expected = ours.value_counts(), theirs.value_counts()
    over = [(key, n) for key, n in counts.items() if n > expected.get(key, 0)]
    if over:
        key, n = over[0]
        return f"id {plain(key)!r} appears {int(n)} times in column {column!r}, expected {int(expected.get(key, 0))}"
    return f"{len(absent)} test ids are missing from column {column!r}, e.g. {few([plain(v) for v in absent], 3)}"


def numeric(values: pd.Series, column: str, ids: pd.Series) -> pd.Series:
    """The column as numbers (empty values stay NaN); a value that is not a number is an error."""
    try:
        return pd.to_numeric(values)
    except (ValueError, TypeError):
        coerced = pd.to_numeric(values, errors="coerce")
        bad = coerced.isna() & values.notna()
        first = int(np.argmax(bad.to_numpy()))
        raise SubmissionError(
            f"column {column!r} has {int(bad.sum())} values that are not numbers "
            f"(first at id {plain(ids.iloc[first])!r}: {plain(values.iloc[first])!r})"
        ) from None


def between_0_and_1(frame: pd.DataFrame, columns: Sequence[str], ids: pd.Series) -> None:
    """Every value is a probability in [0, 1] (an empty value is refused too: if the check does not,
    the metric does)."""
    for column in columns:
        values = filled(frame, column, ids).astype(float).to_numpy()
        bad = ~((values >= 0) & (values <= 1))
        if bad.any():
            first = int(np.argmax(bad))
            raise SubmissionError(
                f"column {column!r} must hold probabilities in [0, 1]; {int(bad.sum())} values are not "
                f"(first at id {plain(ids.iloc[first])!r}: {plain(frame[column].iloc[first])!r})"
            )


def filled(frame: pd.DataFrame, column: str, ids: pd.Series) -> pd.Series:
    """The column as numbers, none of them empty (every metric MLE-bench calls refuses NaN)."""
    values = numeric(frame[column], column, ids)
    empty = values.isna().to_numpy()
    if empty.any():
        first = int(np.argmax(empty))
        raise SubmissionError(
            f"column {column!r} has {int(empty.sum())} missing values (first at id {plain(ids.iloc[first])!r})"
        )
    return values


def rows_sum_to_one(frame: pd.DataFrame, columns: Sequence[str], ids: pd.Series) -> None:
    """Each row's class probabilities sum to 1 within MLE-bench's tolerance (empty values count 0)."""
    values = pd.DataFrame({c: numeric(frame[c], c, ids) for c in columns}).astype(float)
    sums = values.sum(axis=1).to_numpy()
    bad = ~np.isclose(sums, 1, rtol=ROW_SUM_RTOL, atol=ROW_SUM_ATOL)
    if bad.any():
        first = int(np.argmax(bad))
        raise SubmissionError(
            f"the class probabilities of each row must sum to 1 (within {ROW_SUM_ATOL + ROW_SUM_RTOL:.2g}); "
            f"{int(bad.sum())} rows do not (first at id {plain(ids.iloc[first])!r}, which sums to {sums[first]:.6g})"
        )


Suspects = tuple[pd.DataFrame, Sequence[str], pd.Series]


def score(metric: Callable[..., float], *args: object, suspects: Suspects | None = None, **options: object) -> float:
    """A scikit-learn metric's value, its warnings silenced. What it refuses (empty values, text, a
    shape that does not fit) makes the submission invalid; `suspects` (a frame, the columns it scores,
    the rows' ids) then name the first missing or non-numeric value, where there is one, in place of
    the metric's own message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(metric(*args, **options))
        except (ValueError, TypeError, IndexError) as exc:
            if suspects is not None:
                frame, columns, ids = suspects
                for column in columns:
                    filled(frame, column, ids)
            name = getattr(metric, "__name__", "the metric")
            raise SubmissionError(f"scikit-learn's {name} cannot score this submission: {exc}") from None
