"""Render solution scripts from a CONFIG dict, and read a CONFIG back out of a script.

A script embeds its choices as a literal `CONFIG = {...}`; everything else in it follows from
CONFIG, so re-rendering a parent's CONFIG reproduces the parent without its bug.
"""

from __future__ import annotations

import ast
import re

from airad.offline.prompt import METRIC_NAMES

FAMILY_NAMES = {
    "linear": "linear model",
    "random_forest": "random forest",
    "extra_trees": "extra trees",
    "hist_gb": "histogram gradient boosting",
    "lightgbm": "LightGBM",
    "knn": "k-nearest neighbours",
    "svm": "support vector machine",
}

TREE_COUNT = {"random_forest": "n_estimators", "extra_trees": "n_estimators", "lightgbm": "n_estimators", "hist_gb": "max_iter"}
TREE_CAP = {"random_forest": 800, "extra_trees": 800, "lightgbm": 2000, "hist_gb": 1000}

# Options per (family, problem); a draft picks one value of each list.
PARAM_GRID: dict[tuple[str, str], dict[str, list]] = {
    ("linear", "classification"): {"C": [1.0, 0.3, 3.0]},
    ("linear", "regression"): {"alpha": [1.0, 0.3, 3.0, 10.0]},
    ("random_forest", "*"): {"n_estimators": [300, 200], "max_depth": [None, 12], "min_samples_leaf": [1, 2]},
    ("extra_trees", "*"): {"n_estimators": [300, 400], "max_depth": [None, 16], "min_samples_leaf": [1, 2]},
    ("hist_gb", "*"): {"max_iter": [200, 300], "learning_rate": [0.1, 0.05], "max_leaf_nodes": [31, 15], "l2_regularization": [0.0, 1.0]},
    ("lightgbm", "*"): {
        "n_estimators": [300, 500],
        "learning_rate": [0.05, 0.03],
        "num_leaves": [31, 15],
        "reg_lambda": [0.0, 1.0],
        "subsample": [0.8],
        "subsample_freq": [1],
        "colsample_bytree": [0.8],
    },
    ("knn", "*"): {"n_neighbors": [11, 5, 15], "weights": ["distance", "uniform"]},
    ("svm", "classification"): {"C": [1.0, 0.5, 3.0], "gamma": ["scale"]},
    ("svm", "regression"): {"C": [3.0, 1.0, 10.0], "epsilon": [0.1]},
}

# (import lines, estimator expression) per family; {proba} is filled for SVC.
_CLASSIFIERS = {
    "linear": ("from sklearn.linear_model import LogisticRegression", 'LogisticRegression(**CONFIG["params"], max_iter=2000)'),
    "random_forest": ("from sklearn.ensemble import RandomForestClassifier", 'RandomForestClassifier(**CONFIG["params"], random_state=SEED, n_jobs=2)'),
    "extra_trees": ("from sklearn.ensemble import ExtraTreesClassifier", 'ExtraTreesClassifier(**CONFIG["params"], random_state=SEED, n_jobs=2)'),
    "hist_gb": ("from sklearn.ensemble import HistGradientBoostingClassifier", 'HistGradientBoostingClassifier(**CONFIG["params"], random_state=SEED)'),
    "lightgbm": ("from lightgbm import LGBMClassifier", 'LGBMClassifier(**CONFIG["params"], random_state=SEED, n_jobs=2, verbose=-1)'),
    "knn": ("from sklearn.neighbors import KNeighborsClassifier", 'KNeighborsClassifier(**CONFIG["params"])'),
    "svm": ("from sklearn.svm import SVC", 'SVC(**CONFIG["params"], probability={proba}, random_state=SEED)'),
}
_REGRESSORS = {
    "linear": ("from sklearn.linear_model import Ridge", 'Ridge(**CONFIG["params"])'),
    "random_forest": ("from sklearn.ensemble import RandomForestRegressor", 'RandomForestRegressor(**CONFIG["params"], random_state=SEED, n_jobs=2)'),
    "extra_trees": ("from sklearn.ensemble import ExtraTreesRegressor", 'ExtraTreesRegressor(**CONFIG["params"], random_state=SEED, n_jobs=2)'),
    "hist_gb": ("from sklearn.ensemble import HistGradientBoostingRegressor", 'HistGradientBoostingRegressor(**CONFIG["params"], random_state=SEED)'),
    "lightgbm": ("from lightgbm import LGBMRegressor", 'LGBMRegressor(**CONFIG["params"], random_state=SEED, n_jobs=2, verbose=-1)'),
    "knn": ("from sklearn.neighbors import KNeighborsRegressor", 'KNeighborsRegressor(**CONFIG["params"])'),
    "svm": (
        "from sklearn.compose import TransformedTargetRegressor\nfrom sklearn.svm import SVR",
        'TransformedTargetRegressor(SVR(**CONFIG["params"]), transformer=StandardScaler())',
    ),
}

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

# metric: (sklearn import, validation_score body, prediction expression for plain predict)
_METRICS = {
    "roc_auc": (
        "roc_auc_score",
        """proba = model.predict_proba(X)
    if proba.shape[1] == 2:
        return roc_auc_score(y == model.classes_[1], proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_)""",
        None,
    ),
    "log_loss": ("log_loss", "return log_loss(y, model.predict_proba(X), labels=model.classes_)", None),
    "accuracy": ("accuracy_score", "return accuracy_score(y, model.predict(X))", "model.predict(X)"),
    "rmse": ("mean_squared_error", "return float(np.sqrt(mean_squared_error(y, model.predict(X))))", "model.predict(X)"),
    "rmsle": (
        "mean_squared_log_error",
        "return float(np.sqrt(mean_squared_log_error(y, np.clip(model.predict(X), 0, None))))",
        "np.clip(model.predict(X), 0, None)",
    ),
    "mse": ("mean_squared_error", "return mean_squared_error(y, model.predict(X))", "model.predict(X)"),
    "mae": ("mean_absolute_error", "return mean_absolute_error(y, model.predict(X))", "model.predict(X)"),
    "r2": ("r2_score", "return r2_score(y, model.predict(X))", "model.predict(X)"),
}

BUGS = ("missing_import", "misspelled_column", "no_makedirs", "no_id_column")

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
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, max_categories=30, sparse_output=False)
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
    """The whole script for `config`; `bug` (one of BUGS) plants one realistic mistake.

    `misspelled` is the wrong column name the "misspelled_column" bug uses.
    """
    family, problem, metric = config["family"], config["problem"], config["metric"]
    model_import, estimator = (_CLASSIFIERS if problem == "classification" else _REGRESSORS)[family]
    metric_import, score_body, prediction = _METRICS[metric]
    predict = _PROBA_PREDICT if prediction is None else _PLAIN_PREDICT.replace("@PREDICTION@", prediction)
    title = f"{FAMILY_NAMES[family]} for a {problem} task scored by {METRIC_NAMES[metric]}; settings in CONFIG."
    stratify = "y if y.value_counts().min() >= 2 else None" if problem == "classification" else "None"
    submission = "submission = pd.DataFrame({id_col: test[id_col].values, **predictions})[list(sample.columns)]"
    pieces = {
        "@TITLE@": title[0].upper() + title[1:],
        "@METRIC_IMPORT@": metric_import,
        "@MODEL_IMPORT@": model_import,
        "@ESTIMATOR@": estimator.replace("{proba}", str(metric != "accuracy")),
        "@METRIC_NAME@": METRIC_NAMES[metric],
        "@SCORE_BODY@": score_body,
        "@PREDICT@": predict,
        "@STRATIFY@": stratify,
        "@DROPNA@": "labels",
        "@MAKEDIRS@": 'os.makedirs("submission", exist_ok=True)\n',
        "@SUBMISSION@": submission,
        "@CONFIG@": config_literal(config),  # last: it holds column names
    }
    if bug == "misspelled_column":
        pieces["@DROPNA@"] = repr([misspelled])
    elif bug == "no_makedirs":
        pieces["@MAKEDIRS@"] = ""
    elif bug == "no_id_column":
        pieces["@SUBMISSION@"] = "submission = pd.DataFrame(predictions)"
    elif bug not in (None, "missing_import"):
        raise ValueError(f"unknown bug {bug!r}")
    script = _TEMPLATE
    for key, value in pieces.items():
        script = script.replace(key, value)
    if bug == "missing_import":  # uses np all the same
        script = script.replace("import numpy as np\n", "")
    return script


def config_literal(config: dict) -> str:
    """CONFIG as a Python dict literal, one key per line, that `ast.literal_eval` reads back."""
    return "{\n" + "".join(f"    {key!r}: {value!r},\n" for key, value in config.items()) + "}"


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
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def valid_config(config: dict) -> bool:
    """Whether `render` can use this CONFIG as it is."""
    return (
        config.get("family") in FAMILY_NAMES
        and config.get("problem") in ("classification", "regression")
        and config.get("metric") in _METRICS
        and isinstance(config.get("params"), dict)
        and all(key in config for key in ("impute", "scale", "one_hot", "log_features", "interactions", "valid_size", "seed"))
    )


def default_params(family: str, problem: str) -> dict:
    """The first option of every hyper-parameter of a family."""
    return {name: options[0] for name, options in param_grid(family, problem).items()}


def param_grid(family: str, problem: str) -> dict[str, list]:
    """The hyper-parameter options of a family for a problem type."""
    return PARAM_GRID.get((family, problem)) or PARAM_GRID[(family, "*")]


def _literal(text: str) -> dict | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, dict) else None
