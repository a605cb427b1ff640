import pandas as pd
import pytest

from airad.schemas.request import BundledTask
from airad.tasks.bundled import DATASETS, prepare_bundled


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return prepare_bundled(BundledTask(name="breast-cancer"), seed=3, tasks_root=tmp_path_factory.mktemp("tasks"))


def _answers(task):
    return pd.read_csv(task.root / "private" / "answers.csv")


def test_public_files_hold_no_labels_of_scored_rows(task):
    public = {p.name for p in task.public_dir.iterdir()}
    assert public == {"description.md", "train.csv", "test.csv", "sample_submission.csv"}
    test = pd.read_csv(task.public_dir / "test.csv")
    assert "target" not in test.columns
    answers = _answers(task)
    assert set(answers["split"]) == {"validation", "test"}
    assert sorted(test["id"]) == sorted(answers["id"])
    train = pd.read_csv(task.public_dir / "train.csv")
    assert not set(train["id"]) & set(answers["id"])


def test_perfect_and_constant_submissions(task):
    answers = _answers(task)
    perfect = task.grade(answers[["id", "target"]].to_csv(index=False).encode())
    assert perfect.validation.score == 1.0 and perfect.test.score == 1.0
    constant = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert constant.validation.score == 0.5


def test_validation_split_depends_on_seed_test_split_does_not(tmp_path):
    a = prepare_bundled(BundledTask(name="breast-cancer"), seed=1, tasks_root=tmp_path)
    b = prepare_bundled(BundledTask(name="breast-cancer"), seed=2, tasks_root=tmp_path)
    def rows(t, split):
        answers = pd.read_csv(t.root / "private" / "answers.csv")
        test = pd.read_csv(t.public_dir / "test.csv").set_index("id")
        return sorted(map(tuple, test.loc[answers[answers.split == split].id].round(6).values.tolist()))
    assert rows(a, "test") == rows(b, "test")
    assert rows(a, "validation") != rows(b, "validation")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: None, "no submission"),
        (lambda f: b"\x00\x01garbage", "missing column"),
        (lambda f: f.drop(columns=["id"]), "missing column 'id'"),
        (lambda f: f.iloc[:-1], "rows, expected"),
        (lambda f: f.assign(id=f["id"] + 100000), "not in test.csv"),
        (lambda f: f.assign(target=float("nan")), "missing or non-numeric"),
        (lambda f: f.assign(id=f["id"].iloc[0]), "repeats ids"),
    ],
)
def test_invalid_submissions_get_precise_messages(task, mutate, message):
    frame = pd.read_csv(task.public_dir / "sample_submission.csv")
    changed = mutate(frame)
    data = changed.to_csv(index=False).encode() if isinstance(changed, pd.DataFrame) else changed
    grades = task.grade(data)
    assert not grades.validation.valid and not grades.test.valid
    assert message in grades.validation.error


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_bundled_task_prepares_and_scores(tmp_path, name):
    task = prepare_bundled(BundledTask(name=name), seed=0, tasks_root=tmp_path)
    grades = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert grades.validation.valid and grades.test.valid
    assert "target" in task.brief().data_overview


def test_concurrent_preparations_of_one_task_agree(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        opened = pool.map(lambda _: prepare_bundled(BundledTask(name="wine"), seed=4, tasks_root=tmp_path), range(8))
        tasks = list(opened)
    answers = {(t.root / "private" / "answers.csv").read_text() for t in tasks}
    assert len(answers) == 1
    assert [p.name for p in (tmp_path / "wine").iterdir()] == [tasks[0].root.name]
    assert tasks[0].root.name.startswith("seed-4-val-0.2-split-")
