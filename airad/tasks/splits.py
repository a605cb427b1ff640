"""How a user's table is split into training, validation and test rows: at random, stratified by the
label (classification), by groups (no group on both sides) or by time (validation and test after
training). `hold_out` takes one part off a set of rows; the harness calls it for the test rows (under
the installation's split secret) and again for the validation rows (under the run's seed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from airad.tasks.table import TableProblem

SplitKind = Literal["random", "stratified", "group", "time"]


@dataclass(frozen=True)
class SplitRule:
    """A split of the rows of one frame: `key[i]` is row i's label, group or time (unused for random)."""

    kind: SplitKind
    key: np.ndarray | None = None


RANDOM = SplitRule("random")


def hold_out(
    rows: np.ndarray, fraction: float, rng: np.random.Generator, rule: SplitRule
) -> tuple[np.ndarray, np.ndarray]:
    """(held, kept): about `fraction` of `rows` taken off by the rule, both in ascending row order.

    random: `round(n * fraction)` rows drawn by `rng`; stratified: the same count, shared among the
    labels by largest remainder, each label's rows drawn by `rng`; group: whole groups, in an order
    drawn by `rng`, until at least `round(n * fraction)` rows are held; time: the latest
    `round(n * fraction)` rows (ties by row order), whatever `rng`."""
    rows = np.asarray(rows)
    wanted = int(round(len(rows) * fraction))
    if rule.kind == "random" or rule.key is None:
        held = rng.permutation(rows)[:wanted]
    elif rule.kind == "stratified":
        held = _stratified(rows, rule.key[rows], wanted, rng)
    elif rule.kind == "group":
        held = _whole_groups(rows, rule.key[rows], wanted, rng)
    else:
        order = np.lexsort((rows, rule.key[rows]))
        held = rows[order][len(rows) - wanted :]
    held = np.sort(held)
    return held, np.setdiff1d(rows, held)


def _stratified(rows: np.ndarray, labels: np.ndarray, wanted: int, rng: np.random.Generator) -> np.ndarray:
    classes, codes = np.unique(labels.astype(str), return_inverse=True)
    counts = np.bincount(codes, minlength=len(classes))
    quotas = counts * (wanted / max(len(rows), 1))
    taken = np.floor(quotas).astype(int)
    for index in np.argsort(-(quotas - taken), kind="stable")[: wanted - taken.sum()]:
        taken[index] += 1
    return np.concatenate([rng.permutation(rows[codes == c])[: taken[c]] for c in range(len(classes))])


def _whole_groups(rows: np.ndarray, groups: np.ndarray, wanted: int, rng: np.random.Generator) -> np.ndarray:
    names, codes = np.unique(groups.astype(str), return_inverse=True)
    held: list[np.ndarray] = []
    total = 0
    for group in rng.permutation(len(names)):
        members = rows[codes == group]
        if not held or total + len(members) <= wanted:
            held.append(members)
            total += len(members)
    return np.concatenate(held) if held else rows[:0]


def split_rule(
    frame: pd.DataFrame,
    *,
    target: str,
    classification: bool,
    stratify: bool | None,
    group_column: str | None,
    time_column: str | None,
) -> SplitRule:
    """The rule a table's request asks for (`stratify` None: stratified for a classification metric).
    Raises `TableProblem` naming the field when the column cannot split the rows."""
    if group_column is not None and time_column is not None:
        raise TableProblem("time_column", "set group_column or time_column, not both")
    if group_column is not None:
        return SplitRule("group", _column(frame, group_column, "group_column").astype(str).to_numpy())
    if time_column is not None:
        return SplitRule("time", _times(_column(frame, time_column, "time_column"), time_column))
    if stratify is True and not classification:
        raise TableProblem("stratify", "stratify needs a classification metric (the labels are classes)")
    if classification and stratify is not False:
        return SplitRule("stratified", frame[target].astype(str).to_numpy())
    return RANDOM


def _column(frame: pd.DataFrame, name: str, key: str) -> pd.Series:
    if name not in frame.columns:
        raise TableProblem(key, f"the table has no column {name!r}")
    values = frame[name]
    if values.isna().any():
        raise TableProblem(key, f"column {name!r} has {int(values.isna().sum())} empty cells; every row needs one")
    return values


def _times(values: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    if parsed.isna().any():
        bad = values[parsed.isna()].iloc[0]
        raise TableProblem("time_column", f"column {name!r} holds {bad!r}, which is neither a number nor a date")
    return parsed.astype("int64").to_numpy()


def check_split_counts(train: int, validation: int, test: int, parts: int | None, key: str) -> None:
    """Raise `TableProblem` when a split leaves a part too small: two training rows, one validation
    and one test row, and for a group split at least three groups."""
    if parts is not None and parts < 3:
        raise TableProblem(key, f"has {parts} distinct groups; a group split needs 3 (train, validation, test)")
    if train < 2 or validation < 1 or test < 1:
        raise TableProblem(
            key,
            f"the split leaves {train} training, {validation} validation and {test} test rows "
            "(each split needs one row, training two)",
        )


def labelled_frame(train: pd.DataFrame, test: pd.DataFrame | None, target: str) -> tuple[pd.DataFrame, int]:
    """The rows a table task is made of: the labelled rows of `train` (an empty target drops a row),
    then `test`'s rows; and how many rows are `train`'s."""
    train = train.dropna(subset=[target]).reset_index(drop=True)
    if test is None:
        return train, len(train)
    frame = pd.concat([train, test.reindex(columns=train.columns)], ignore_index=True)
    if pd.api.types.is_integer_dtype(train[target]):
        frame[target] = frame[target].astype("Int64")
    return frame, len(train)


def split_rows(
    frame: pd.DataFrame,
    n_labelled: int,
    test_given: bool,
    rule: SplitRule,
    test_fraction: float,
    validation_fraction: float,
    test_seed: int,
    run_seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(test rows, labelled rows, validation rows) of `frame` by `rule`: the test rows held out under
    `test_seed` (or the rows of a test file), the validation rows under the run's seed; `TableProblem`
    when a part is too small."""
    if test_given:
        test_rows, labelled_rows = np.arange(n_labelled, len(frame)), np.arange(n_labelled)
    else:
        test_rng = np.random.default_rng(test_seed)
        test_rows, labelled_rows = hold_out(np.arange(len(frame)), test_fraction, test_rng, rule)
    if rule is RANDOM:
        return test_rows, labelled_rows, None
    validation_rows, train_rows = hold_out(labelled_rows, validation_fraction, np.random.default_rng(run_seed), rule)
    groups = None if rule.kind != "group" or rule.key is None else len(set(rule.key[:n_labelled].tolist()))
    key = {"group": "group_column", "time": "time_column"}.get(rule.kind, "train")
    check_split_counts(len(train_rows), len(validation_rows), len(test_rows), groups, key)
    return test_rows, labelled_rows, validation_rows
