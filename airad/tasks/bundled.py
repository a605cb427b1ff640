"""Tasks built from datasets that ship inside installed packages, laid out like MLE-bench competitions.

Prepared layout under `<tasks_root>/<name>/seed-<seed>-val-<fraction>-split-<tag>/` (see
`airad.tasks.table`; `<tag>` names the installation's split secret, `airad.tasks.split_secret`):
`public/` (description.md, train.csv, test.csv, sample_submission.csv: what a node reads) and
`private/answers.csv` (the harness's own: id, target, split). The hidden test rows are fixed
per task and installation; the validation rows are drawn from the labelled data by the run's seed
under the installation's secret. test.csv holds both, shuffled under fresh ids, so a script cannot
tell which rows score which split, nor rebuild the split from the seed and a public copy of the data.
Categorical strings and missing values stay in the CSVs as the package ships them.

The datasets' own files ship in installed packages, where a script could read the answers:
`airad.tasks.dataset_files` names those dirs for the sandbox to hide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from msgspec import Struct

from airad.schemas.request import BundledTask
from airad.tasks import split_secret
from airad.tasks.metrics import METRICS
from airad.tasks.table import TableTask, data_overview, is_prepared, write_layout

__all__ = [
    "DATASETS",
    "BundledDataset",
    "PreparedTask",
    "bundled_task_names",
    "data_overview",
    "dataset_facts",
    "prepare_bundled",
]

TEST_FRACTION = 0.2


class BundledDataset(Struct, frozen=True):
    """A packaged dataset and how it is posed as a competition: `load()` gives features and `target`."""

    name: str
    title: str
    summary: str
    metric: str
    target_meaning: str
    load: Callable[[], pd.DataFrame]


class DatasetFacts(Struct, frozen=True):
    """What `airad tasks` shows of a bundled task: its kind, metric and the shape of its data."""

    name: str
    title: str
    kind: str
    metric: str
    lower_is_better: bool
    rows: int
    features: int
    categorical: bool
    missing: bool


def _sklearn(loader_name: str, snake_case: bool = False) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame = getattr(datasets, loader_name)(as_frame=True).frame
        frame = frame.rename(columns={frame.columns[-1]: "target"})
        if snake_case:
            frame = frame.rename(columns=lambda name: name.replace(" (cm)", "_cm").replace(" ", "_"))
        return frame

    return load


def _penguins(target: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from palmerpenguins import load_penguins

        frame = load_penguins().dropna(subset=[target]).reset_index(drop=True)
        return frame.drop(columns=[target]).assign(target=frame[target])

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
        BundledDataset(
            "penguins-species",
            "Penguin species",
            "Predict the species of a penguin from the island it was seen on, its sex, the study year "
            "and four body measurements (Palmer Station LTER data, shipped with the palmerpenguins package). "
            "`island` and `sex` are text categories; some measurements and some `sex` values are missing.",
            "accuracy",
            "`target` is the species, `Adelie`, `Chinstrap` or `Gentoo`; predict the label as that text",
            _penguins("species"),
        ),
        BundledDataset(
            "penguins-body-mass",
            "Penguin body mass",
            "Predict a penguin's body mass in grams from its species, the island it was seen on, its sex, "
            "the study year and three bill and flipper measurements (Palmer Station LTER data, shipped with "
            "the palmerpenguins package). `species`, `island` and `sex` are text categories; some `sex` "
            "values are missing.",
            "mae",
            "`target` is the body mass in grams; predict it as a number",
            _penguins("body_mass_g"),
        ),
        BundledDataset(
            "digits",
            "Handwritten digits",
            "Predict which digit, 0 to 9, an 8x8 image of a handwritten digit shows, from its 64 pixel "
            "intensities (0 to 16) in columns `pixel_<row>_<column>` (UCI optical recognition of "
            "handwritten digits data, shipped with scikit-learn).",
            "accuracy",
            "`target` is the digit, 0 to 9; predict the class label",
            _sklearn("load_digits"),
        ),
        BundledDataset(
            "iris",
            "Iris species",
            "Predict the species of an iris flower from the length and width of its sepals and petals "
            "in centimetres (Fisher's iris data, shipped with scikit-learn).",
            "accuracy",
            "`target` is the species, 0 (setosa), 1 (versicolor) or 2 (virginica); predict the class label",
            _sklearn("load_iris", snake_case=True),
        ),
    )
}


class PreparedTask(TableTask):
    """A bundled task prepared on disk for one (seed, validation fraction): implements `Task`.
    `from_packages`: its data ships in installed packages, whose copies jobs must not see."""

    from_packages = True

    def __init__(self, dataset: BundledDataset, root: Path):
        super().__init__(dataset.name, root, METRICS[dataset.metric])
        self.dataset = dataset


def prepare_bundled(spec: BundledTask, seed: int, tasks_root: Path, *, secret: bytes | None = None) -> PreparedTask:
    """Prepare (once) and open a bundled task for a run's seed.

    The split is drawn under `secret`, by default the installation's (`split_secret.load_or_create`
    on `tasks_root`: every process opening tasks under one root gets the same one)."""
    dataset = DATASETS.get(spec.name)
    if dataset is None:
        raise KeyError(f"unknown bundled task {spec.name!r}; known: {', '.join(sorted(DATASETS))}")
    if secret is None:
        secret = split_secret.load_or_create(tasks_root)
    fraction = f"{spec.validation_fraction:g}"
    root = tasks_root / dataset.name / f"seed-{seed}-val-{fraction}-split-{split_secret.layout_tag(secret)}"
    if not is_prepared(root):
        frame = dataset.load().reset_index(drop=True)
        test_rows, labelled_rows = split_secret.held_out_rows(secret, dataset.name, len(frame), TEST_FRACTION)
        write_layout(
            root,
            frame,
            test_rows,
            labelled_rows,
            target="target",
            id_column="id",
            validation_fraction=spec.validation_fraction,
            seed=split_secret.derive_seed(secret, f"{dataset.name}|{seed}|{fraction}"),
            sample_value=0.5 if METRICS[dataset.metric].probabilities else None,
            description=_description(dataset),
        )
    return PreparedTask(dataset, root)


def _description(dataset: BundledDataset) -> str:
    return f"""# {dataset.title}

{dataset.summary}

## Evaluation

Submissions are evaluated on {METRICS[dataset.metric].text}.

## Files

- `train.csv`: the training set: an `id` column, the features, and the target column `target`.
  {dataset.target_meaning[0].upper() + dataset.target_meaning[1:]}.
- `test.csv`: the rows to predict: `id` and the features, no target.
- `sample_submission.csv`: a submission in the correct format, with columns `id` and `target`.

Some rows of `test.csv` are scored during the search as a validation split; the others are
held out and scored only for the final report. Both are scored by the harness, not by your script.
"""


def dataset_facts(dataset: BundledDataset) -> DatasetFacts:
    """Load the dataset and describe it: rows, feature count, categorical features, missing values."""
    frame = dataset.load()
    features = frame.drop(columns=["target"])
    metric = METRICS[dataset.metric]
    return DatasetFacts(
        name=dataset.name,
        title=dataset.title,
        kind="classification" if metric.classification else "regression",
        metric=metric.name,
        lower_is_better=metric.lower_is_better,
        rows=len(frame),
        features=features.shape[1],
        categorical=any(not pd.api.types.is_numeric_dtype(dtype) for dtype in features.dtypes),
        missing=bool(features.isna().any().any()),
    )


def bundled_task_names() -> list[str]:
    """Names accepted by `task = {kind = "bundled", name = ...}`."""
    return sorted(DATASETS)
