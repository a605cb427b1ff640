"""What the offline coder's scripts can be made of: model families, their hyper-parameter options,
the estimator code of each family, the metric imports, and the planted bugs.

Shared by the single-model renderer (`scripts`) and the ensemble renderer (`ensemble`).
"""

from __future__ import annotations

FAMILY_NAMES = {
    "linear": "linear model",
    "random_forest": "random forest",
    "extra_trees": "extra trees",
    "hist_gb": "histogram gradient boosting",
    "lightgbm": "LightGBM",
    "knn": "k-nearest neighbours",
    "svm": "support vector machine",
}

# How plans and research programs name each family (case-insensitive regular expressions).
FAMILY_ALIASES = {
    "linear": r"\blinear model|\blogistic regression|\bridge\b|\blinear regression",
    "random_forest": r"random[- ]forest",
    "extra_trees": r"extra[- ]?trees|extremely randomi[sz]ed",
    "hist_gb": r"hist(ogram)?[- ]?(based )?gradient[- ]?boosting|histgradientboosting",
    "lightgbm": r"lightgbm|\blgbm",
    "knn": r"nearest[- ]neighbou?r|\bknn\b|\bk-nn\b",
    "svm": r"support vector|\bsvm\b|\bsvc\b|\bsvr\b",
}

TREE_COUNT = {
    "random_forest": "n_estimators",
    "extra_trees": "n_estimators",
    "lightgbm": "n_estimators",
    "hist_gb": "max_iter",
}
TREE_CAP = {"random_forest": 800, "extra_trees": 800, "lightgbm": 2000, "hist_gb": 1000}

# Options per (family, problem); a draft picks one value of each list.
PARAM_GRID: dict[tuple[str, str], dict[str, list]] = {
    ("linear", "classification"): {"C": [1.0, 0.3, 3.0]},
    ("linear", "regression"): {"alpha": [1.0, 0.3, 3.0, 10.0]},
    ("random_forest", "*"): {"n_estimators": [300, 200], "max_depth": [None, 12], "min_samples_leaf": [1, 2]},
    ("extra_trees", "*"): {"n_estimators": [300, 400], "max_depth": [None, 16], "min_samples_leaf": [1, 2]},
    ("hist_gb", "*"): {
        "max_iter": [200, 300],
        "learning_rate": [0.1, 0.05],
        "max_leaf_nodes": [31, 15],
        "l2_regularization": [0.0, 1.0],
    },
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

# (import lines, estimator expression) per family; {params} is where the hyper-parameters come
# from (CONFIG["params"] in a single-model script) and {proba} is filled for SVC.
CLASSIFIERS = {
    "linear": ("from sklearn.linear_model import LogisticRegression", "LogisticRegression(**{params}, max_iter=2000)"),
    "random_forest": (
        "from sklearn.ensemble import RandomForestClassifier",
        "RandomForestClassifier(**{params}, random_state=SEED, n_jobs=2)",
    ),
    "extra_trees": (
        "from sklearn.ensemble import ExtraTreesClassifier",
        "ExtraTreesClassifier(**{params}, random_state=SEED, n_jobs=2)",
    ),
    "hist_gb": (
        "from sklearn.ensemble import HistGradientBoostingClassifier",
        "HistGradientBoostingClassifier(**{params}, random_state=SEED)",
    ),
    "lightgbm": (
        "from lightgbm import LGBMClassifier",
        "LGBMClassifier(**{params}, random_state=SEED, n_jobs=2, verbose=-1)",
    ),
    "knn": ("from sklearn.neighbors import KNeighborsClassifier", "KNeighborsClassifier(**{params})"),
    "svm": ("from sklearn.svm import SVC", "SVC(**{params}, probability={proba}, random_state=SEED)"),
}
REGRESSORS = {
    "linear": ("from sklearn.linear_model import Ridge", "Ridge(**{params})"),
    "random_forest": (
        "from sklearn.ensemble import RandomForestRegressor",
        "RandomForestRegressor(**{params}, random_state=SEED, n_jobs=2)",
    ),
    "extra_trees": (
        "from sklearn.ensemble import ExtraTreesRegressor",
        "ExtraTreesRegressor(**{params}, random_state=SEED, n_jobs=2)",
    ),
    "hist_gb": (
        "from sklearn.ensemble import HistGradientBoostingRegressor",
        "HistGradientBoostingRegressor(**{params}, random_state=SEED)",
    ),
    "lightgbm": (
        "from lightgbm import LGBMRegressor",
        "LGBMRegressor(**{params}, random_state=SEED, n_jobs=2, verbose=-1)",
    ),
    "knn": ("from sklearn.neighbors import KNeighborsRegressor", "KNeighborsRegressor(**{params})"),
    "svm": (
        "from sklearn.compose import TransformedTargetRegressor\nfrom sklearn.svm import SVR",
        "TransformedTargetRegressor(SVR(**{params}), transformer=StandardScaler())",
    ),
}

# The sklearn.metrics function each metric's validation code imports.
METRIC_IMPORTS = {
    "roc_auc": "roc_auc_score",
    "log_loss": "log_loss",
    "accuracy": "accuracy_score",
    "rmse": "mean_squared_error",
    "rmsle": "mean_squared_log_error",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
}

BUGS = ("missing_import", "misspelled_column", "no_makedirs", "no_id_column")

# Keys of a single-model CONFIG besides family and params, all required by the renderer.
OPTION_KEYS = ("impute", "scale", "one_hot", "log_features", "interactions")
RUN_KEYS = ("valid_size", "seed")


def estimator(problem: str, family: str, params: str, proba: bool) -> tuple[str, str]:
    """(import lines, estimator expression) of a family, its hyper-parameters read from `params`."""
    imports, expression = (CLASSIFIERS if problem == "classification" else REGRESSORS)[family]
    return imports, expression.replace("{params}", params).replace("{proba}", str(proba))


def valid_single(config: dict) -> bool:
    """Whether `config` is a complete single-model CONFIG."""
    return (
        config.get("family") in FAMILY_NAMES
        and config.get("problem") in ("classification", "regression")
        and config.get("metric") in METRIC_IMPORTS
        and isinstance(config.get("params"), dict)
        and all(key in config for key in OPTION_KEYS + RUN_KEYS)
    )


def default_params(family: str, problem: str) -> dict:
    """The first option of every hyper-parameter of a family."""
    return {name: options[0] for name, options in param_grid(family, problem).items()}


def param_grid(family: str, problem: str) -> dict[str, list]:
    """The hyper-parameter options of a family for a problem type."""
    return PARAM_GRID.get((family, problem)) or PARAM_GRID[(family, "*")]


def config_literal(config: dict) -> str:
    """CONFIG as a Python dict literal, one key per line (one list item per line), for `ast.literal_eval`."""
    lines = []
    for key, value in config.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            items = "".join(f"        {item!r},\n" for item in value)
            lines.append(f"    {key!r}: [\n{items}    ],\n")
        else:
            lines.append(f"    {key!r}: {value!r},\n")
    return "{\n" + "".join(lines) + "}"


def fill(template: str, pieces: dict[str, str], bug: str | None, misspelled: str) -> str:
    """Substitute `@NAME@` pieces into a script template, planting `bug` (one of BUGS) if given.

    The template must use @DROPNA@, @MAKEDIRS@ and @SUBMISSION@ and import numpy as np;
    `misspelled` is the wrong column name of the "misspelled_column" bug.
    """
    pieces = {
        "@DROPNA@": "labels",
        "@MAKEDIRS@": 'os.makedirs("submission", exist_ok=True)\n',
        "@SUBMISSION@": "submission = pd.DataFrame({id_col: test[id_col].values, **predictions})[list(sample.columns)]",
        **pieces,
    }
    if bug == "misspelled_column":
        pieces["@DROPNA@"] = repr([misspelled])
    elif bug == "no_makedirs":
        pieces["@MAKEDIRS@"] = ""
    elif bug == "no_id_column":
        pieces["@SUBMISSION@"] = "submission = pd.DataFrame(predictions)"
    elif bug not in (None, "missing_import"):
        raise ValueError(f"unknown bug {bug!r}")
    ordered = [key for key in pieces if key != "@CONFIG@"] + ["@CONFIG@"]  # CONFIG last: it holds column names
    script = template
    for key in ordered:
        script = script.replace(key, pieces.get(key, key))
    if bug == "missing_import":  # uses np all the same
        script = script.replace("import numpy as np\n", "")
    return script
