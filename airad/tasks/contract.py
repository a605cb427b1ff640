"""Frozen contract tasks: a user's Python file that loads the data and scores predictions.

The file defines, at module level:

    TARGET = "price"            # the column of load_data()'s frame to predict
    LOWER_IS_BETTER = True      # the direction of evaluate()

    def load_data():            # -> pandas.DataFrame (features + TARGET), or a pair (train, test)
        ...

    def evaluate(y_true, y_pred):   # numpy arrays in the same row order -> float
        ...

and may define `ID_COLUMN` (a column of unique ids, replaced by fresh ids like a CSV task's
`id_column`) and `METRIC_NAME` (the score's name in reports; default "evaluate"). In place of
evaluate() and LOWER_IS_BETTER it may name one of the harness's own metrics, `METRIC = "rmsle"`
(any of `airad tasks --metrics`, in any case), which then scores and names the predictions. Its module
docstring and evaluate()'s docstring go into the task's description. A single frame is split like a
CSV task without `test` (20% hidden test rows, fixed); a pair's second frame gives the test rows,
as a CSV task's `test` file does. Files beside it are found with `Path(__file__).parent`.

`airad task freeze FILE` prints the file's SHA-256 in a `[task]` table; a run refuses to start when
the file no longer has that hash. The daemon runs the file in its own process, only to load the
data (once per seed and validation fraction) and to evaluate submissions: it is the user's own code
with the daemon's rights, trusted because the user wrote it and the hash pins exactly which code.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import inspect
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd

from airad.schemas.errors import FieldError
from airad.schemas.request import ContractTask
from airad.tasks.bundled import TEST_FRACTION
from airad.tasks.csv_task import TableProblem, check_table, private_dirs, table_layout, task_description
from airad.tasks.metrics import Metric, find_metric, unknown_metric_reason
from airad.tasks.table import TableTask, is_prepared

REQUIRED_FUNCTIONS = ("load_data", "evaluate")
REQUIRED_CONSTANTS = {"TARGET": str, "LOWER_IS_BETTER": bool}


def file_sha256(data: bytes) -> str:
    """The hex SHA-256 a contract file is frozen by."""
    return hashlib.sha256(data).hexdigest()


def source_problem(source: bytes, path: str) -> str | None:
    """Why the file's source does not meet the contract (checked without running it), else None."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return f"{path} is not valid Python: {exc.msg} (line {exc.lineno})"
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    constants = _module_constants(tree)
    named = constants.get("METRIC")
    if "METRIC" in constants and not (isinstance(named, str) and find_metric(named)):
        return f"{path}: METRIC = {named!r}: {unknown_metric_reason(str(named))}"
    required_functions = ("load_data",) if named else REQUIRED_FUNCTIONS
    required_constants = {"TARGET": str} if named else REQUIRED_CONSTANTS
    for name in required_functions:
        if name not in functions:
            return f"{path} defines no function {name}() at module level" + ("" if named else " (or METRIC)")
    for name, kind in required_constants.items():
        if not isinstance(constants.get(name), kind):
            return f"{path} does not set {name} to a {kind.__name__} literal at module level"
    return None


def _module_constants(tree: ast.Module) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant):
            if isinstance(node.target, ast.Name):
                found[node.target.id] = node.value.value
    return found


def contract_task_problem(spec: ContractTask) -> tuple[str, str] | None:
    """(field, reason) when the file is unreadable, changed since it was frozen, or breaks the contract."""
    try:
        source = Path(spec.path).read_bytes()
    except OSError as exc:
        return "$.task.path", f"cannot read {spec.path}: {exc.strerror or exc}"
    found = file_sha256(source)
    if found != spec.sha256:
        return "$.task.sha256", (
            f"{spec.path} changed since it was frozen: expected {spec.sha256}, found {found} "
            "(freeze it again with `airad task freeze` if the change is meant)"
        )
    problem = source_problem(source, spec.path)
    return ("$.task.path", problem) if problem else None


def freeze(path: Path) -> tuple[str, str]:
    """(sha256, a ready-to-paste `[task]` TOML table) for a contract file; ValueError if it breaks the contract."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    problem = source_problem(source, str(path))
    if problem:
        raise ValueError(problem)
    sha = file_sha256(source)
    table = (
        f"# frozen by `airad task freeze`: sha256 {sha}\n"
        "[task]\n"
        'kind = "contract"\n'
        f"path = {json.dumps(str(path.resolve()))}\n"
        f'sha256 = "{sha}"\n'
    )
    return sha, table


def prepare_contract(spec: ContractTask, seed: int, tasks_root: Path) -> TableTask:
    """Run the frozen file to lay out its data (once per seed) and open the task it poses."""
    path = Path(spec.path)
    source = path.read_bytes()
    found = file_sha256(source)
    if found != spec.sha256:
        reason = f"{spec.path} changed since it was frozen: expected {spec.sha256}, found {found}"
        raise FieldError("$.task.sha256", reason)
    module = _load(path, source, spec.sha256)
    target, id_column = module.TARGET, getattr(module, "ID_COLUMN", None)
    root = tasks_root / "contract" / f"{path.stem}-{spec.sha256[:16]}" / f"seed-{seed}-val-{spec.validation_fraction:g}"
    if not is_prepared(root):
        train, test = _load_data(module, spec.path)
        try:
            check_table(
                train,
                test,
                target=target,
                id_column=id_column,
                metric=None,
                validation_fraction=spec.validation_fraction,
                test_fraction=TEST_FRACTION,
                train_name="the frame load_data() returned",
                test_name="the test frame load_data() returned",
            )
        except TableProblem as exc:
            raise FieldError("$.task.path", f"{spec.path}: {exc.reason}") from None
        table_layout(
            root,
            train,
            test,
            target=target,
            id_column=id_column,
            validation_fraction=spec.validation_fraction,
            test_fraction=TEST_FRACTION,
            seed=seed,
            sample_value=None,
            description=_description(spec, module),
        )
    return TableTask(
        path.stem,
        root,
        _metric(module),
        id_column=id_column or "id",
        target=target,
        private_dirs=private_dirs([path], tasks_root),
    )


def _load(path: Path, source: bytes, sha: str) -> types.ModuleType:
    """Execute the exact bytes that were hashed as a fresh module."""
    name = f"airad_contract_{sha[:16]}"
    module = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(name, None, origin=str(path)))
    module.__file__ = str(path.resolve())
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as exc:
        raise FieldError("$.task.path", f"{path} raised {type(exc).__name__} when loaded: {exc}") from None
    return module


def _load_data(module: types.ModuleType, path: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    try:
        data = module.load_data()
    except Exception as exc:
        raise FieldError("$.task.path", f"load_data() in {path} raised {type(exc).__name__}: {exc}") from None
    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, pd.DataFrame) for d in data):
        return data
    raise FieldError(
        "$.task.path", f"load_data() in {path} returned {type(data).__name__}, not a DataFrame or a (train, test) pair"
    )


def _metric(module: types.ModuleType) -> Metric:
    built_in = find_metric(getattr(module, "METRIC", "") or "")
    if built_in is not None:
        return built_in
    evaluate = module.evaluate

    def score(truth: np.ndarray, prediction: np.ndarray) -> float:
        try:
            return float(evaluate(truth, prediction))
        except Exception as exc:
            raise ValueError(f"evaluate() raised {type(exc).__name__}: {exc}") from None

    name = getattr(module, "METRIC_NAME", "evaluate")
    return Metric(name, lower_is_better=bool(module.LOWER_IS_BETTER), probabilities=False, fn=score)


def _description(spec: ContractTask, module: types.ModuleType) -> str:
    doc = inspect.cleandoc(module.__doc__ or "")
    title = spec.title or (doc.splitlines()[0] if doc else Path(spec.path).stem)
    summary = doc or f"Predict `{module.TARGET}` for every row of `test.csv` from the other columns."
    built_in = find_metric(getattr(module, "METRIC", "") or "")
    if built_in is not None:
        evaluation = f"Submissions are evaluated on {built_in.text}."
        return task_description(title, summary, evaluation, module.TARGET, getattr(module, "ID_COLUMN", None) or "id")
    direction = "lower" if module.LOWER_IS_BETTER else "higher"
    evaluation = f"Submissions are scored by the task's own evaluate(y_true, y_pred) function; {direction} is better."
    if module.evaluate.__doc__:
        evaluation += "\n\n" + inspect.cleandoc(module.evaluate.__doc__)
    return task_description(title, summary, evaluation, module.TARGET, getattr(module, "ID_COLUMN", None) or "id")
