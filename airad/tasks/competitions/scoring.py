"""The competitions' metrics over aligned (truth, prediction) matrices, one column per target."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from msgspec import Struct
from sklearn.metrics import cohen_kappa_score, roc_auc_score

LOG_LOSS_EPS = 1e-15


class Scorer(Struct, frozen=True):
    """A metric and what it asks of the predictions it scores."""

    fn: Callable[[np.ndarray, np.ndarray], float]
    lower_is_better: bool
    probabilities: bool = False
    rows_sum_to_one: bool = False
    above: float | None = None


def roc_auc(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Area under the ROC curve of one binary target (ties count half)."""
    return float(roc_auc_score(truth[:, 0], predicted[:, 0]))


def mean_columnwise_roc_auc(truth: np.ndarray, predicted: np.ndarray) -> float:
    """ROC AUC of each target column, averaged; rows whose answers are -1 (unscored) are left out."""
    scored = (truth >= 0).all(axis=1)
    return float(np.mean([roc_auc_score(t, p) for t, p in zip(truth[scored].T, predicted[scored].T, strict=False)]))


def binary_log_loss(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Kaggle's log loss of a probability of the positive class, clipped to [1e-15, 1 - 1e-15]."""
    p = np.clip(predicted[:, 0], LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    y = truth[:, 0]
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def multiclass_log_loss(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Kaggle's multi-class log loss: clip to [1e-15, 1 - 1e-15], renormalise rows, mean of -log p(true class)."""
    p = np.clip(predicted, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.sum(truth * np.log(p), axis=1)))


def quadratic_weighted_kappa(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Cohen's kappa with weights (i - j)^2 on the grades' values (a grade nobody used still counts in distances)."""
    t: np.ndarray = truth[:, 0].astype(int)
    p: np.ndarray = predicted[:, 0].astype(int)
    grades = np.arange(min(t.min(), p.min()), max(t.max(), p.max()) + 1)
    return float(cohen_kappa_score(t, p, labels=grades, weights="quadratic"))


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error over every value."""
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


def rmsle_mean_columns(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared log(1 + x) error of each target column, averaged over the columns."""
    per_column = np.sqrt(np.mean((np.log1p(predicted) - np.log1p(truth)) ** 2, axis=0))
    return float(np.mean(per_column))


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Share of rows whose prediction equals the answer exactly."""
    return float(np.mean(truth[:, 0] == predicted[:, 0]))


SCORERS: dict[str, Scorer] = {
    "roc_auc": Scorer(roc_auc, lower_is_better=False, probabilities=True),
    "mean_columnwise_roc_auc": Scorer(mean_columnwise_roc_auc, lower_is_better=False, probabilities=True),
    "log_loss": Scorer(binary_log_loss, lower_is_better=True, probabilities=True),
    "multiclass_log_loss": Scorer(multiclass_log_loss, lower_is_better=True, probabilities=True, rows_sum_to_one=True),
    "quadratic_weighted_kappa": Scorer(quadratic_weighted_kappa, lower_is_better=False),
    "rmse": Scorer(rmse, lower_is_better=True),
    "rmsle_mean_columns": Scorer(rmsle_mean_columns, lower_is_better=True, above=-1.0),
    "accuracy": Scorer(accuracy, lower_is_better=False),
}
