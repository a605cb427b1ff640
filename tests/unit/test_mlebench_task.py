"""MLE-bench competitions as tasks: the harness-owned validation split, the view a script sees, and
grading both splits with the competition's grader."""

from __future__ import annotations

import pandas as pd
import pytest

from airad.schemas.request import MleBenchTask
from airad.tasks.mlebench import mlebench_task_problem, prepare_mlebench
from tests.synthetic_competitions import aerial_cactus, tabular_playground


def spec(root, competition="tabular-playground-series-may-2022", **fields) -> MleBenchTask:
    return MleBenchTask(competition=competition, data_dir=str(root), **fields)


@pytest.fixture
def playground(tmp_path):
    return tabular_playground(tmp_path / "tabular-playground-series-may-2022" / "prepared")


def test_validation_rows_move_from_train_to_the_test_side_without_their_labels(playground, tmp_path):
    task = prepare_mlebench(spec(playground, validation_fraction=0.2), seed=3, tasks_root=tmp_path / "tasks")
    public = task.public_dir
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    sample = pd.read_csv(public / "sample_submission.csv")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    validation = answers[answers["split"] == "validation"]
    assert len(validation) == 60 and len(answers[answers["split"] == "test"]) == 100
    assert len(train) == 240 and not set(train["id"]) & set(validation["id"])
    assert "target" not in test.columns and set(test["id"]) == set(answers["id"]) == set(sample["id"])
    original = pd.read_csv(playground / "public" / "train.csv").set_index("id")
    assert (validation.set_index("id")["target"] == original.loc[validation["id"], "target"]).all()
    assert (public / "description.md").read_text().startswith("# Tabular Playground")
    assert task.private_dirs == (playground / "private",)


def test_the_split_depends_on_the_seed_and_is_made_once(playground, tmp_path):
    first = prepare_mlebench(spec(playground), seed=1, tasks_root=tmp_path / "tasks")
    again = prepare_mlebench(spec(playground), seed=1, tasks_root=tmp_path / "tasks")
    other = prepare_mlebench(spec(playground), seed=2, tasks_root=tmp_path / "tasks")
    ids = lambda task: set(pd.read_csv(task.public_dir / "train.csv")["id"])  # noqa: E731
    assert first.root == again.root and ids(first) == ids(again)
    assert ids(first) != ids(other)


def test_both_splits_are_graded_by_the_competitions_metric(playground, tmp_path):
    task = prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "tasks")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = answers[["id", "target"]].astype({"target": float})
    grades = task.grade(perfect.to_csv(index=False).encode())
    assert grades.metric == "roc_auc" and not grades.lower_is_better
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(1.0)
    inverted = perfect.assign(target=1.0 - perfect["target"])
    assert task.grade(inverted.to_csv(index=False).encode()).validation.score == pytest.approx(0.0)


@pytest.mark.parametrize("mangle, message", [
    (lambda f: f.drop(columns=["target"]), "missing columns ['target']"),
    (lambda f: f.iloc[:-3], "expected 160"),
    (lambda f: f.assign(id=f["id"].where(f.index != 0, 99999)), "not in sample_submission.csv"),
])
def test_a_malformed_submission_gets_a_graders_message(playground, tmp_path, mangle, message):
    task = prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "tasks")
    sample = pd.read_csv(task.public_dir / "sample_submission.csv")
    grades = task.grade(mangle(sample).to_csv(index=False).encode())
    assert not grades.validation.valid and message in grades.validation.error


def test_grading_is_mlebench_s_by_default_ids_written_as_floats_and_an_extra_column_included(playground, tmp_path):
    task = prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "tasks")
    assert task.harness.grading == "mlebench"
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    written = answers[["id", "target"]].astype({"id": float, "target": float}).assign(notes="x")
    data = written.to_csv(index=False).encode()
    assert b"0.0,1.0,x" in data or b".0," in data
    grades = task.grade(data)
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(1.0)


def test_kaggle_grading_checks_the_file_against_the_sample_first(playground, tmp_path):
    """A request chooses it with `grading = "kaggle"`."""
    strict = prepare_mlebench(spec(playground, grading="kaggle"), seed=0, tasks_root=tmp_path / "tasks")
    assert strict.harness.grading == "kaggle"
    task = strict
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    floats = answers[["id", "target"]].astype({"id": float, "target": float}).to_csv(index=False).encode()
    assert "not in sample_submission.csv" in strict.grade(floats).validation.error
    exact = answers[["id", "target"]].astype({"target": float}).to_csv(index=False).encode()
    assert strict.grade(exact).validation.score == pytest.approx(1.0)


def test_files_named_by_id_follow_their_rows_to_the_test_side(tmp_path):
    root = aerial_cactus(tmp_path / "aerial-cactus-identification" / "prepared")
    task = prepare_mlebench(spec(root, "aerial-cactus-identification", validation_fraction=0.25), 0, tmp_path / "tasks")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    validation = set(answers[answers["split"] == "validation"]["id"])
    train_files = {p.name for p in (task.public_dir / "train").iterdir()}
    test_files = {p.name for p in (task.public_dir / "test").iterdir()}
    assert len(validation) == 10 and validation <= test_files and not validation & train_files
    assert test_files == set(answers["id"]) and len(train_files) == 30
    assert set(pd.read_csv(task.public_dir / "train.csv")["id"]) == train_files
    moved = next(iter(validation))
    assert (task.public_dir / "test" / moved).read_bytes() == (root / "public" / "train" / moved).read_bytes()


def test_problems_name_the_field_and_the_reason(playground, tmp_path):
    assert mlebench_task_problem(spec(playground)) is None
    field, reason = mlebench_task_problem(spec(playground, "no-such-competition"))
    assert field == "$.task.competition" and "unknown competition" in reason
    field, reason = mlebench_task_problem(spec(tmp_path / "nowhere"))
    assert field == "$.task.data_dir" and "no public/ folder" in reason
    (playground / "public" / "train.csv").write_text("id,f_00\n1,0.5\n")
    field, reason = mlebench_task_problem(spec(playground))
    assert field == "$.task.competition" and "harness-owned validation is not available" in reason


def test_the_leaderboard_gives_the_medal_thresholds(playground, tmp_path):
    from airad.tasks.grading.medals import grading_report

    task = prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "tasks")
    thresholds = task.medal_thresholds
    assert thresholds.num_teams == 60 and not thresholds.is_lower_better
    assert thresholds.gold > thresholds.silver > thresholds.bronze > thresholds.median
    assert grading_report(0.999, True, thresholds).medal == "gold"
    assert grading_report(0.5, True, thresholds).medal is None


def test_a_competitions_files_are_checked_once_until_they_change(playground, monkeypatch):
    import airad.tasks.mlebench as mlebench

    plans = []
    real = mlebench.plan_view
    monkeypatch.setattr(mlebench, "plan_view", lambda *args: plans.append(args) or real(*args))
    for _ in range(3):
        assert mlebench_task_problem(spec(playground)) is None
    assert len(plans) == 1, "every request naming the competition asked again"
    (playground / "public" / "train.csv").unlink()
    field, reason = mlebench_task_problem(spec(playground))
    assert len(plans) == 2 and "another format" in reason


def test_the_leaderboard_is_named_or_found_beside_the_prepared_data(playground, tmp_path):
    board = playground / "leaderboard.csv"
    elsewhere = tmp_path / "mle-bench" / "competitions" / "leaderboard.csv"
    elsewhere.parent.mkdir(parents=True)
    board.rename(elsewhere)
    assert prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "a").medal_thresholds is None
    named = prepare_mlebench(spec(playground, leaderboard=str(elsewhere)), seed=0, tasks_root=tmp_path / "b")
    assert named.medal_thresholds.num_teams == 60
    field, reason = mlebench_task_problem(spec(playground, leaderboard=str(tmp_path / "nope.csv")))
    assert field == "$.task.leaderboard" and "nope.csv is not a file" in reason
    elsewhere.rename(playground.parent / "leaderboard.csv")
    beside = prepare_mlebench(spec(playground), seed=0, tasks_root=tmp_path / "c")
    assert beside.medal_thresholds.num_teams == 60, "MLE-bench's <competition>/prepared/ with the board one level up"
