"""Ensemble CONFIGs, the offline coder's crossover children, and the scripts that run them.

An ensemble CONFIG has `"family": "ensemble"` and a `"members"` list; each member holds what a
single-model CONFIG holds per model (family, params and feature options), while problem, metric,
columns, validation share and seed are shared. The script fits every member on the same held-out
split and averages their predictions: class probabilities for classification (the label of the
highest mean probability for accuracy), values for regression.
"""

from __future__ import annotations

from airad.offline.catalog import (
    FAMILY_NAMES,
    METRIC_IMPORTS,
    OPTION_KEYS,
    RUN_KEYS,
    config_literal,
    estimator,
    fill,
    valid_single,
)
from airad.offline.prompt import METRIC_NAMES

ENSEMBLE = "ensemble"
MAX_MEMBERS = 4
MEMBER_KEYS = ("family", "params", *OPTION_KEYS)
SHARED_KEYS = ("problem", "metric", "id_column", "target_columns")
SINGLE_ORDER = ("family", *SHARED_KEYS, "params", *OPTION_KEYS, *RUN_KEYS)

# metric: validation_score body over (y, pred, classes)
_SCORES = {
    "roc_auc": """if pred.shape[1] == 2:
        return roc_auc_score(y == classes[1], pred[:, 1])
    return roc_auc_score(y, pred, multi_class="ovr", labels=classes)""",
    "log_loss": "return log_loss(y, pred, labels=classes)",
    "accuracy": "return accuracy_score(y, classes[pred.argmax(axis=1)])",
    "rmse": "return float(np.sqrt(mean_squared_error(y, pred)))",
    "rmsle": "return float(np.sqrt(mean_squared_log_error(y, np.clip(pred, 0, None))))",
    "mse": "return mean_squared_error(y, pred)",
    "mae": "return mean_absolute_error(y, pred)",
    "r2": "return r2_score(y, pred)",
}
_PROBA_COLUMNS = """if label in targets:
        return {label: pred[:, 1]}
    names = [str(c) for c in classes]
    return {col: pred[:, names.index(col) if col in names else i] for i, col in enumerate(targets)}"""
# metric: predict body over (pred, classes, label, targets); other regression metrics use the values
_PREDICTS = {
    "roc_auc": _PROBA_COLUMNS,
    "log_loss": _PROBA_COLUMNS,
    "accuracy": "return {label: classes[pred.argmax(axis=1)]}",
    "rmsle": "return {label: np.clip(pred, 0, None)}",
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


def make_features(frame, member):
    """One member's inputs: booleans as numbers, categoricals as strings, plus its engineered columns."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == bool:
            frame[col] = frame[col].astype(float)
        elif not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype(str).where(frame[col].notna(), "missing")
    numeric = frame.select_dtypes(include="number").columns.tolist()
    if member["log_features"]:
        for col in numeric:
            frame[f"log_{col}"] = np.sign(frame[col]) * np.log1p(frame[col].abs())
    top = numeric[: member["interactions"]]
    for i, a in enumerate(top):
        for b in top[i + 1 :]:
            frame[f"{a}_x_{b}"] = frame[a] * frame[b]
    return frame


def make_estimator(member):
    """One member's estimator, with its hyper-parameters."""
    family, params = member["family"], member["params"]
@ESTIMATORS@
    raise ValueError(f"unknown model family {family!r}")


def build_model(frame, member):
    """One member's pipeline: imputation, scaling and encoding of the columns, then its estimator."""
    numeric = frame.select_dtypes(include="number").columns.tolist()
    categorical = [col for col in frame.columns if col not in numeric]
    numeric_steps = [SimpleImputer(strategy=member["impute"])]
    if member["scale"]:
        numeric_steps.append(StandardScaler())
    if member["one_hot"]:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, \
max_categories=30, sparse_output=False)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    columns = ColumnTransformer([("num", make_pipeline(*numeric_steps), numeric), ("cat", encoder, categorical)])
    return make_pipeline(columns, make_estimator(member))


def member_prediction(model, X):
    """@PREDICTION_DOC@"""
    return @PREDICTION@


def validation_score(y, pred, classes):
    """The competition metric (@METRIC_NAME@) of the averaged predictions on held-out rows."""
    @SCORE_BODY@


def predict(pred, classes, label, targets):
    """The submission column(s) for one label from the averaged test predictions."""
    @PREDICT_BODY@


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
raw = pd.concat([train[features], test[features]], ignore_index=True)
inputs = []
for member in CONFIG["members"]:
    both = make_features(raw, member)
    inputs.append((member, both.iloc[: len(train)], both.iloc[len(train) :]))

scores = []
predictions = {}
for label in labels:
    y = train[label]
    stratify = @STRATIFY@
    fit_rows, valid_rows = train_test_split(
        np.arange(len(train)), test_size=CONFIG["valid_size"], random_state=SEED, stratify=stratify
    )
    valid_preds, test_preds = [], []
    for member, X, X_test in inputs:
        model = build_model(X, member)
        model.fit(X.iloc[fit_rows], y.iloc[fit_rows])
        valid_preds.append(member_prediction(model, X.iloc[valid_rows]))
        valid_classes = getattr(model, "classes_", None)
        model.fit(X, y)
        test_preds.append(member_prediction(model, X_test))
    scores.append(validation_score(y.iloc[valid_rows], np.mean(valid_preds, axis=0), valid_classes))
    predictions.update(predict(np.mean(test_preds, axis=0), getattr(model, "classes_", None), label, targets))

print(f"Validation metric: {np.mean(scores):.6f}")
@MAKEDIRS@@SUBMISSION@
submission.to_csv("submission/submission.csv", index=False)
'''


def is_ensemble(config: dict) -> bool:
    """Whether a CONFIG describes an ensemble."""
    return config.get("family") == ENSEMBLE


def as_single(config: dict, member: dict) -> dict:
    """The single-model CONFIG of one member: the ensemble's shared keys plus the member's own."""
    merged = {**{k: v for k, v in config.items() if k != "members"}, **member}
    return {key: merged[key] for key in SINGLE_ORDER if key in merged}


def as_member(single: dict) -> dict:
    """The member entry of a single-model CONFIG: its family, params and feature options."""
    return {key: single[key] for key in MEMBER_KEYS}


def members_of(config: dict) -> list[dict]:
    """The members of an ensemble, or the one member a single-model CONFIG amounts to."""
    return [dict(m) for m in config["members"]] if is_ensemble(config) else [as_member(config)]


def make_ensemble(base: dict, members: list[dict]) -> dict:
    """An ensemble CONFIG with `members`, the shared keys, validation share and seed taken from `base`."""
    return {
        "family": ENSEMBLE,
        **{key: base.get(key) for key in SHARED_KEYS},
        "members": [dict(m) for m in members],
        "valid_size": base["valid_size"],
        "seed": base["seed"],
    }


def map_members(config: dict, change) -> dict:
    """The ensemble with `change(single CONFIG) -> single CONFIG` applied to every member."""
    return {**config, "members": [as_member(change(as_single(config, m))) for m in config["members"]]}


def valid_ensemble(config: dict) -> bool:
    """Whether `render` can use this ensemble CONFIG: every member must be a valid single model."""
    members = config.get("members")
    return (
        is_ensemble(config)
        and isinstance(members, list)
        and 1 <= len(members) <= MAX_MEMBERS
        and all(isinstance(m, dict) and set(MEMBER_KEYS) <= set(m) for m in members)
        and all(valid_single(as_single(config, m)) for m in members)
    )


def family_label(config: dict) -> str:
    """The family's name, e.g. LightGBM; for an ensemble e.g. "ensemble of LightGBM and random forest"."""
    if not is_ensemble(config):
        return FAMILY_NAMES[config["family"]]
    names = [FAMILY_NAMES[m["family"]] for m in config["members"]]
    unique = list(dict.fromkeys(names))
    if len(unique) == 1:
        return f"ensemble of {len(names)} {unique[0]} variants"
    return "ensemble of " + (", ".join(unique[:-1]) + " and " + unique[-1])


def render_ensemble(config: dict, bug: str | None = None, misspelled: str = "") -> str:
    """The script of an ensemble CONFIG; `bug` and `misspelled` as in `scripts.render`."""
    problem, metric = config["problem"], config["metric"]
    imports, branches = [], []
    for family in dict.fromkeys(m["family"] for m in config["members"]):
        lines, expression = estimator(problem, family, "params", proba=True)
        imports += [line for line in lines.splitlines() if line not in imports]
        branches.append(f'    if family == "{family}":\n        return {expression}')
    proba = problem == "classification"
    title = f"{family_label(config)} for a {problem} task scored by {METRIC_NAMES[metric]}; settings in CONFIG."
    pieces = {
        "@TITLE@": title[0].upper() + title[1:],
        "@METRIC_IMPORT@": METRIC_IMPORTS[metric],
        "@MODEL_IMPORT@": "\n".join(imports),
        "@ESTIMATORS@": "\n".join(branches),
        "@PREDICTION_DOC@": "Class probabilities, one column per class of model.classes_."
        if proba
        else "Predicted values.",
        "@PREDICTION@": "model.predict_proba(X)" if proba else "model.predict(X)",
        "@METRIC_NAME@": METRIC_NAMES[metric],
        "@SCORE_BODY@": _SCORES[metric],
        "@PREDICT_BODY@": _PREDICTS.get(metric, "return {label: pred}"),
        "@STRATIFY@": "y if y.value_counts().min() >= 2 else None" if proba else "None",
        "@CONFIG@": config_literal(config),
    }
    return fill(_TEMPLATE, pieces, bug, misspelled)
