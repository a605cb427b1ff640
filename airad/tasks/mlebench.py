"""MLE-bench competitions as tasks, with the validation split owned by the harness.

A competition prepared by MLE-bench (`data_dir/public/`, `data_dir/private/<answers>.csv`, and
`data_dir/leaderboard.csv` for medals) is turned, per (seed, validation fraction), into a view under
the daemon's tasks dir: the same public files, except that a seed-drawn share of the labelled
training examples moves to the test side, unlabelled, and their answers join the harness's own
(`airad.tasks.competition_views`, one split per layout of labelled data). One submission then predicts both,
and each split is graded by the competition's own grader.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from itertools import islice
from pathlib import Path

import pandas as pd

from airad.agents.operators import TaskBrief
from airad.schemas.request import MleBenchTask
from airad.tasks.bundled import data_overview
from airad.tasks.competition_views import Source, ViewError, ViewFacts, find_sample, plan_view, write_view
from airad.tasks.competitions import COMPETITIONS, competition
from airad.tasks.grading.competition_harness import CompetitionHarness
from airad.tasks.grading.grades import Grades
from airad.tasks.grading.medals import read_leaderboard

ANSWER_FILES = ("answers.csv", "test.csv")
VIEW_VERSION = "v2"  # bumped when views are built differently: older ones are then rebuilt


def find_source(spec: MleBenchTask) -> Source:
    """The prepared competition's files; ValueError naming what is missing."""
    data_dir = Path(spec.data_dir).expanduser()
    if not (data_dir / "public").is_dir():
        raise ValueError(f"{data_dir} has no public/ folder (is it a competition prepared by MLE-bench?)")
    private = data_dir / "private"
    answers = next((private / name for name in ANSWER_FILES if (private / name).is_file()), None)
    if answers is None:
        csvs = sorted(private.glob("*.csv")) if private.is_dir() else []
        if len(csvs) != 1:
            raise ValueError(f"{private} has no answers file ({' or '.join(ANSWER_FILES)})")
        answers = csvs[0]
    sample = find_sample(data_dir / "public")
    if sample is None:
        raise ValueError(
            f"{data_dir / 'public'} has no sample submission (sample_submission.csv or one *sample*submission*.csv)"
        )
    return Source(data_dir, answers, sample, find_leaderboard(spec, data_dir))


def find_leaderboard(spec: MleBenchTask, data_dir: Path) -> Path | None:
    """The leaderboard named by the task (ValueError if it is not there), else `leaderboard.csv` in
    `data_dir` or beside it (MLE-bench's `<competition>/prepared/` has none); None: no medals."""
    if spec.leaderboard is not None:
        named = Path(spec.leaderboard).expanduser()
        if not named.is_file():
            raise LeaderboardMissing(f"{named} is not a file")
        return named
    return next((p for p in (data_dir / "leaderboard.csv", data_dir.parent / "leaderboard.csv") if p.is_file()), None)


class LeaderboardMissing(ValueError):
    """The leaderboard the task names is not there."""


def mlebench_task_problem(spec: MleBenchTask) -> tuple[str, str] | None:
    """(field, reason) when the competition is unknown, not prepared, or cannot be split."""
    if spec.competition not in COMPETITIONS:
        known = ", ".join(sorted(COMPETITIONS))
        return "$.task.competition", f"unknown competition {spec.competition!r}; known: {known}"
    try:
        source = find_source(spec)
    except LeaderboardMissing as exc:
        return "$.task.leaderboard", str(exc)
    except ValueError as exc:
        return "$.task.data_dir", str(exc)
    return _split_problem(spec.competition, source, _fingerprint(source))


def _fingerprint(source: Source) -> tuple:
    """Changes when the answers file, an entry of `public/`, or a file in one of its small folders
    (metadata such as mlsp's `essential_data/`, not image folders) is added, removed or rewritten."""
    stamps = [_stamp(source.answers_file)]
    for entry in sorted(source.public.iterdir()):
        stamps.append(_stamp(entry))
        if entry.is_dir():
            stamps += _small_folder(entry)
    return tuple(stamps)


def _stamp(path: Path | os.DirEntry) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def _small_folder(folder: Path, most: int = 100) -> list[tuple[str, int, int]]:
    with os.scandir(folder) as entries:
        children = list(islice(entries, most + 1))
    return [] if len(children) > most else sorted(_stamp(child) for child in children)


@lru_cache(maxsize=256)
def _split_problem(competition_id: str, source: Source, fingerprint: tuple) -> tuple[str, str] | None:
    """Whether the files allow a view, remembered: every request naming the competition asks again,
    and planning reads the answers and lists the image folders."""
    try:
        plan_view(competition(competition_id), source)
    except ViewError as exc:
        return "$.task.competition", f"harness-owned validation is not available for {competition_id}: {exc}"
    return None


class PreparedCompetition:
    """An MLE-bench competition's view for one (seed, validation fraction): implements `Task`."""

    submission_path = "submission/submission.csv"

    def __init__(self, spec: MleBenchTask, source: Source, root: Path):
        self.name = spec.competition
        self.root = root
        self.public_dir = root / "public"
        self.private_dirs = (source.data_dir / "private",)
        self.grader = competition(spec.competition)
        self.facts = ViewFacts.read(root)
        answers = pd.read_csv(root / "private" / "answers.csv", dtype={self.grader.id_column: str})
        sample = pd.read_csv(self.public_dir / self.facts.sample, dtype={self.grader.id_column: str})
        columns = list(sample.columns)
        ids = sample[self.grader.id_column].tolist() if self.grader.pairs_by_position(spec.grading) else None
        self.harness = CompetitionHarness(answers, self.grader, columns, grading=spec.grading, sample_ids=ids)
        leaderboard = source.leaderboard
        self.medal_thresholds = read_leaderboard(leaderboard, spec.grading) if leaderboard else None
        self._brief: TaskBrief | None = None

    def brief(self) -> TaskBrief:
        """The competition's description and an overview of the public files (and what the view left out)."""
        if self._brief is None:
            path = self.public_dir / "description.md"
            description = path.read_text() if path.exists() else f"Kaggle competition {self.name}."
            if self.facts.left_out:
                description += (
                    f"\n\nNote: this copy of the data leaves out {', '.join(self.facts.left_out)}: they would reveal "
                    "the labels of rows held out for validation. Use the other files.\n"
                )
            self._brief = TaskBrief(
                description=description,
                data_overview=data_overview(self.public_dir),
                metric=self.grader.metric,
                lower_is_better=self.grader.lower_is_better,
            )
        return self._brief

    def grade(self, submission: bytes | None) -> Grades:
        """Grade both splits with the competition's grader."""
        return self.harness.grade(submission)


def prepare_mlebench(spec: MleBenchTask, seed: int, tasks_root: Path) -> PreparedCompetition:
    """Build (once) and open the competition's view for a run's seed."""
    source = find_source(spec)
    grader = competition(spec.competition)
    digest = hashlib.sha256(str(source.data_dir.resolve()).encode()).hexdigest()[:12]
    most = min((m for m in (spec.max_validation_examples, grader.most_held_out) if m), default=None)
    held = f"val-{spec.validation_fraction:g}-max-{most or 'all'}"
    root = tasks_root / "mlebench" / spec.competition / f"{digest}-seed-{seed}-{held}-{VIEW_VERSION}"
    if not (root / "private" / "answers.csv").exists():
        split = plan_view(grader, source)
        write_view(source, split, grader.id_column, spec.validation_fraction, seed, root, most)
    return PreparedCompetition(spec, source, root)
