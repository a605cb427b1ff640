"""Reference baselines: what a trivial and a default model score on a run's own split, so a result is
read against a yardstick. The harness fits them on the task's public training rows and grades their
predictions of the scored rows as it grades a node's: a constant (the commonest label, the positive
rate, or the mean) and, for tables, scikit-learn's histogram gradient boosting with its defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd

from airad.schemas.events import GRADIENT_BOOSTING, Baseline
from airad.tasks.base import Task
from airad.tasks.grading.grades import Grades
from airad.tasks.table import TableTask

MAX_ROWS = 200_000  # a table larger than this gets only the constant baseline (the fit would take minutes)


def reference_baselines(task: Task) -> tuple[Baseline, ...]:
    """The task's baselines, scored on its validation and test rows; () for tasks that are not tables
    (a user's script, an MLE-bench competition), whose submissions no generic model can write."""
    if not isinstance(task, TableTask):
        return ()
    harness = task.harness
    train = pd.read_csv(task.public_dir / "train.csv")
    test = pd.read_csv(task.public_dir / "test.csv")
    target, id_column, metric = harness.target_column, harness.id_column, harness.metric
    labels = train[target]
    found = [_scored(task, _constant_name(metric), test[id_column], target, _constant(labels, metric, len(test)))]
    if len(train) <= MAX_ROWS:
        try:
            features = train.drop(columns=[id_column, target])
            predictions = _boosted(features, labels, test.drop(columns=[id_column]), metric)
        except Exception as exc:  # a baseline that cannot be fitted is recorded as such, never fatal
            found.append(Baseline(name=GRADIENT_BOOSTING, error=f"{type(exc).__name__}: {exc}"[:300]))
        else:
            found.append(_scored(task, GRADIENT_BOOSTING, test[id_column], target, predictions))
    return tuple(found)


def _constant_name(metric) -> str:
    if metric.probabilities:
        return "positive rate"
    return "majority label" if metric.classification else "mean"


def _constant(labels: pd.Series, metric, rows: int) -> np.ndarray:
    if metric.probabilities:
        positive = np.unique(labels.to_numpy())[-1]
        return np.full(rows, float((labels == positive).mean()))
    if metric.classification:
        return np.full(rows, labels.mode().iloc[0], dtype=object)
    return np.full(rows, float(labels.mean()))


def _boosted(features: pd.DataFrame, labels: pd.Series, rows: pd.DataFrame, metric) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    both = pd.concat([features, rows], keys=["train", "rows"])
    for column in both.columns:
        if not pd.api.types.is_numeric_dtype(both[column]):
            both[column] = both[column].astype("category").cat.codes.replace(-1, np.nan)
    x_train, x_rows = both.loc["train"], both.loc["rows"]
    if metric.probabilities:
        model = HistGradientBoostingClassifier(random_state=0).fit(x_train, labels)
        return model.predict_proba(x_rows)[:, list(model.classes_).index(np.unique(labels.to_numpy())[-1])]
    if metric.classification:
        return HistGradientBoostingClassifier(random_state=0).fit(x_train, labels).predict(x_rows)
    return HistGradientBoostingRegressor(random_state=0).fit(x_train, labels).predict(x_rows)


def _scored(task: TableTask, name: str, ids: pd.Series, target: str, predictions: np.ndarray) -> Baseline:
    submission = pd.DataFrame({ids.name: ids, target: predictions}).to_csv(index=False).encode()
    grades: Grades = task.grade(submission)
    validation, test = grades.validation, grades.test
    return Baseline(name=name, validation=validation.score, test=test.score, error=validation.error)


