"""The contract every `Task` keeps, built-in or a plugin's: a pytest suite that airad runs on each
kind a run request can name (tests/contract/test_task_contract.py), and a task plugin's own tests run
on theirs (examples/plugins/airad-friedman, docs/extending.md).

The daemon opens a task with `registry.open_task(spec, seed, tasks_root)` (in its own process and
again in grading workers), shows the model `brief()`, runs scripts with `public_dir` as their input,
collects `submission_path`, and ranks nodes by `grade(...)`. It relies on: a brief that describes
the task and names the public files; a relative submission path; grades that are finite for a good
submission, ordered by `lower_is_better`, repeatable, and the same from a task opened again with the
same seed; and a malformed or missing submission graded invalid with a reason, never an exception.
Tasks whose harness keeps the answers (`HeldOutTaskContract`) also promise that no public file
reveals them, that the sample submission is valid, and that the seed draws the validation split
while the test split stays put.

Everything here goes through `open_task` and the `Task` protocol; only the subclasses know where a
kind keeps its answers. A test module subclasses `TaskContract` (or `HeldOutTaskContract`) and provides:
- the fixture `spec`: a `TaskSpec` that `open_task` accepts;
- `perfect(task)` and `bad(task)`: a submission's bytes scoring the best and clearly worse;
- `malformed(task)` (optional): more submissions of the right kind but the wrong shape;
and, for `HeldOutTaskContract`, `held_out(task)`: the harness's answers as strings (see there).
"""

from __future__ import annotations

import math
import os
import typing
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest

from airad.agents.operators import TaskBrief
from airad.tasks import split_secret
from airad.tasks.base import Task
from airad.tasks.registry import open_task

SEED = 3

# The grades type the protocol promises, wherever the grading code keeps it.
Grades = typing.get_type_hints(Task.grade)["return"]

# Submissions no task accepts, whatever its format.
GARBAGE: dict[str, bytes | None] = {
    "missing": None,
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xfe",
    "prose": b"I could not finish the model, sorry.\n",
    "header only": b"id,target\n",
}


# The split secret of the installations these tests make, where AIRAD_SPLIT_KEY_FILE names none.
TEST_SECRET = bytes(range(100, 132))


def installation(root: Path) -> Path:
    """A tasks root holding one fixed split secret, as the daemons of one installation (configured with
    `split_key_file`) share: two such roots draw the same splits. The secret is the file that
    AIRAD_SPLIT_KEY_FILE names where it is set (airad's own tests), else a fixed test secret."""
    key_file = os.environ.get("AIRAD_SPLIT_KEY_FILE")
    split_secret.adopt(root, split_secret.read_file(Path(key_file)) if key_file else TEST_SECRET)
    return root


def public_files(task) -> dict[str, bytes]:
    """Every file under the task's public dir, by relative path."""
    public = Path(task.public_dir)
    return {p.relative_to(public).as_posix(): p.read_bytes() for p in sorted(public.rglob("*")) if p.is_file()}


def finite(score) -> bool:
    """A valid score: a finite float and no error."""
    return score.valid and isinstance(score.score, float) and math.isfinite(score.score) and not score.error


def better(a: float, b: float, lower_is_better: bool) -> bool:
    return a < b if lower_is_better else a > b


class TaskContract:
    """Behaviour shared by every task: brief, submission path, grading, determinism."""

    def perfect(self, task) -> bytes:
        raise NotImplementedError

    def bad(self, task) -> bytes:
        raise NotImplementedError

    def malformed(self, task) -> list[bytes]:
        return []

    @pytest.fixture
    def tasks_root(self, tmp_path: Path) -> Path:
        return installation(tmp_path / "tasks")

    @pytest.fixture
    def task(self, spec, tasks_root):
        return open_task(spec, SEED, tasks_root)

    def test_the_brief_describes_the_task_and_names_the_public_files(self, task):
        assert isinstance(task.name, str) and task.name
        assert Path(task.public_dir).is_dir()
        brief = task.brief()
        assert isinstance(brief, TaskBrief) and brief.description.strip() and brief.data_overview.strip()
        top = [p.name for p in Path(task.public_dir).iterdir() if p.is_file() and not p.name.startswith(".")]
        assert top, "the public dir holds no file for the model to read"
        for name in top:
            assert name in brief.data_overview, f"the brief does not mention {name}"
        assert task.brief() == brief

    def test_the_submission_path_is_relative_to_the_work_dir(self, task):
        path = PurePosixPath(task.submission_path)
        assert task.submission_path and not path.is_absolute() and ".." not in path.parts

    def test_dirs_hidden_from_scripts_do_not_hold_the_public_dir(self, task):
        public = Path(task.public_dir).resolve()
        for hidden in getattr(task, "private_dirs", ()):
            hidden = Path(hidden).resolve()
            assert not public.is_relative_to(hidden) and not hidden.is_relative_to(public)

    def test_a_good_submission_gets_finite_validation_and_test_scores(self, task):
        grades = task.grade(self.perfect(task))
        assert isinstance(grades, Grades) and isinstance(grades.metric, str) and grades.metric
        assert isinstance(grades.lower_is_better, bool)
        assert finite(grades.validation), grades.validation
        assert finite(grades.test), grades.test

    def test_the_direction_ranks_a_perfect_submission_above_a_bad_one(self, task):
        perfect, bad = task.grade(self.perfect(task)), task.grade(self.bad(task))
        assert finite(bad.validation) and finite(bad.test), (bad.validation, bad.test)
        assert (bad.metric, bad.lower_is_better) == (perfect.metric, perfect.lower_is_better)
        for split in ("validation", "test"):
            good_score, bad_score = getattr(perfect, split).score, getattr(bad, split).score
            ranked = better(good_score, bad_score, perfect.lower_is_better)
            assert ranked, (split, good_score, bad_score, perfect.lower_is_better)

    @pytest.mark.parametrize("kind", list(GARBAGE))
    def test_garbage_is_invalid_on_both_splits_with_a_reason(self, task, kind):
        self.assert_invalid(task, GARBAGE[kind])

    def test_a_missing_submission_names_the_file_it_expected(self, task):
        grades = task.grade(None)
        assert PurePosixPath(task.submission_path).name in grades.validation.error

    def test_a_malformed_submission_is_invalid_on_both_splits_with_a_reason(self, task):
        for submission in self.malformed(task):
            self.assert_invalid(task, submission)

    def assert_invalid(self, task, submission: bytes | None) -> None:
        direction = task.grade(self.perfect(task))
        grades = task.grade(submission)  # an exception here is a failed contract: the run would stop
        assert (grades.metric, grades.lower_is_better) == (direction.metric, direction.lower_is_better)
        for score in (grades.validation, grades.test):
            assert not score.valid and score.score is None, (submission, score)
            assert isinstance(score.error, str) and score.error.strip(), (submission, score)

    def test_grading_is_repeatable_and_changes_no_public_file(self, task):
        before = public_files(task)
        first = task.grade(self.perfect(task))
        task.grade(self.bad(task))
        task.grade(GARBAGE["prose"])
        assert task.grade(self.perfect(task)) == first
        assert public_files(task) == before

    def test_opening_again_with_the_seed_gives_the_same_data_brief_and_grades(self, spec, task, tmp_path):
        """A grading worker, a resumed run, or another daemon of the installation opens the task anew."""
        again = open_task(spec, SEED, installation(tmp_path / "other-daemon" / "tasks"))
        assert public_files(again) == public_files(task)
        assert again.brief() == task.brief() and again.submission_path == task.submission_path
        for submission in (self.perfect(task), self.bad(task), None):
            assert again.grade(submission) == task.grade(submission)


class HeldOutTaskContract(TaskContract):
    """Tasks whose harness keeps the answers of the validation and test rows to itself.

    `held_out(task)` returns `(answers, id_column, labels)`: the harness's answers as strings, one
    row per scored row with the id column, the label columns and `split` ("validation" or "test")."""

    def held_out(self, task) -> tuple[pd.DataFrame, str, list[str]]:
        raise NotImplementedError

    def sample_submission(self, task) -> Path:
        return Path(task.public_dir) / "sample_submission.csv"

    def test_no_public_file_pairs_a_held_out_id_with_its_label(self, task):
        """No public column gives the held-out rows' labels better than always guessing the commonest
        label does (the sample submission's constant guess is fine; the answers are not)."""
        answers, id_column, labels = self.held_out(task)
        assert len(answers) >= 10 and {"validation", "test"} <= set(answers["split"])
        answer_columns = {c: f"{c} (answer)" for c in [*labels, "split"]}
        renamed = answers.rename(columns=answer_columns)
        checked = 0
        for path in sorted(Path(task.public_dir).rglob("*.csv")):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            if id_column not in frame.columns:
                continue
            joined = frame.merge(renamed, on=id_column)
            checked += len(joined)
            for label in labels:
                truth = joined[answer_columns[label]]
                chance = answers[label].value_counts(normalize=True).max()
                for column in frame.columns.drop(id_column):
                    hits = float((joined[column] == truth).mean()) if len(joined) else 0.0
                    leak = f"{path.name}:{column} gives {hits:.0%} of the held-out {label!r} values"
                    assert hits <= chance + 0.05, leak
        assert checked >= len(answers), "the held-out rows' ids are in no public file: the check saw nothing"

    def test_the_sample_submission_is_valid(self, task):
        grades = task.grade(self.sample_submission(task).read_bytes())
        assert finite(grades.validation) and finite(grades.test), grades

    def test_the_seed_draws_the_validation_rows_and_the_test_rows_stay(self, spec, task, tasks_root):
        other = open_task(spec, SEED + 1, tasks_root)
        assert public_files(other) != public_files(task)
        answers, _, labels = self.held_out(task)
        other_answers, _, _ = self.held_out(other)

        def labels_of_test_rows(frame: pd.DataFrame) -> list[tuple]:
            return sorted(map(tuple, frame.loc[frame["split"] == "test", labels].to_numpy().tolist()))

        assert labels_of_test_rows(other_answers) == labels_of_test_rows(answers)
