"""Metrics the harness scores with, by name, with their direction.

Each is a few NumPy operations: a node is graded on every step of every run, and scikit-learn's
input validation cost more than the arithmetic (tests/unit/test_metrics.py checks each against
scikit-learn's own). A metric raises ValueError, naming the problem, when it cannot be computed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from msgspec import Struct


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


def _numbers(values: np.ndarray, what: str) -> np.ndarray:
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the {what} are not all numbers ({exc})") from None
    if not np.isfinite(numbers).all():
        raise ValueError(f"the {what} contain NaN or infinity")
    return numbers


def _is_numeric(values: np.ndarray) -> bool:
    return values.dtype.kind in "biuf"


def roc_auc(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Area under the ROC curve of a binary target: the Mann–Whitney statistic, ties counted half.

    The positive class is the greater of the two labels, as in scikit-learn."""
    scores = _numbers(prediction, "predicted probabilities")
    labels, codes = np.unique(truth, return_inverse=True)
    if len(labels) != 2:
        raise ValueError(f"ROC AUC needs exactly two classes in the truth; it has {len(labels)}")
    positive = codes == 1
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    n_positive = int(positive.sum())
    n_negative = len(scores) - n_positive
    return (ranks[positive].sum() - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative)


def accuracy(truth: np.ndarray, prediction: np.ndarray) -> float:
    """The fraction of predicted labels equal to the true ones; continuous predictions are refused."""
    if _is_numeric(truth) != _is_numeric(prediction):
        raise ValueError(
            f"predicted labels and true labels are of different types ({prediction.dtype} and {truth.dtype}):"
            " predict the classes as they appear in the training data"
        )
    if prediction.dtype.kind == "f" and not np.array_equal(prediction, np.round(prediction)):
        example = prediction[prediction != np.round(prediction)][0]
        raise ValueError(f"predictions are continuous (e.g. {example}); accuracy needs class labels")
    return float(np.mean(truth == prediction))


def rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error."""
    error = _numbers(prediction, "predictions") - _numbers(truth, "true values")
    return float(np.sqrt(np.mean(error * error)))


def mae(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(_numbers(prediction, "predictions") - _numbers(truth, "true values"))))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "roc_auc",
            lower_is_better=False,
            probabilities=True,
            fn=roc_auc,
            classification=True,
            text="the area under the ROC curve (ROC AUC) between the predicted probability and the observed target",
        ),
        Metric(
            "accuracy",
            lower_is_better=False,
            probabilities=False,
            fn=accuracy,
            classification=True,
            text="accuracy: the fraction of rows whose predicted label equals the observed target",
        ),
        Metric(
            "rmse",
            lower_is_better=True,
            probabilities=False,
            fn=rmse,
            text="the root mean squared error (RMSE) between the predicted and the observed target; lower is better",
        ),
        Metric(
            "mae",
            lower_is_better=True,
            probabilities=False,
            fn=mae,
            text="the mean absolute error (MAE) between the predicted and the observed target; lower is better",
        ),
    )
}
