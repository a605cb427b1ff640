"""A user's own CSV as a task, laid out and scored like a bundled one.

`task = {kind = "csv", train = "data.csv", target = "y", metric = "rmse"}` (paths on the daemon's host,
relative ones to the daemon's working directory). Rows whose target is empty are dropped. Without
`test`, the harness holds back `test_fraction` of the labelled rows as hidden test rows, fixed for
every run of this installation; with `test`, that file's rows are the test rows: labelled in every
row, they are scored for reports; without the target column (or with it empty throughout) they are
still predicted, but the test score is absent ("no labels for the test rows"). Either way the run's
seed draws the validation rows from the labelled ones, under the installation's split secret
(`split_secret`), and `test.csv` mixes validation and test rows under fresh ids. `id_column` names
the file's own id column, replaced by fresh ids in every public file; without it the layout's id
column is `id`.

A layout is prepared once per (content of the files, target, id column, metric, title, description)
and (seed, fractions, split secret), so a changed CSV gives a new layout.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from airad.schemas.errors import FieldError
from airad.schemas.request import CsvTask
from airad.tasks import split_secret
from airad.tasks.metrics import Metric, find_metric, unknown_metric_reason
from airad.tasks.splits import RANDOM, SplitRule, labelled_frame, split_rows, split_rule
from airad.tasks.table import TableProblem, TableTask, held_out_rows, is_prepared, split_sizes, write_layout

_SCORING_NOTE = """Some rows of `test.csv` are scored during the search as a validation split; the others are
held out and scored only for the final report. Both are scored by the harness, not by your script."""


def read_csv_bytes(data: bytes, name: str, key: str) -> pd.DataFrame:
    """Parse a CSV file's bytes; `TableProblem(key, ...)` when they are not a table."""
    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableProblem(key, f"{name} is not a readable CSV: {exc}") from None


def check_table(
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    *,
    target: str,
    id_column: str | None,
    metric: Metric | None,
    validation_fraction: float,
    test_fraction: float,
    train_name: str,
    test_name: str = "",
    split: Callable[[pd.DataFrame], SplitRule] | None = None,
) -> None:
    """Raise `TableProblem` when the tables cannot be posed as a task with this target and metric, or
    the `split` rule (a function of the labelled frame, see `split_rows`) leaves a part too small."""
    if target not in train.columns:
        raise TableProblem("target", f"{train_name} has no column {target!r}{_suggested(target, train.columns)}")
    _check_ids(train, target, id_column, train_name)
    features = [c for c in train.columns if c not in (target, id_column)]
    if not features:
        raise TableProblem("train", f"{train_name} has no feature columns besides the target {target!r}")
    labels = train[target].dropna()
    held_test = None if test is not None else test_fraction
    n_train, n_validation, n_test = split_sizes(len(labels), validation_fraction, held_test)
    n_test = n_test if test is None else len(test)
    if n_train < 2 or n_validation < 1 or (test is None and n_test < 1):
        raise TableProblem(
            "train",
            f"{train_name} has too few labelled rows ({len(labels)}) for the split: "
            f"{n_train} training, {n_validation} validation and {n_test} test rows (each split needs one row, "
            "training two)",
        )
    test_labels = None if test is None else _test_labels(test, features, target, id_column, test_name, train_name)
    if metric is not None:
        _check_labels_fit_metric(labels if test_labels is None else pd.concat([labels, test_labels]), target, metric)
    if split is not None:
        frame, n_labelled = labelled_frame(train, test, target)
        split_rows(frame, n_labelled, test is not None, split(frame), test_fraction, validation_fraction, 0, 0)


def _listed(columns) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:20]) + (f", ... ({len(names)} columns)" if len(names) > 20 else "")


def _suggested(name: str, columns) -> str:
    """The closest column names to a missing one (any case), then the columns: `; did you mean
    'SalePrice'? (it has Id, MSSubClass, ..., ... (81 columns))`."""
    names = [str(c) for c in columns]
    by_folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(by_folded[c]) for c in close)}?" if close else ""
    return f"{hint} (it has {_listed(names)})"


def _check_ids(train: pd.DataFrame, target: str, id_column: str | None, train_name: str) -> None:
    if id_column is None:
        if "id" in train.columns and target != "id":
            raise TableProblem(
                "id_column",
                f"{train_name} has a column 'id': name it with id_column = \"id\" (it is replaced by fresh ids) "
                "or rename it",
            )
        return
    if id_column == target:
        raise TableProblem("id_column", f"the id column cannot be the target {target!r}")
    if id_column not in train.columns:
        raise TableProblem(
            "id_column", f"{train_name} has no column {id_column!r}{_suggested(id_column, train.columns)}"
        )
    ids = train[id_column]
    if ids.isna().any():
        empty = int(ids.isna().sum())
        raise TableProblem("id_column", f"column {id_column!r} of {train_name} is empty in {empty} rows")
    repeated = ids[ids.duplicated()]
    if len(repeated):
        raise TableProblem("id_column", f"column {id_column!r} of {train_name} repeats ids, e.g. {repeated.iloc[0]!r}")


def _test_labels(
    test: pd.DataFrame, features: list[str], target: str, id_column: str | None, test_name: str, train_name: str
) -> pd.Series | None:
    """The test rows' labels when every row has one, None when none has; checks the test columns."""
    if len(test) == 0:
        raise TableProblem("test", f"{test_name} has no rows")
    lacking = [c for c in features if c not in test.columns]
    if lacking:
        raise TableProblem("test", f"{test_name} lacks columns of {train_name}: {_listed(lacking)}")
    extra = [c for c in test.columns if c not in features and c not in (target, id_column)]
    if extra:
        raise TableProblem("test", f"{test_name} has columns that {train_name} lacks: {_listed(extra)}")
    if target not in test.columns or test[target].isna().all():
        return None
    empty = int(test[target].isna().sum())
    if empty:
        raise TableProblem(
            "test",
            f"column {target!r} of {test_name} is empty in {empty} of {len(test)} rows: label every row, or drop "
            "the column to predict the test rows without a test score",
        )
    return test[target]


def _check_labels_fit_metric(labels: pd.Series, target: str, metric: Metric) -> None:
    if metric.probabilities:
        values = set(labels.unique().tolist())
        if not values <= {0, 1} or len(values) < 2:
            shown = ", ".join(repr(v) for v in sorted(values, key=repr)[:5])
            raise TableProblem(
                "target",
                f"{metric.name} needs a binary target of 0 and 1 (or False and True); column {target!r} has {shown}",
            )
    elif not metric.classification:
        text = labels[pd.to_numeric(labels, errors="coerce").isna()]
        if len(text):
            first = text.iloc[0]
            raise TableProblem("target", f"{metric.name} needs a numeric target; column {target!r} has {first!r}")


def table_layout(
    root: Path,
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    *,
    target: str,
    id_column: str | None,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    sample_value: object | None,
    description: str,
    secret: bytes | None = None,
    label: str = "",
    split: Callable[[pd.DataFrame], SplitRule] | None = None,
) -> None:
    """Write the layout of checked tables (see `check_table`): unlabelled rows dropped from `train`, the
    file's id column replaced by fresh ids, the test rows held out of `train` or taken from `test`.

    With `secret`, the held-out rows and the run's draw come from it and `label` (which names the
    data), not from fixed seeds and the bare `seed` (see `split_secret`). `split` gives the rule of a
    stratified, group or time split (see `airad.tasks.splits`); without it, rows are drawn at random."""
    if secret is not None:
        seed = split_secret.derive_seed(secret, f"{label}|{seed}|{validation_fraction:g}|{test_fraction:g}")
    if id_column is not None:
        train = train.drop(columns=[id_column])
    frame, n_labelled = labelled_frame(train, test, target)
    rule = RANDOM if split is None else split(frame)
    if rule is RANDOM and test is None:
        if secret is None:
            test_rows, labelled_rows = held_out_rows(len(frame), test_fraction)
        else:
            test_rows, labelled_rows = split_secret.held_out_rows(secret, label, len(frame), test_fraction)
        validation_rows = None
    else:
        test_seed = 0 if secret is None else split_secret.derive_seed(secret, f"{label}|test|{test_fraction:g}")
        test_rows, labelled_rows, validation_rows = split_rows(
            frame, n_labelled, test is not None, rule, test_fraction, validation_fraction, test_seed, seed
        )
    write_layout(
        root,
        frame,
        test_rows,
        labelled_rows,
        target=target,
        id_column=id_column or "id",
        validation_fraction=validation_fraction,
        seed=seed,
        sample_value=sample_value,
        description=description,
        validation_rows=validation_rows,
    )


def task_description(title: str, summary: str, evaluation: str, target: str, id_column: str) -> str:
    """description.md of a user's task: title, summary, how it is scored and the files."""
    return f"""# {title}

{summary}

## Evaluation

{evaluation}

## Files

- `train.csv`: the training set: an `{id_column}` column, the features, and the target column `{target}`.
- `test.csv`: the rows to predict: `{id_column}` and the features, no target.
- `sample_submission.csv`: a submission in the correct format, with columns `{id_column}` and `{target}`.

{_SCORING_NOTE}
"""


def private_dirs(files: list[Path], tasks_root: Path) -> tuple[Path, ...]:
    """Folders of a user's labelled files, for the sandbox to hide; never one holding the interpreter
    or the daemon's state, which a job needs."""
    needed = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), tasks_root.resolve()]
    folders = {path.resolve().parent for path in files}
    return tuple(sorted(d for d in folders if not any(d == n or d in n.parents for n in needed)))


def csv_task_problem(spec: CsvTask) -> tuple[str, str] | None:
    """(field, reason) when the CSV task cannot be prepared, else None: reads the files, writes nothing."""
    try:
        _checked_tables(spec)
    except TableProblem as exc:
        return f"$.task.{exc.key}", exc.reason
    return None


def prepare_csv(spec: CsvTask, seed: int, tasks_root: Path, *, secret: bytes | None = None) -> TableTask:
    """Prepare (once per content and seed) and open a user's CSV task; `FieldError` if it cannot be.
    The split is drawn under `secret`, by default the installation's (as `prepare_bundled`)."""
    try:
        train_bytes, test_bytes, train, test = _checked_tables(spec)
    except TableProblem as exc:
        raise FieldError(f"$.task.{exc.key}", exc.reason) from None
    metric = find_metric(spec.metric)
    assert metric is not None, "intake checked the metric"
    name = Path(spec.train).stem
    fingerprint = _fingerprint(spec, train_bytes, test_bytes)
    if secret is None:
        secret = split_secret.load_or_create(tasks_root)
    data = f"{name}-{fingerprint[:16]}"
    root = (
        tasks_root
        / "csv"
        / data
        / (
            f"seed-{seed}-val-{spec.validation_fraction:g}-test-{spec.test_fraction:g}-split-{split_secret.layout_tag(secret)}"
        )
    )
    if not is_prepared(root):
        table_layout(
            root,
            train,
            test,
            target=spec.target,
            id_column=spec.id_column,
            validation_fraction=spec.validation_fraction,
            test_fraction=spec.test_fraction,
            seed=seed,
            sample_value=0.5 if metric.probabilities else None,
            description=_description(spec, metric),
            secret=secret,
            label=f"csv|{data}",
            split=_split_of(spec, metric),
        )
    files = [Path(spec.train)] + ([Path(spec.test)] if spec.test else [])
    return TableTask(
        name,
        root,
        metric,
        id_column=spec.id_column or "id",
        target=spec.target,
        private_dirs=private_dirs(files, tasks_root),
    )


def _checked_tables(spec: CsvTask) -> tuple[bytes, bytes | None, pd.DataFrame, pd.DataFrame | None]:
    metric = find_metric(spec.metric)
    if metric is None:
        raise TableProblem("metric", unknown_metric_reason(spec.metric))
    train_bytes = _read_bytes(spec.train, "train")
    train = read_csv_bytes(train_bytes, spec.train, "train")
    test_bytes = test = None
    if spec.test is not None:
        test_bytes = _read_bytes(spec.test, "test")
        test = read_csv_bytes(test_bytes, spec.test, "test")
    check_table(
        train,
        test,
        target=spec.target,
        id_column=spec.id_column,
        metric=metric,
        validation_fraction=spec.validation_fraction,
        test_fraction=spec.test_fraction,
        train_name=spec.train,
        test_name=spec.test or "",
        split=_split_of(spec, metric),
    )
    return train_bytes, test_bytes, train, test


def _split_of(spec: CsvTask, metric: Metric) -> Callable[[pd.DataFrame], SplitRule]:
    """The request's split rule, as a function of the labelled frame."""

    def rule(frame: pd.DataFrame) -> SplitRule:
        return split_rule(
            frame,
            target=spec.target,
            classification=metric.classification,
            stratify=spec.stratify,
            group_column=spec.group_column,
            time_column=spec.time_column,
        )

    return rule


def _read_bytes(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TableProblem(key, f"cannot read {path}: {exc.strerror or exc}") from None


def _fingerprint(spec: CsvTask, train_bytes: bytes, test_bytes: bytes | None) -> str:
    content = {
        "train": hashlib.sha256(train_bytes).hexdigest(),
        "test": hashlib.sha256(test_bytes).hexdigest() if test_bytes is not None else None,
        "target": spec.target,
        "id_column": spec.id_column,
        "metric": spec.metric,
        "title": spec.title,
        "description": spec.description,
        "split": [spec.stratify, spec.group_column, spec.time_column],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _description(spec: CsvTask, metric: Metric) -> str:
    summary = spec.description.strip() or f"Predict `{spec.target}` for every row of `test.csv` from the other columns."
    evaluation = f"Submissions are evaluated on {metric.text}."
    if metric.probabilities:
        evaluation += f" Predict the probability that `{spec.target}` is 1 (True)."
    return task_description(
        spec.title or Path(spec.train).stem, summary, evaluation, spec.target, spec.id_column or "id"
    )
