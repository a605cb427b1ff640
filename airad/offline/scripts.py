"""Render solution scripts from a CONFIG dict, and read a CONFIG back out of a script.

A script embeds its choices as a literal `CONFIG = {...}`; everything else in it follows from
CONFIG, so re-rendering a parent's CONFIG reproduces the parent without its bug.
"""

from __future__ import annotations

import ast
import re

from airad.offline.catalog import (
    BUGS,
    FAMILY_NAMES,
    METRIC_IMPORTS,
    TREE_CAP,
    TREE_COUNT,
    config_literal,
    default_params,
    estimator,
    fill,
    param_grid,
    valid_single,
)
from airad.offline.ensemble import is_ensemble, render_ensemble, valid_ensemble
from airad.offline.prompt import METRIC_NAMES

__all__ = [  # the catalog names are re-exported for the coder and the tests
    "BUGS",
    "FAMILY_NAMES",
    "TREE_CAP",
    "TREE_COUNT",
    "config_literal",
    "default_params",
    "param_grid",
    "read_config",
    "render",
    "valid_config",
]

_PROBA_PREDICT = '''\
def predict(model, X, label, targets):
    """Class probabilities: the positive class for one column, else one column per class."""
    proba = model.predict_proba(X)
    if label in targets:
        return {label: proba[:, 1]}
    names = [str(c) for c in model.classes_]
    return {col: proba[:, names.index(col) if col in names else i] for i, col in enumerate(targets)}'''

_PLAIN_PREDICT = '''\
def predict(model, X, label, targets):
    """Predicted values for the label's submission column."""
    return {label: @PREDICTION@}'''

# metric: (validation_score body, prediction expression for plain predict)
_METRICS = {
    "roc_auc": (
        """proba = model.predict_proba(X)
    if proba.shape[1] == 2:
        return roc_auc_score(y == model.classes_[1], proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_)""",
        None,
    ),
    "log_loss": ("return log_loss(y, model.predict_proba(X), labels=model.classes_)", None),
    "accuracy": ("return accuracy_score(y, model.predict(X))", "model.predict(X)"),
    "rmse": ("return float(np.sqrt(mean_squared_error(y, model.predict(X))))", "model.predict(X)"),
    "rmsle": (
        "return float(np.sqrt(mean_squared_log_error(y, np.clip(model.predict(X), 0, None))))",
        "np.clip(model.predict(X), 0, None)",
    ),
    "mse": ("return mean_squared_error(y, model.predict(X))", "model.predict(X)"),
    "mae": ("return mean_absolute_error(y, model.predict(X))", "model.predict(X)"),
    "r2": ("return r2_score(y, model.predict(X))", "model.predict(X)"),
}

_TEMPLATE = '''\
"""@TITLE@"""

import os
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import @METRIC_IMPORT@
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
@MODEL_IMPORT@

CONFIG = @CONFIG@
SEED = CONFIG["seed"]
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def make_features(frame):
    """Model inputs: booleans as numbers, categoricals as strings, plus optional engineered columns."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == bool:
            frame[col] = frame[col].astype(float)
        elif not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype(str).where(frame[col].notna(), "missing")
    numeric = frame.select_dtypes(include="number").columns.tolist()
    if CONFIG["log_features"]:
        for col in numeric:
            frame[f"log_{col}"] = np.sign(frame[col]) * np.log1p(frame[col].abs())
    top = numeric[: CONFIG["interactions"]]
    for i, a in enumerate(top):
        for b in top[i + 1 :]:
            frame[f"{a}_x_{b}"] = frame[a] * frame[b]
    return frame


def build_model(frame):
    """Imputation, scaling and encoding of the columns, then the estimator, in one pipeline."""
    numeric = frame.select_dtypes(include="number").columns.tolist()
    categorical = [col for col in frame.columns if col not in numeric]
    numeric_steps = [SimpleImputer(strategy=CONFIG["impute"])]
    if CONFIG["scale"]:
        numeric_steps.append(StandardScaler())
    if CONFIG["one_hot"]:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, \
max_categories=30, sparse_output=False)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    columns = ColumnTransformer([("num", make_pipeline(*numeric_steps), numeric), ("cat", encoder, categorical)])
    return make_pipeline(columns, @ESTIMATOR@)


def validation_score(model, X, y):
    """The competition metric (@METRIC_NAME@) on held-out rows."""
    @SCORE_BODY@


@PREDICT@


train = pd.read_csv("input/train.csv")
test = pd.read_csv("input/test.csv")
sample = pd.read_csv("input/sample_submission.csv")
id_col = CONFIG["id_column"] or sample.columns[0]
targets = CONFIG["target_columns"] or [col for col in sample.columns if col != id_col]
if all(col in train.columns for col in targets):
    labels = targets
else:  # one label column in train.csv, one probability column per class in the submission
    labels = [col for col in train.columns if col not in test.columns][:1]
train = train.dropna(subset=@DROPNA@).reset_index(drop=True)
features = [col for col in test.columns if col != id_col and col in train.columns]
both = make_features(pd.concat([train[features], test[features]], ignore_index=True))
X, X_test = both.iloc[: len(train)], both.iloc[len(train) :]

scores = []
predictions = {}
for label in labels:
    y = train[label]
    stratify = @STRATIFY@
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, test_size=CONFIG["valid_size"], random_state=SEED, stratify=stratify
    )
    model = build_model(X)
    model.fit(X_train, y_train)
    scores.append(validation_score(model, X_valid, y_valid))
    model.fit(X, y)
    predictions.update(predict(model, X_test, label, targets))

print(f"Validation metric: {np.mean(scores):.6f}")
@MAKEDIRS@@SUBMISSION@
submission.to_csv("submission/submission.csv", index=False)
'''


def render(config: dict, bug: str | None = None, misspelled: str = "") -> str:
    """The whole script for `config` (single-model or ensemble); `bug` (one of BUGS) plants one mistake.

    `misspelled` is the wrong column name the "misspelled_column" bug uses.
    """
    if is_ensemble(config):
        return render_ensemble(config, bug, misspelled)
    family, problem, metric = config["family"], config["problem"], config["metric"]
    model_import, model = estimator(problem, family, 'CONFIG["params"]', proba=metric != "accuracy")
    score_body, prediction = _METRICS[metric]
    predict = _PROBA_PREDICT if prediction is None else _PLAIN_PREDICT.replace("@PREDICTION@", prediction)
    title = f"{FAMILY_NAMES[family]} for a {problem} task scored by {METRIC_NAMES[metric]}; settings in CONFIG."
    stratify = "y if y.value_counts().min() >= 2 else None" if problem == "classification" else "None"
    pieces = {
        "@TITLE@": title[0].upper() + title[1:],
        "@METRIC_IMPORT@": METRIC_IMPORTS[metric],
        "@MODEL_IMPORT@": model_import,
        "@ESTIMATOR@": model,
        "@METRIC_NAME@": METRIC_NAMES[metric],
        "@SCORE_BODY@": score_body,
        "@PREDICT@": predict,
        "@STRATIFY@": stratify,
        "@CONFIG@": config_literal(config),
    }
    return fill(_TEMPLATE, pieces, bug, misspelled)


def read_config(code: str) -> dict | None:
    """The literal `CONFIG = {...}` of a script, or None when there is none or it is not a literal."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        match = re.search(r"^CONFIG\s*=\s*(\{.*?^\})", code, re.DOTALL | re.MULTILINE)
        return _literal(match.group(1)) if match else None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CONFIG" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return None
            return value if isinstance(value, dict) else None
    return None


def valid_config(config: dict) -> bool:
    """Whether `render` can use this CONFIG as it is."""
    return valid_ensemble(config) if is_ensemble(config) else valid_single(config)


def _literal(text: str) -> dict | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
