"""Each lite competition graded as MLE-bench's own `grade()` grades it (airad's default, `mlebench`).

Learnt from MLE-bench's graders (github.com/openai/mle-bench, `mlebench/competitions/<id>/grade.py`),
written anew. What they share: the columns a grader reads must be there (most accept others too), the
row counts must agree, rows are paired by sorting both frames on the id with pandas' default sort,
and the score is scikit-learn's function as MLE-bench calls it, with that function's conventions:
`log_loss` clips at float eps and does not rescale rows, `cohen_kappa_score` takes the labels that
occur, `roc_auc_score` pairs class columns by position. Where a grader checks less (no range check,
no id check, rows paired by position) so does its rule here. docs/tasks.md lists the differences
from airad's `kaggle` grading.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    log_loss,
    roc_auc_score,
    root_mean_squared_error,
    root_mean_squared_log_error,
)

from airad.tasks.competitions import mlebench_checks as mc
from airad.tasks.grading.grades import SubmissionError

if TYPE_CHECKING:
    from airad.tasks.competitions.spec import Competition

Rule = Callable[["Competition", pd.DataFrame, pd.DataFrame], float]


def _auc_of(key: str, target: str, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    mc.need_columns(submission, [key, target])
    mc.need_rows(submission, answers)
    ids = submission[key]
    values = mc.numeric(submission[target], target, ids)
    if values.notna().any() and (values.min() < 0 or values.max() > 1):
        mc.between_0_and_1(submission, [target], ids)
    ours, theirs = mc.pair_by_sorted_ids(submission, answers, key)
    suspects = (ours, [target], ours[key])
    return mc.score(roc_auc_score, theirs[target].to_numpy(), ours[target].to_numpy(), suspects=suspects)


def auc(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """ROC AUC of the one target, rows paired on the sorted id; scores must lie in [0, 1]."""
    return _auc_of(c.id_column, c.target_columns[0], submission, answers)


def mean_auc(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """ranzcr: every scored class present, then each class's ROC AUC as `auc` computes it, averaged."""
    mc.need_columns(submission, list(c.target_columns))
    mc.need_rows(submission, answers)
    return float(np.average([_auc_of(c.id_column, t, submission, answers) for t in c.target_columns]))


def columnwise_auc_by_position(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """jigsaw: the submission's columns other than the id, in file order, against the answers' class
    columns in theirs (a column in another place is scored against another class, an extra column
    fails); rows whose answers are -1 are left out; no range check."""
    key, classes = c.id_column, list(c.target_columns)
    mc.need_columns(submission, [key, *classes])
    mc.need_rows(submission, answers)
    mc.need_exact_columns(submission, [key, *classes])  # an extra column would be scored as a seventh class
    theirs = answers[[key, *[col for col in answers.columns if col in classes]]]
    ours, theirs = submission.set_index(key).sort_index(), theirs.set_index(key).sort_index()
    scored = theirs[classes].sum(axis=1) >= 0
    try:
        with warnings.catch_warnings():  # pandas warns when it aligns the mask on repeated ids, and goes on
            warnings.simplefilter("ignore")
            ours = ours[scored]
    except (KeyError, ValueError, pd.errors.IndexingError):
        raise SubmissionError(mc.id_mismatch(submission[key], answers[key], key)) from None
    suspects = (ours, list(ours.columns), ours.index.to_series())
    return mc.score(roc_auc_score, theirs[scored].to_numpy(), ours.to_numpy(), average="macro", suspects=suspects)


def columnwise_auc_by_name(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """plant-pathology: exactly the id and the class columns; each class's ROC AUC by name, averaged;
    no range check."""
    key, classes = c.id_column, list(c.target_columns)
    mc.need_rows(submission, answers)
    mc.need_exact_columns(submission, [key, *classes])
    ours, theirs = mc.pair_by_sorted_ids(submission, answers, key)
    suspects = (ours, classes, ours[key])
    return float(
        np.mean([mc.score(roc_auc_score, theirs[t].to_numpy(), ours[t].to_numpy(), suspects=suspects) for t in classes])
    )


def kappa(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """aptos: the same set of ids (repeats are not counted), rows paired on the sorted id; quadratic
    kappa over the grades that occur, whatever their values (a grade 5 is just another label)."""
    key, target = c.id_column, c.target_columns[0]
    mc.need_columns(submission, [target])
    if submission.empty:
        raise SubmissionError("submission has no rows")
    mc.need_columns(submission, [key])
    mc.need_rows(submission, answers)  # a count that differs fails the set of ids or the metric's lengths
    if set(submission[key].tolist()) != set(answers[key].tolist()):
        raise SubmissionError(mc.id_mismatch(submission[key], answers[key], key))
    ours, theirs = mc.sort_on(submission, key), mc.sort_on(answers, key)
    predicted, truth = ours[target].to_numpy(), theirs[target].to_numpy()
    return mc.score(cohen_kappa_score, predicted, truth, weights="quadratic", suspects=(ours, [target], ours[key]))


def rmse_checked(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """denoising: numbers in the value column, one row per pixel, ids equal once sorted; RMSE."""
    key, target = c.id_column, c.target_columns[0]
    mc.need_columns(submission, [key, target])
    mc.numeric(submission[target], target, submission[key])
    mc.need_rows(submission, answers)
    ours, theirs = mc.pair_by_sorted_ids(submission, answers, key)
    suspects = (ours, [target], ours[key])
    return mc.score(root_mean_squared_error, ours[target].to_numpy(), theirs[target].to_numpy(), suspects=suspects)


def rmse_unchecked(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """taxi: both frames sorted on the key and paired row by row; the keys are not compared."""
    key, target = c.id_column, c.target_columns[0]
    mc.need_columns(submission, [target, key])
    mc.need_rows(submission, answers)
    ours, theirs = mc.sort_on(submission, key), mc.sort_on(answers, key)
    suspects = (ours, [target], ours[key])
    return mc.score(root_mean_squared_error, theirs[target].to_numpy(), ours[target].to_numpy(), suspects=suspects)


def rmsle_by_position(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """nomad2018: each target's RMSLE with the i-th submission row against the i-th answer row (ids are
    neither read nor checked), averaged over the two targets."""
    mc.need_columns(submission, list(c.target_columns))
    mc.need_rows(submission, answers)
    rows = submission.reset_index(drop=True)
    places = rows[c.id_column] if c.id_column in rows else pd.Series(np.arange(len(rows)) + 1)  # for messages
    errors = []
    for target in c.target_columns:
        truth, predicted = answers[target].to_numpy(), rows[target].to_numpy()
        errors.append(mc.score(root_mean_squared_log_error, truth, predicted, suspects=(rows, [target], places)))
    return float(np.mean(errors))


def binary_log_loss(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """dogs-vs-cats: the same set of ids and row count, probabilities in [0, 1], rows paired on the
    sorted id; scikit-learn's log loss (clipped at float eps)."""
    key, target = c.id_column, c.target_columns[0]
    mc.need_columns(submission, [key, target])
    mc.need_rows(submission, answers)
    if set(submission[key].tolist()) != set(answers[key].tolist()):
        raise SubmissionError(mc.id_mismatch(submission[key], answers[key], key))
    mc.between_0_and_1(submission, [target], submission[key])
    ours, theirs = mc.sort_on(submission, key), mc.sort_on(answers, key)
    return mc.score(log_loss, theirs[target].to_numpy(), ours[target].astype(float).to_numpy())


def one_hot_log_loss(columns: str) -> Rule:
    """dog-breed (`columns="superset"`: every class, others allowed), leaf (`"exact"`: the id and the
    classes only) and spooky (`"shape"`: four columns, the first the id, which the row-sum reads past):
    rows sum to 1 within 1.1e-5 and hold probabilities, then scikit-learn's log loss over the classes
    in the answers' order, rows paired on the sorted id, with no rescaling of rows."""

    def rule(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        key = c.id_column
        classes = [str(col) for col in answers.columns if col != key]
        if columns == "exact":
            mc.need_exact_columns(submission, [key, *classes])
        elif columns == "shape":
            if submission.shape[1] != len(classes) + 1:
                mc.need_exact_columns(submission, [key, *classes])
            if submission.columns[0] != key:
                raise SubmissionError(
                    f"submission's first column is {str(submission.columns[0])!r}; this grader reads "
                    f"every column after the first as a class, so {key!r} must come first"
                )
        mc.need_columns(submission, [*classes, key])
        mc.need_rows(submission, answers)
        mc.between_0_and_1(submission, classes, submission[key])  # (MLE-bench checks the sums first)
        mc.rows_sum_to_one(submission, classes, submission[key])
        ours, theirs = mc.pair_by_sorted_ids(submission, answers, key)
        truth = theirs[classes].to_numpy()
        return mc.score(log_loss, truth, ours[classes].astype(float).to_numpy())

    return rule


def accuracy(as_text: bool) -> Rule:
    """tabular-dec (labels as written: a 9 is simply wrong) and text normalisation (`as_text`: both
    sides as strings): one row per answer, ids equal once sorted, the share of rows that agree."""

    def rule(c: Competition, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        key, target = c.id_column, c.target_columns[0]
        mc.need_rows(submission, answers)
        mc.need_columns(submission, [target, key])
        ours, theirs = mc.pair_by_sorted_ids(submission, answers, key)
        predicted, truth = ours[target], theirs[target]
        if as_text:
            predicted, truth = predicted.astype(str), truth.astype(str)
        suspects = None if as_text else (ours, [target], ours[key])
        return mc.score(accuracy_score, truth.to_numpy(), predicted.to_numpy(), suspects=suspects)

    return rule


RULES: dict[str, Rule] = {
    "aerial-cactus-identification": auc,
    "aptos2019-blindness-detection": kappa,
    "denoising-dirty-documents": rmse_checked,
    "detecting-insults-in-social-commentary": auc,
    "dog-breed-identification": one_hot_log_loss("superset"),
    "dogs-vs-cats-redux-kernels-edition": binary_log_loss,
    "histopathologic-cancer-detection": auc,
    "jigsaw-toxic-comment-classification-challenge": columnwise_auc_by_position,
    "leaf-classification": one_hot_log_loss("exact"),
    "mlsp-2013-birds": auc,
    "new-york-city-taxi-fare-prediction": rmse_unchecked,
    "nomad2018-predict-transparent-conductors": rmsle_by_position,
    "plant-pathology-2020-fgvc7": columnwise_auc_by_name,
    "random-acts-of-pizza": auc,
    "ranzcr-clip-catheter-line-classification": mean_auc,
    "siim-isic-melanoma-classification": auc,
    "spooky-author-identification": one_hot_log_loss("shape"),
    "tabular-playground-series-dec-2021": accuracy(as_text=False),
    "tabular-playground-series-may-2022": auc,
    "text-normalization-challenge-english-language": accuracy(as_text=True),
    "text-normalization-challenge-russian-language": accuracy(as_text=True),
    "the-icml-2013-whale-challenge-right-whale-redux": auc,
}

# Graders that pair the i-th submission row with the i-th answer row, in the sample submission's order.
BY_POSITION = frozenset({"nomad2018-predict-transparent-conductors"})
# Graders that never compare the submission's ids with the answers'.
IDS_UNCHECKED = frozenset({"nomad2018-predict-transparent-conductors", "new-york-city-taxi-fare-prediction"})
