"""Metrics the harness scores with, by name, with their direction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from msgspec import Struct
from sklearn import metrics as skm


class Metric(Struct, frozen=True):
    """A named score function over (truth, prediction) arrays; `probabilities` says what is predicted."""

    name: str
    lower_is_better: bool
    probabilities: bool
    fn: Callable[[np.ndarray, np.ndarray], float]

    def __call__(self, truth: np.ndarray, prediction: np.ndarray) -> float:
        return float(self.fn(truth, prediction))


def _rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    return float(np.sqrt(skm.mean_squared_error(truth, prediction)))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", lower_is_better=False, probabilities=True, fn=skm.roc_auc_score),
        Metric("accuracy", lower_is_better=False, probabilities=False, fn=skm.accuracy_score),
        Metric("rmse", lower_is_better=True, probabilities=False, fn=_rmse),
        Metric("mae", lower_is_better=True, probabilities=False, fn=skm.mean_absolute_error),
    )
}
