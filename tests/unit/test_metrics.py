"""The harness's NumPy metrics agree with scikit-learn's, and refuse what cannot be scored with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from airad.tasks.metrics import METRICS

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


@pytest.mark.parametrize(
    "name, truth, predicted, message",
    [
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
