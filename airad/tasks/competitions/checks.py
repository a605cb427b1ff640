"""Grader-style checks on a submission frame: its columns, its rows, its ids and its values.

Every failure is a `SubmissionError` whose message names the column, the count and a first
offending id, so that a debug step can fix the script that wrote the file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from airad.tasks.grading.grades import SubmissionError

ROW_SUM_TOLERANCE = 1e-5


def few(items: Sequence[object], limit: int = 5) -> str:
    """A short rendering of a list: its first items, and how many there are in all when it is cut."""
    shown = ", ".join(repr(item) for item in list(items)[:limit])
    return f"[{shown}, ... ({len(items)} in all)]" if len(items) > limit else f"[{shown}]"


def plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so that messages show `2`, not `np.int64(2)`."""
    return value.item() if isinstance(value, np.generic) else value


def check_columns(submission: pd.DataFrame, required: list[str], optional: Sequence[str] = ()) -> None:
    """The submission has every required column and no others (bar the optional ones)."""
    present = [str(column) for column in submission.columns]
    missing = [column for column in required if column not in present]
    if missing:
        raise SubmissionError(f"submission is missing columns {few(missing)}; expected columns {few(required)}")
    extra = [column for column in present if column not in required and column not in optional]
    if extra:
        hint = " (write the CSV with index=False)" if any(c.startswith("Unnamed") for c in extra) else ""
        raise SubmissionError(f"submission has unexpected columns {few(extra)}{hint}; expected exactly {few(required)}")


def check_row_count(submission: pd.DataFrame, expected: int) -> None:
    """One submission row per answer row."""
    if len(submission) != expected:
        raise SubmissionError(f"submission has {len(submission)} rows, expected {expected} (one per test row)")


def align(submitted: pd.Series, truth: pd.Series) -> np.ndarray:
    """Positions of the submission's rows in the answers' order; ids must match one to one.

    Ids that repeat in the answers (the same comment text twice) are paired in order of appearance.
    """
    empty = submitted.isna()
    if empty.any():
        first = int(np.argmax(empty))
        raise SubmissionError(
            f"id column {submitted.name!r} has {int(empty.sum())} empty values (first at row {first})"
        )
    ours, theirs = _comparable(submitted.reset_index(drop=True), truth.reset_index(drop=True))
    index = pd.Index(ours)
    if index.is_unique:
        order = index.get_indexer(theirs)
        if (order >= 0).all() and np.bincount(order, minlength=len(order)).max(initial=0) <= 1:
            return order
    _check_same_ids(ours, theirs, submitted.name)
    return _occurrences(ours).get_indexer(_occurrences(theirs))


def _check_same_ids(ours: pd.Series, theirs: pd.Series, column: object) -> None:
    if ours.duplicated().any():
        _check_repeats(ours, theirs, column)
    unknown = ~ours.isin(theirs)
    if unknown.any():
        examples = few(ours[unknown].tolist(), 3)
        raise SubmissionError(f"{int(unknown.sum())} ids in column {column!r} are not test ids, e.g. {examples}")
    absent = ~theirs.isin(ours)
    if absent.any():
        examples = few(theirs[absent].tolist(), 3)
        raise SubmissionError(f"{int(absent.sum())} test ids are missing from column {column!r}, e.g. {examples}")


def _comparable(ours: pd.Series, theirs: pd.Series) -> tuple[pd.Series, pd.Series]:
    ours, theirs = _integral(ours), _integral(theirs)
    if ours.dtype.kind == theirs.dtype.kind:
        return ours, theirs
    return ours.astype(str), theirs.astype(str)


def _integral(ids: pd.Series) -> pd.Series:
    if ids.dtype.kind == "f" and np.all(np.isfinite(ids)) and np.all(np.mod(ids, 1) == 0):
        return ids.astype("int64")
    return ids


def _check_repeats(ours: pd.Series, theirs: pd.Series, column: object) -> None:
    counts = ours.value_counts()
    expected = theirs.value_counts().reindex(counts.index, fill_value=0)
    over = counts[counts > expected]
    if len(over):
        key = over.index[0]
        raise SubmissionError(
            f"id {plain(key)!r} appears {int(over.iloc[0])} times in column {column!r}, expected {int(expected[key])}"
        )


def _occurrences(ids: pd.Series) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([ids, ids.groupby(ids).cumcount()])


def numbers(submission: pd.DataFrame, columns: list[str], ids: pd.Series) -> np.ndarray:
    """The columns as a float matrix; a missing, non-numeric or infinite value is an error."""
    matrix = np.empty((len(submission), len(columns)))
    for j, column in enumerate(columns):
        raw = submission[column]
        values = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(np.argmax(bad))
            raise SubmissionError(
                f"column {column!r} has {int(bad.sum())} missing, non-numeric or infinite values "
                f"(first at id {plain(ids.iloc[first])!r}: {plain(raw.iloc[first])!r})"
            )
        matrix[:, j] = values
    return matrix


def texts(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as strings, compared exactly; a missing value (an empty CSV field) is the empty string."""
    return frame[columns].fillna("").astype(str).to_numpy()


def check_probabilities(values: np.ndarray, columns: list[str], ids: pd.Series) -> None:
    """Every value is a probability in [0, 1]."""
    _check_within(values, (values >= 0) & (values <= 1), "must hold probabilities in [0, 1]", columns, ids)


def check_above(values: np.ndarray, bound: float, columns: list[str], ids: pd.Series) -> None:
    """Every value is greater than `bound` (the metric's logarithm is undefined otherwise)."""
    _check_within(values, values > bound, f"must hold values greater than {bound:g}", columns, ids)


def check_labels(values: np.ndarray, labels: Sequence[int], columns: list[str], ids: pd.Series) -> None:
    """Every value is one of the competition's labels."""
    _check_within(values, np.isin(values, labels), f"must hold one of the labels {list(labels)}", columns, ids)


def _check_within(values: np.ndarray, ok: np.ndarray, rule: str, columns: list[str], ids: pd.Series) -> None:
    if ok.all():
        return
    row, col = np.argwhere(~ok)[0]
    raise SubmissionError(
        f"column {columns[col]!r} {rule}; {int((~ok).sum())} values are not "
        f"(first at id {plain(ids.iloc[row])!r}: {plain(values[row, col])!r})"
    )


def check_row_sums(values: np.ndarray, ids: pd.Series) -> None:
    """Each row's class probabilities sum to 1, up to `ROW_SUM_TOLERANCE`."""
    sums = values.sum(axis=1)
    bad = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    if bad.any():
        first = int(np.argmax(bad))
        raise SubmissionError(
            f"the class probabilities of each row must sum to 1 (within {ROW_SUM_TOLERANCE:g}); "
            f"{int(bad.sum())} rows do not (first at id {plain(ids.iloc[first])!r}, which sums to {sums[first]:.6g})"
        )
