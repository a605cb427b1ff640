"""The harness's NumPy metrics agree with scikit-learn's, and refuse what cannot be scored with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from airad.tasks.metrics import METRICS, find_metric, unknown_metric_reason

ROWS = st.integers(min_value=2, max_value=60)


@st.composite
def binary_case(draw):
    n = draw(ROWS)
    truth = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if len(set(truth.tolist())) < 2:
        truth[0], truth[-1] = 0, 1
    # few distinct scores, so ties are common
    few = [0.0, 0.1, 0.25, 0.5, 0.5001, 0.9, 1.0, 3.5, -2.0]
    scores = np.array(draw(st.lists(st.sampled_from(few), min_size=n, max_size=n)))
    labels = draw(st.sampled_from([(0, 1), (-1, 1), (3, 7), ("no", "yes"), ("b", "a")]))
    return np.array(labels, dtype=object if isinstance(labels[0], str) else None)[truth], scores


@settings(max_examples=300, deadline=None)
@given(binary_case())
def test_roc_auc_matches_scikit_learn_with_ties_and_any_two_labels(case):
    truth, scores = case
    assert METRICS["roc_auc"](truth, scores) == pytest.approx(skm.roc_auc_score(truth, scores), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_accuracy_matches_scikit_learn(data):
    n = data.draw(ROWS)
    classes = data.draw(st.sampled_from([[0, 1, 2], ["setosa", "virginica"], [1, 5]]))
    dtype = object if isinstance(classes[0], str) else None
    truth = np.array(data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n)), dtype=dtype)
    predicted = np.array(data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n)), dtype=truth.dtype)
    expected = skm.accuracy_score(truth, predicted)
    assert METRICS["accuracy"](truth, predicted) == pytest.approx(expected, abs=1e-12)
    if truth.dtype != object:
        assert METRICS["accuracy"](truth, predicted.astype(float)) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rmse_and_mae_match_scikit_learn(data):
    n = data.draw(ROWS)
    floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    truth = np.array(data.draw(st.lists(floats, min_size=n, max_size=n)))
    predicted = np.array(data.draw(st.lists(floats, min_size=n, max_size=n)))
    rmse, mae = np.sqrt(skm.mean_squared_error(truth, predicted)), skm.mean_absolute_error(truth, predicted)
    assert METRICS["rmse"](truth, predicted) == pytest.approx(rmse, rel=1e-9, abs=1e-9)
    assert METRICS["mae"](truth, predicted) == pytest.approx(mae, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rmsle_r2_and_mape_match_scikit_learn(data):
    n = data.draw(ROWS)
    positive = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)
    truth = np.array(data.draw(st.lists(positive, min_size=n, max_size=n)))
    predicted = np.array(data.draw(st.lists(positive, min_size=n, max_size=n)))
    assert METRICS["rmsle"](truth, predicted) == pytest.approx(
        np.sqrt(skm.mean_squared_log_error(truth, predicted)), rel=1e-9, abs=1e-12
    )
    assert METRICS["r2"](truth, predicted) == pytest.approx(skm.r2_score(truth, predicted), rel=1e-9, abs=1e-9)
    assert METRICS["mape"](truth, predicted) == pytest.approx(
        skm.mean_absolute_percentage_error(truth, predicted), rel=1e-9, abs=1e-9
    )


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_log_loss_matches_scikit_learn_with_certain_and_wrong_probabilities(data):
    n = data.draw(ROWS)
    truth = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    truth[0], truth[-1] = 0, 1
    probabilities = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(min_value=0.0, max_value=1.0))
    predicted = np.array(data.draw(st.lists(probabilities, min_size=n, max_size=n)))
    expected = skm.log_loss(truth, predicted, labels=[0, 1])
    assert METRICS["log_loss"](truth, predicted) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.filterwarnings("ignore:A single label was found")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_label_metrics_match_scikit_learn(data):
    n = data.draw(ROWS)
    classes = data.draw(st.sampled_from([[0, 1], [0, 1, 2, 3, 4], ["cat", "dog", "owl"], [2, 5]]))
    dtype = object if isinstance(classes[0], str) else None
    truth = np.array(data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n)), dtype=dtype)
    predicted = np.array(data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n)), dtype=dtype)
    assert METRICS["f1_macro"](truth, predicted) == pytest.approx(
        skm.f1_score(truth, predicted, average="macro", zero_division=0), abs=1e-12
    )
    assert METRICS["mcc"](truth, predicted) == pytest.approx(skm.matthews_corrcoef(truth, predicted), abs=1e-12)
    if dtype is None:
        with np.errstate(invalid="ignore"):
            kappa = skm.cohen_kappa_score(truth, predicted, weights="quadratic")
        if np.isnan(kappa):
            with pytest.raises(ValueError, match="undefined"):
                METRICS["quadratic_weighted_kappa"](truth, predicted)
        else:
            assert METRICS["quadratic_weighted_kappa"](truth, predicted) == pytest.approx(kappa, abs=1e-12)
    if len(set(truth.tolist())) == 2 and set(predicted.tolist()) <= set(truth.tolist()):
        positive = sorted(set(truth.tolist()))[-1]
        expected = skm.f1_score(truth, predicted, pos_label=positive, average="binary", zero_division=0)
        assert METRICS["f1"](truth, predicted) == pytest.approx(expected, abs=1e-12)


def test_quadratic_kappa_weighs_by_the_grades_that_appear_as_mle_bench_does():
    """MLE-bench's figure (aptos2019): truth 0, 1, 4 against 1, 1, 4 gives 0.66667: the unused grades
    2 and 3 are not in the label set, so 4 sits next to 1."""
    assert METRICS["quadratic_weighted_kappa"](np.array([0, 1, 4]), np.array([1, 1, 4])) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "name, meant",
    [
        ("RMSE", "rmse"),
        ("Roc_Auc", "roc_auc"),
        ("AUC", "roc_auc"),
        ("LogLoss", "log_loss"),
        ("log-loss", "log_loss"),
        ("F1", "f1"),
        ("F1-macro", "f1_macro"),
        ("QWK", "quadratic_weighted_kappa"),
        ("R2", "r2"),
        ("MAPE", "mape"),
        ("MCC", "mcc"),
        ("rmsle", "rmsle"),
    ],
)
def test_metric_names_are_matched_ignoring_case_and_separators(name, meant):
    metric = find_metric(name)
    assert metric is not None and metric.name == meant


def test_an_unknown_metric_is_refused_listing_every_known_one():
    assert find_metric("smape") is None
    reason = unknown_metric_reason("smape")
    assert "'smape'" in reason and all(name in reason for name in METRICS)


@pytest.mark.parametrize(
    "name, truth, predicted, message",
    [
        ("rmsle", [1.0, 2.0], [-1.0, 1.0], "values above -1"),
        ("log_loss", [0, 1, 1], [0.2, 1.5, 0.9], "must lie in"),
        ("log_loss", [1, 1, 1], [0.2, 0.5, 0.9], "exactly two classes"),
        ("f1", [0, 1, 2], [0, 1, 2], "exactly two classes"),
        ("f1_macro", [0, 1, 1], [0.2, 0.7, 0.9], "continuous"),
        ("quadratic_weighted_kappa", [0, 1, 2], [0.5, 1.0, 2.0], "continuous"),
        ("roc_auc", [1, 1, 1], [0.2, 0.4, 0.9], "exactly two classes"),
        ("roc_auc", [0, 1, 2], [0.2, 0.4, 0.9], "exactly two classes"),
        ("roc_auc", [0, 1, 1], [0.2, np.inf, 0.9], "NaN or infinity"),
        ("accuracy", [0, 1, 1], [0.2, 0.7, 0.9], "continuous (e.g. 0.2)"),
        ("accuracy", [0, 1, 1], np.array(["a", "b", "b"], dtype=object), "different types"),
        ("rmse", [1.0, 2.0], np.array(["a", "b"], dtype=object), "not all numbers"),
        ("mae", [1.0, 2.0], [np.nan, 1.0], "NaN or infinity"),
    ],
)
def test_what_cannot_be_scored_is_refused_with_a_reason(name, truth, predicted, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        METRICS[name](np.asarray(truth), np.asarray(predicted))
