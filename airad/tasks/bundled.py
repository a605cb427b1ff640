"""Tasks built from datasets that ship inside installed packages, laid out like MLE-bench competitions.

Prepared layout under `<tasks_root>/<name>/seed-<seed>-val-<fraction>/`:
`public/` (description.md, train.csv, test.csv, sample_submission.csv: what a node reads) and
`private/answers.csv` (the harness's own: id, target, split). The hidden test rows are fixed
per task; the validation rows are drawn from the labelled data by the run's seed. test.csv
holds both, shuffled under fresh ids, so a script cannot tell which rows score which split.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from msgspec import Struct

from airad.agents.operators import TaskBrief
from airad.schemas.request import BundledTask
from airad.tasks.base import Grades
from airad.tasks.harness import CsvHarness
from airad.tasks.metrics import METRICS

TEST_FRACTION = 0.2
TEST_SPLIT_SEED = 20240101


class BundledDataset(Struct, frozen=True):
    """A packaged dataset and how it is posed as a competition."""

    name: str
    title: str
    summary: str
    metric: str
    target_meaning: str
    load: Callable[[], pd.DataFrame]


def _sklearn(loader_name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame = getattr(datasets, loader_name)(as_frame=True).frame
        return frame.rename(columns={frame.columns[-1]: "target"})

    return load


DATASETS: dict[str, BundledDataset] = {
    d.name: d
    for d in (
        BundledDataset(
            "breast-cancer",
            "Breast cancer diagnosis",
            "Predict whether a breast mass is benign from 30 numeric features of a digitised "
            "fine-needle aspirate image (Wisconsin Diagnostic Breast Cancer data, shipped with scikit-learn).",
            "roc_auc",
            "`target` is 1 for benign and 0 for malignant; predict the probability that `target` is 1",
            _sklearn("load_breast_cancer"),
        ),
        BundledDataset(
            "wine",
            "Wine cultivar",
            "Predict which of three cultivars a wine comes from, from 13 chemical measurements "
            "(UCI wine data, shipped with scikit-learn).",
            "accuracy",
            "`target` is the cultivar, 0, 1 or 2; predict the class label",
            _sklearn("load_wine"),
        ),
        BundledDataset(
            "diabetes",
            "Diabetes progression",
            "Predict a quantitative measure of disease progression one year after baseline from "
            "ten standardised baseline variables (shipped with scikit-learn).",
            "rmse",
            "`target` is the progression measure; predict it as a number",
            _sklearn("load_diabetes"),
        ),
    )
}

METRIC_TEXT = {
    "roc_auc": "the area under the ROC curve (ROC AUC) between the predicted probability and the observed target",
    "accuracy": "accuracy: the fraction of rows whose predicted label equals the observed target",
    "rmse": "the root mean squared error (RMSE) between the predicted and the observed target; lower is better",
    "mae": "the mean absolute error (MAE) between the predicted and the observed target; lower is better",
}


class PreparedTask:
    """A bundled task prepared on disk for one (seed, validation fraction): implements `Task`."""

    submission_path = "submission/submission.csv"

    def __init__(self, dataset: BundledDataset, root: Path):
        self.name = dataset.name
        self.dataset = dataset
        self.root = root
        self.public_dir = root / "public"
        answers = pd.read_csv(root / "private" / "answers.csv")
        self.harness = CsvHarness(answers, "id", "target", METRICS[dataset.metric])
        self._brief: TaskBrief | None = None

    def brief(self) -> TaskBrief:
        """The description and a column-level overview of the public files (read once)."""
        if self._brief is None:
            description = (self.public_dir / "description.md").read_text()
            self._brief = TaskBrief(description=description, data_overview=data_overview(self.public_dir))
        return self._brief

    def grade(self, submission: bytes | None) -> Grades:
        """Score a submission with the harness's own answers."""
        return self.harness.grade(submission)


def data_overview(public_dir: Path, max_columns: int = 60) -> str:
    """One line per public file: rows and columns with dtypes, as a model would want to see them."""
    lines = []
    for path in sorted(public_dir.iterdir()):
        if path.suffix != ".csv":
            lines.append(f"- {path.name}")
            continue
        frame = pd.read_csv(path)
        columns = [f"{name} ({dtype})" for name, dtype in frame.dtypes.items()]
        more = f", ... and {len(columns) - max_columns} more" if len(columns) > max_columns else ""
        lines.append(f"- {path.name}: {len(frame)} rows; columns: {', '.join(columns[:max_columns])}{more}")
    return "\n".join(lines)


def prepare_bundled(spec: BundledTask, seed: int, tasks_root: Path) -> PreparedTask:
    """Prepare (once) and open a bundled task for a run's seed."""
    dataset = DATASETS.get(spec.name)
    if dataset is None:
        raise KeyError(f"unknown bundled task {spec.name!r}; known: {', '.join(sorted(DATASETS))}")
    root = tasks_root / dataset.name / f"seed-{seed}-val-{spec.validation_fraction:g}"
    if not (root / "private" / "answers.csv").exists():
        _write_layout(dataset, spec.validation_fraction, seed, root)
    return PreparedTask(dataset, root)


def _write_layout(dataset: BundledDataset, validation_fraction: float, seed: int, root: Path) -> None:
    frame = dataset.load().reset_index(drop=True)
    fixed = np.random.default_rng(TEST_SPLIT_SEED).permutation(len(frame))
    n_test = int(round(len(frame) * TEST_FRACTION))
    test_rows, labelled_rows = fixed[:n_test], fixed[n_test:]
    run_rng = np.random.default_rng(seed)
    labelled_rows = run_rng.permutation(labelled_rows)
    n_validation = int(round(len(labelled_rows) * validation_fraction))
    validation_rows, train_rows = labelled_rows[:n_validation], np.sort(labelled_rows[n_validation:])

    train = frame.loc[train_rows].reset_index(drop=True)
    train.insert(0, "id", np.arange(len(train)))
    scored = pd.concat(
        [frame.loc[validation_rows].assign(split="validation"), frame.loc[test_rows].assign(split="test")]
    )
    scored = scored.iloc[run_rng.permutation(len(scored))].reset_index(drop=True)
    scored.insert(0, "id", np.arange(len(train), len(train) + len(scored)))

    staging = root.with_name(f"{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "public").mkdir(parents=True)
    (staging / "private").mkdir()
    train.to_csv(staging / "public" / "train.csv", index=False)
    scored.drop(columns=["target", "split"]).to_csv(staging / "public" / "test.csv", index=False)
    default = 0.5 if METRICS[dataset.metric].probabilities else train["target"].iloc[0]
    pd.DataFrame({"id": scored["id"], "target": default}).to_csv(
        staging / "public" / "sample_submission.csv", index=False
    )
    scored[["id", "target", "split"]].to_csv(staging / "private" / "answers.csv", index=False)
    (staging / "public" / "description.md").write_text(_description(dataset))
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (root / "private" / "answers.csv").exists():
            raise


def _description(dataset: BundledDataset) -> str:
    return f"""# {dataset.title}

{dataset.summary}

## Evaluation

Submissions are evaluated on {METRIC_TEXT[dataset.metric]}.

## Files

- `train.csv`: the training set: an `id` column, the features, and the target column `target`.
  {dataset.target_meaning[0].upper() + dataset.target_meaning[1:]}.
- `test.csv`: the rows to predict: `id` and the features, no target.
- `sample_submission.csv`: a submission in the correct format, with columns `id` and `target`.

Some rows of `test.csv` are scored during the search as a validation split; the others are
held out and scored only for the final report. Both are scored by the harness, not by your script.
"""


def bundled_task_names() -> list[str]:
    """Names accepted by `task = {kind = "bundled", name = ...}`."""
    return sorted(DATASETS)
