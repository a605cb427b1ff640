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


def rmsle(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error of log(1 + value): the relative error of a positive quantity (prices)."""
    predicted, observed = _numbers(prediction, "predictions"), _numbers(truth, "true values")
    for values, what in ((predicted, "predictions"), (observed, "true values")):
        if (values <= -1).any():
            raise ValueError(f"RMSLE needs values above -1; the {what} include {values[values <= -1][0]}")
    error = np.log1p(predicted) - np.log1p(observed)
    return float(np.sqrt(np.mean(error * error)))


def r2(truth: np.ndarray, prediction: np.ndarray) -> float:
    """The coefficient of determination, 1 − SS_res / SS_tot (a constant truth gives 1 if matched, else 0,
    as scikit-learn's `r2_score`)."""
    predicted, observed = _numbers(prediction, "predictions"), _numbers(truth, "true values")
    residual = float(np.sum((observed - predicted) ** 2))
    total = float(np.sum((observed - observed.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def mape(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute percentage error, as a fraction: mean(|truth − prediction| / |truth|), a zero truth
    divided by float64's epsilon (scikit-learn's rule)."""
    predicted, observed = _numbers(prediction, "predictions"), _numbers(truth, "true values")
    return float(np.mean(np.abs(observed - predicted) / np.maximum(np.abs(observed), np.finfo(np.float64).eps)))


def log_loss(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Binary cross-entropy of the predicted probability of the positive class (the greater label),
    clipped to float64's epsilon as scikit-learn's `log_loss` clips."""
    probability = _numbers(prediction, "predicted probabilities")
    outside = (probability < 0) | (probability > 1)
    if outside.any():
        raise ValueError(f"predicted probabilities must lie in [0, 1]; one is {probability[outside][0]}")
    positive = _binary_truth(truth, "log loss")
    eps = np.finfo(np.float64).eps
    clipped = np.clip(probability, eps, 1 - eps)
    return float(-np.mean(np.where(positive, np.log(clipped), np.log(1 - clipped))))


def _binary_truth(truth: np.ndarray, what: str) -> np.ndarray:
    labels, codes = np.unique(truth, return_inverse=True)
    if len(labels) != 2:
        raise ValueError(f"{what} needs exactly two classes in the truth; it has {len(labels)}")
    return codes == 1


def _labels(truth: np.ndarray, prediction: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Truth and prediction as codes into their joint label set, and its size; continuous or
    differently typed predictions are refused as `accuracy` refuses them."""
    accuracy(truth, prediction)
    if _is_numeric(truth):
        truth, prediction = truth.astype(np.float64), prediction.astype(np.float64)
    else:
        truth, prediction = truth.astype(str), prediction.astype(str)
    if not len(truth):
        raise ValueError(f"{what} needs at least one row")
    labels, codes = np.unique(np.concatenate([truth, prediction]), return_inverse=True)
    return codes[: len(truth)], codes[len(truth) :], len(labels)


def _confusion(truth: np.ndarray, prediction: np.ndarray, what: str) -> np.ndarray:
    observed, predicted, n = _labels(truth, prediction, what)
    matrix: np.ndarray = np.zeros((n, n), dtype=np.float64)
    np.add.at(matrix, (observed, predicted), 1)
    return matrix


def f1(truth: np.ndarray, prediction: np.ndarray) -> float:
    """F1 of the positive class (the greater of the truth's two labels), as scikit-learn's binary F1."""
    observed = _binary_truth(truth, "binary F1")
    accuracy(truth, prediction)
    predicted = prediction == np.unique(truth)[-1]
    true_positive = float(np.sum(observed & predicted))
    denominator = float(np.sum(observed) + np.sum(predicted))
    return 0.0 if denominator == 0 else 2 * true_positive / denominator


def f1_macro(truth: np.ndarray, prediction: np.ndarray) -> float:
    """The unweighted mean of each label's F1, over the labels in the truth or the predictions."""
    matrix = _confusion(truth, prediction, "macro F1")
    true_positive = np.diag(matrix)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    per_label = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return float(per_label.mean())


def mcc(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Matthews correlation coefficient (its multi-class form); 0 where it is undefined."""
    matrix = _confusion(truth, prediction, "MCC")
    samples, correct = matrix.sum(), np.trace(matrix)
    predicted, observed = matrix.sum(axis=0), matrix.sum(axis=1)
    numerator = correct * samples - float(predicted @ observed)
    denominator = np.sqrt((samples**2 - float(predicted @ predicted)) * (samples**2 - float(observed @ observed)))
    return 0.0 if denominator == 0 else float(numerator / denominator)


def quadratic_weighted_kappa(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights over the labels in the truth or the predictions, in their
    sorted order (scikit-learn's `cohen_kappa_score(weights="quadratic")`, as MLE-bench scores it)."""
    matrix = _confusion(truth, prediction, "quadratic weighted kappa")
    n = len(matrix)
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / matrix.sum()
    grid = np.arange(n)
    weights = (grid[:, None] - grid[None, :]) ** 2
    disagreement = float(np.sum(weights * expected))
    if disagreement == 0:
        raise ValueError("quadratic weighted kappa is undefined when the truth and the predictions hold one grade")
    return 1.0 - float(np.sum(weights * matrix)) / disagreement


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
        Metric(
            "rmsle",
            lower_is_better=True,
            probabilities=False,
            fn=rmsle,
            text="the root mean squared logarithmic error (RMSE of log(1 + value)) between the predicted and the"
            " observed target; lower is better",
        ),
        Metric(
            "r2",
            lower_is_better=False,
            probabilities=False,
            fn=r2,
            text="the coefficient of determination (R²) of the predicted against the observed target",
        ),
        Metric(
            "mape",
            lower_is_better=True,
            probabilities=False,
            fn=mape,
            text="the mean absolute percentage error (MAPE, as a fraction) of the predicted against the observed"
            " target; lower is better",
        ),
        Metric(
            "log_loss",
            lower_is_better=True,
            probabilities=True,
            fn=log_loss,
            classification=True,
            text="the log loss (binary cross-entropy) of the predicted probability that the target is 1;"
            " lower is better",
        ),
        Metric(
            "f1",
            lower_is_better=False,
            probabilities=False,
            fn=f1,
            classification=True,
            text="the F1 score of the positive class (the greater of the two labels) between the predicted and"
            " the observed labels",
        ),
        Metric(
            "f1_macro",
            lower_is_better=False,
            probabilities=False,
            fn=f1_macro,
            classification=True,
            text="the macro-averaged F1 score (each label's F1, averaged) between the predicted and the observed"
            " labels",
        ),
        Metric(
            "mcc",
            lower_is_better=False,
            probabilities=False,
            fn=mcc,
            classification=True,
            text="the Matthews correlation coefficient (MCC) between the predicted and the observed labels",
        ),
        Metric(
            "quadratic_weighted_kappa",
            lower_is_better=False,
            probabilities=False,
            fn=quadratic_weighted_kappa,
            classification=True,
            text="the quadratic weighted kappa between the predicted and the observed grades",
        ),
    )
}

# Other names users give these metrics; a name is matched ignoring case, spaces, dashes and underscores.
ALIASES = {
    "auc": "roc_auc",
    "rocauc": "roc_auc",
    "logloss": "log_loss",
    "binarycrossentropy": "log_loss",
    "f1binary": "f1",
    "macrof1": "f1_macro",
    "qwk": "quadratic_weighted_kappa",
    "kappa": "quadratic_weighted_kappa",
    "quadratickappa": "quadratic_weighted_kappa",
    "matthews": "mcc",
    "rsquared": "r2",
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def find_metric(name: str) -> Metric | None:
    """The metric a user's name means: any case, with or without `_`, `-` or spaces, or a common alias
    (`AUC`, `QWK`, `LogLoss`); None if it names none."""
    key = _key(name)
    by_key = {_key(known): metric for known, metric in METRICS.items()}
    by_key.update({alias: METRICS[known] for alias, known in ALIASES.items()})
    return by_key.get(key)


def unknown_metric_reason(name: str) -> str:
    """Why `name` is refused, listing every metric known."""
    return f"unknown metric {name!r}; known (any case): {', '.join(sorted(METRICS))}"
