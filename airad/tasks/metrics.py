"""Metrics the harness scores with, by name, with their direction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from msgspec import Struct
from sklearn import metrics as skm


class Metric(Struct, frozen=True):
    """A named score function over (truth, prediction) arrays; `probabilities` says what is predicted.

    `classification` says which kind of task the metric poses; `text` is how a description states it.
    """

    name: str
    lower_is_better: bool
    probabilities: bool
    fn: Callable[[np.ndarray, np.ndarray], float]
    classification: bool = False
    text: str = ""

    def __call__(self, truth: np.ndarray, prediction: np.ndarray) -> float:
        return float(self.fn(truth, prediction))


def _rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    return float(np.sqrt(skm.mean_squared_error(truth, prediction)))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "roc_auc", lower_is_better=False, probabilities=True, fn=skm.roc_auc_score, classification=True,
            text="the area under the ROC curve (ROC AUC) between the predicted probability and the observed target",
        ),
        Metric(
            "accuracy", lower_is_better=False, probabilities=False, fn=skm.accuracy_score, classification=True,
            text="accuracy: the fraction of rows whose predicted label equals the observed target",
        ),
        Metric(
            "rmse", lower_is_better=True, probabilities=False, fn=_rmse,
            text="the root mean squared error (RMSE) between the predicted and the observed target; lower is better",
        ),
        Metric(
            "mae", lower_is_better=True, probabilities=False, fn=skm.mean_absolute_error,
            text="the mean absolute error (MAE) between the predicted and the observed target; lower is better",
        ),
    )
}
