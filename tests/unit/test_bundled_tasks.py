"""Every bundled task prepares offline into a valid competition layout that the harness scores."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from airad.schemas.request import BundledTask
from airad.tasks.bundled import DATASETS, dataset_facts, prepare_bundled
from airad.tasks.metrics import METRICS

BEST = {"roc_auc": 1.0, "accuracy": 1.0, "rmse": 0.0, "mae": 0.0}

# sha256 over every file of the seed-0 layout under FIXED_SECRET. Splits depend on the installation's
# secret (airad.tasks.split_secret), so layouts are pinned under a known one: a change to how splits
# are drawn must be deliberate (and bump split_secret.SCHEME, which renames the layout dirs).
# The committed golden replay logs do not depend on these: their tests fold the logs, never re-run tasks.
FIXED_SECRET = bytes(range(32))
ORIGINAL_LAYOUTS = {
    "breast-cancer": "0b646a0e89c57856ce85aa335a74343eea77bdeaa968edd8347c692f77d3c383",
    "wine": "001eded054d0fdbcc40e883ada173428d21a0e6baaa9b97cef7f54a177ffc7b7",
    "diabetes": "4faf0d69cc7b205c536f5d6956b70d95bf2a99469bf26ca869534fdfd0590227",
}


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    return {
        name: prepare_bundled(BundledTask(name=name), seed=0, tasks_root=root, secret=FIXED_SECRET) for name in DATASETS
    }


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_layout_is_a_competition_with_hidden_answers(tasks, name):
    task = tasks[name]
    public = {p.name for p in task.public_dir.iterdir()}
    assert public == {"description.md", "train.csv", "test.csv", "sample_submission.csv"}
    train = pd.read_csv(task.public_dir / "train.csv")
    test = pd.read_csv(task.public_dir / "test.csv")
    sample = pd.read_csv(task.public_dir / "sample_submission.csv")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    assert train.columns[0] == "id" and train.columns[-1] == "target"
    assert list(test.columns) == list(train.columns[:-1])
    assert list(sample.columns) == ["id", "target"] and list(sample["id"]) == list(test["id"])
    assert set(answers["split"]) == {"validation", "test"}
    assert sorted(answers["id"]) == sorted(test["id"]) and not set(train["id"]) & set(answers["id"])
    assert len(train) + len(answers) == dataset_facts(DATASETS[name]).rows
    assert train["target"].notna().all() and answers["target"].notna().all()


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_description_states_the_metric_and_the_target(tasks, name):
    description = (tasks[name].public_dir / "description.md").read_text()
    metric = METRICS[DATASETS[name].metric]
    assert metric.text in description
    assert DATASETS[name].target_meaning[1:] in description and "`target`" in description


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sample_submission_is_valid_and_a_perfect_one_scores_best(tasks, name):
    task = tasks[name]
    sample = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert sample.validation.valid and sample.test.valid, (sample.validation.error, sample.test.error)
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = task.grade(answers[["id", "target"]].to_csv(index=False).encode())
    best = BEST[DATASETS[name].metric]
    assert perfect.validation.score == pytest.approx(best) and perfect.test.score == pytest.approx(best)
    assert perfect.lower_is_better == (best == 0.0)


@pytest.mark.parametrize("name, target_kind", [("penguins-species", "O"), ("penguins-body-mass", "f")])
def test_penguins_keep_raw_categories_and_missing_values(tasks, name, target_kind):
    task = tasks[name]
    for file in ("train.csv", "test.csv"):
        frame = pd.read_csv(task.public_dir / file)
        assert frame["island"].dtype == object and {"Biscoe", "Dream", "Torgersen"} <= set(frame["island"])
        assert frame["sex"].isna().any()
    train = pd.read_csv(task.public_dir / "train.csv")
    assert train["target"].dtype.kind == target_kind
    facts = dataset_facts(DATASETS[name])
    assert facts.categorical and facts.missing


def test_species_labels_are_the_species_names(tasks):
    answers = pd.read_csv(tasks["penguins-species"].root / "private" / "answers.csv")
    assert set(answers["target"]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_facts_name_kind_and_shape():
    facts = {name: dataset_facts(d) for name, d in DATASETS.items()}
    assert facts["digits"].kind == "classification" and facts["digits"].features == 64 and facts["digits"].rows == 1797
    assert facts["iris"].rows == 150 and not facts["iris"].categorical and not facts["iris"].missing
    assert facts["penguins-body-mass"].kind == "regression" and facts["penguins-body-mass"].lower_is_better
    assert {f.kind for f in facts.values()} == {"classification", "regression"}


@pytest.mark.parametrize("name", sorted(ORIGINAL_LAYOUTS))
def test_the_original_tasks_are_laid_out_as_before_under_a_fixed_secret(tasks, name):
    root = tasks[name].root
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() == ORIGINAL_LAYOUTS[name]


def test_a_wrong_label_lowers_accuracy(tasks):
    task = tasks["iris"]
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    wrong = answers.assign(target=np.where(answers.index == 0, (answers["target"] + 1) % 3, answers["target"]))
    grades = task.grade(wrong[["id", "target"]].to_csv(index=False).encode())
    split = answers["split"].iloc[0]
    score = grades.validation.score if split == "validation" else grades.test.score
    assert score < 1.0
