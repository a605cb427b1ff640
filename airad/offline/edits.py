"""Edit a script that has no CONFIG (the user's own train.py): find its estimator, swap it for
another model family or retune it, and keep every other line as the user wrote it.

The estimator is the first call, in source order, of a class in `ESTIMATORS`; its class name says
whether the task is classification or regression. Replacements come from the catalog, with the
catalog's first hyper-parameter options; families that want scaled inputs get a StandardScaler in
front. Imports the new code needs are added after the script's last top-level import.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from airad.offline.catalog import FAMILY_NAMES, TREE_CAP, TREE_COUNT, default_params, estimator

SCALED = ("linear", "knn", "svm")
# Families the offline coder recognises in a script but never writes itself.
OTHER_FAMILIES = {
    "decision_tree": "decision tree",
    "naive_bayes": "naive Bayes",
    "gradient_boosting": "gradient boosting",
    "dummy": "constant baseline",
}

ESTIMATORS: dict[str, tuple[str, str]] = {
    **{
        name: ("linear", "classification")
        for name in ("LogisticRegression", "RidgeClassifier", "SGDClassifier", "Perceptron")
    },
    **{name: ("linear", "regression") for name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor")},
    "RandomForestClassifier": ("random_forest", "classification"),
    "RandomForestRegressor": ("random_forest", "regression"),
    "ExtraTreesClassifier": ("extra_trees", "classification"),
    "ExtraTreesRegressor": ("extra_trees", "regression"),
    "HistGradientBoostingClassifier": ("hist_gb", "classification"),
    "HistGradientBoostingRegressor": ("hist_gb", "regression"),
    "LGBMClassifier": ("lightgbm", "classification"),
    "LGBMRegressor": ("lightgbm", "regression"),
    "KNeighborsClassifier": ("knn", "classification"),
    "KNeighborsRegressor": ("knn", "regression"),
    "SVC": ("svm", "classification"),
    "LinearSVC": ("svm", "classification"),
    "SVR": ("svm", "regression"),
    "DecisionTreeClassifier": ("decision_tree", "classification"),
    "DecisionTreeRegressor": ("decision_tree", "regression"),
    "GaussianNB": ("naive_bayes", "classification"),
    "GradientBoostingClassifier": ("gradient_boosting", "classification"),
    "GradientBoostingRegressor": ("gradient_boosting", "regression"),
    "DummyClassifier": ("dummy", "classification"),
    "DummyRegressor": ("dummy", "regression"),
}

# Names a script may use without importing them, and the line that imports each.
KNOWN_IMPORTS = {
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "os": "import os",
    "json": "import json",
    "make_pipeline": "from sklearn.pipeline import make_pipeline",
    "StandardScaler": "from sklearn.preprocessing import StandardScaler",
    "train_test_split": "from sklearn.model_selection import train_test_split",
    "accuracy_score": "from sklearn.metrics import accuracy_score",
}


@dataclass(frozen=True)
class EstimatorCall:
    """The estimator a script builds: its class, family and problem, its literal keyword arguments
    and where its call is in the source (character offsets; a `make_pipeline(StandardScaler(), ...)`
    around it included)."""

    name: str
    family: str
    problem: str
    params: dict
    start: int
    end: int

    @property
    def label(self) -> str:
        """The family's name in a plan."""
        return FAMILY_NAMES.get(self.family) or OTHER_FAMILIES[self.family]


def find_estimator(code: str) -> EstimatorCall | None:
    """The first estimator call of the script, or None (no such call, or not valid Python)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _class_name(node) in ESTIMATORS]
    if not calls:
        return None
    call = min(calls, key=lambda node: (node.lineno, node.col_offset))
    family, problem = ESTIMATORS[_class_name(call)]
    span = _scaled_pipeline(tree, call) or call
    starts = _line_starts(code)
    assert span.end_lineno is not None and span.end_col_offset is not None, "ast.parse sets end positions"
    start = starts[span.lineno - 1] + _chars(code, starts, span.lineno, span.col_offset)
    end = starts[span.end_lineno - 1] + _chars(code, starts, span.end_lineno, span.end_col_offset)
    return EstimatorCall(_class_name(call), family, problem, _literal_keywords(call), start, end)


def _scaled_pipeline(tree: ast.Module, call: ast.Call) -> ast.Call | None:
    """The `make_pipeline(StandardScaler(), <call>)` around `call`, if it is in one: a swap replaces
    the whole pipeline, so scalers do not pile up."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _class_name(node) == "make_pipeline"
            and len(node.args) == 2
            and node.args[1] is call
            and isinstance(node.args[0], ast.Call)
            and _class_name(node.args[0]) == "StandardScaler"
        ):
            return node
    return None


def estimator_source(family: str, problem: str, params: dict) -> tuple[str, list[str]]:
    """(expression, import lines) building `family` with `params`; scaled families in a pipeline."""
    imports, expression = estimator(problem, family, "@PARAMS@", proba=True)
    arguments = ", ".join(f"{key}={value!r}" for key, value in params.items())
    expression = expression.replace("**@PARAMS@", arguments).replace("SEED", "0")
    lines = imports.splitlines()
    if family in SCALED:
        expression = f"make_pipeline(StandardScaler(), {expression})"
        lines += [KNOWN_IMPORTS["make_pipeline"], KNOWN_IMPORTS["StandardScaler"]]
    elif "StandardScaler()" in expression:
        lines.append(KNOWN_IMPORTS["StandardScaler"])
    return expression, lines


def swap_estimator(code: str, call: EstimatorCall, family: str, params: dict | None = None) -> tuple[str, str]:
    """(new code, new expression): the script with its estimator call replaced by `family`'s
    (with `params`, else the catalog's defaults; arguments the catalog sets itself are dropped)."""
    params = params if params is not None else default_params(family, call.problem)
    fixed = set(re.findall(r"(\w+)=", estimator(call.problem, family, "{}", proba=True)[1]))
    params = {key: value for key, value in params.items() if key not in fixed}
    expression, imports = estimator_source(family, call.problem, params)
    edited = code[: call.start] + expression + code[call.end :]
    return add_imports(edited, imports), expression


def more_trees(call: EstimatorCall) -> dict | None:
    """The call's parameters with twice the trees (capped), or None when the family has no tree
    count or is at its cap."""
    key = TREE_COUNT.get(call.family)
    if key is None:
        return None
    current = call.params.get(key, default_params(call.family, call.problem)[key])
    if not isinstance(current, int) or current >= TREE_CAP[call.family]:
        return None
    return {
        **default_params(call.family, call.problem),
        **call.params,
        key: min(TREE_CAP[call.family], max(current * 2, 50)),
    }


def add_imports(code: str, lines: list[str]) -> str:
    """The script with the import lines it lacks inserted after its last top-level import (or at the
    top, after a docstring)."""
    tree = ast.parse(code)
    present = {ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    bound = _imported_names(tree)
    missing = []
    for line in lines:
        names = _imported_names(ast.parse(line))
        if line not in present and not names <= bound and line not in missing:
            missing.append(line)
    if not missing:
        return code
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:
        at = max(_end_line(node) for node in imports)
    elif (
        tree.body
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(getattr(tree.body[0], "value", None), ast.Constant)
    ):
        at = _end_line(tree.body[0])
    else:
        at = 0
    source = code.splitlines(keepends=True)
    if at and not source[at - 1].endswith("\n"):
        source[at - 1] += "\n"
    return "".join(source[:at] + [line + "\n" for line in missing] + source[at:])


def _end_line(node: ast.stmt) -> int:
    assert node.end_lineno is not None, "ast.parse sets end positions"
    return node.end_lineno


def _imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _class_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal_keywords(call: ast.Call) -> dict:
    params = {}
    for keyword in call.keywords:
        try:
            value = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue
        if keyword.arg is not None:
            params[keyword.arg] = value
        elif isinstance(value, dict):
            params.update(value)
    return params


def _line_starts(code: str) -> list[int]:
    starts, total = [], 0
    for line in code.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    return starts + [total]


def _chars(code: str, starts: list[int], lineno: int, byte_offset: int) -> int:
    """A column given in UTF-8 bytes (as `ast` gives it) as a count of characters."""
    line = code[starts[lineno - 1] : starts[lineno]]
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))
