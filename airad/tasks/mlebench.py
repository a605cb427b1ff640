"""MLE-bench competitions as tasks, with the validation split owned by the harness.

A competition prepared by MLE-bench (`data_dir/public/`, `data_dir/private/<answers>.csv`, and
`data_dir/leaderboard.csv` for medals) is turned, per (seed, validation fraction), into a view under
the daemon's tasks dir: the same public files, except that a seed-drawn share of the labelled
training rows moves to the test side. Their labels leave the training file and join the harness's
own answers; their inputs (feature rows, or per-row files such as images) join the test inputs; their
ids join `sample_submission.csv`. One submission then predicts both, and each split is graded by the
competition's own grader. Files are hard-linked into the view when possible, else copied.

The split is derived from the files, so it works for every competition whose labelled training
table has the answers' columns; for the others `mlebench_task_problem` says why it cannot be used.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airad.agents.operators import TaskBrief
from airad.schemas.request import MleBenchTask
from airad.tasks.base import Grades
from airad.tasks.bundled import data_overview
from airad.tasks.competition_harness import CompetitionHarness
from airad.tasks.competitions import COMPETITIONS, competition
from airad.tasks.medals import read_leaderboard

ANSWER_FILES = ("answers.csv", "test.csv")
SAMPLE = "sample_submission.csv"
PROBE_ROWS = 50


class SplitError(ValueError):
    """The competition's files do not allow a harness-owned validation split."""


@dataclass(frozen=True)
class Source:
    """The prepared competition as MLE-bench left it."""

    data_dir: Path
    answers_file: Path
    leaderboard: Path | None

    @property
    def public(self) -> Path:
        """The files a solution may read."""
        return self.data_dir / "public"


@dataclass(frozen=True)
class SplitPlan:
    """Where the labelled rows and the test inputs live in the public files."""

    id_column: str
    answer_columns: tuple[str, ...]
    labels_file: str
    test_file: str | None
    file_dirs: tuple[tuple[str, str], ...]


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
    if not (data_dir / "public" / SAMPLE).is_file():
        raise ValueError(f"{data_dir / 'public'} has no {SAMPLE}")
    leaderboard = data_dir / "leaderboard.csv"
    return Source(data_dir, answers, leaderboard if leaderboard.is_file() else None)


def _ids(frame: pd.DataFrame, column: str) -> set[str]:
    return set(frame[column].astype(str))


def plan_split(source: Source, id_column: str) -> SplitPlan:
    """Find the labelled table, the test-inputs table and the per-row file dirs; SplitError if none fit."""
    answers = pd.read_csv(source.answers_file, dtype={id_column: str}, nrows=None)
    if id_column not in answers.columns:
        raise SplitError(f"the answers file {source.answers_file.name} has no {id_column!r} column")
    answer_columns = tuple(c for c in answers.columns if c != id_column)
    answer_ids = _ids(answers, id_column)
    labels_file = test_file = None
    for path in sorted(source.public.glob("*.csv")):
        if path.name == SAMPLE:
            continue
        head = pd.read_csv(path, nrows=PROBE_ROWS, dtype={id_column: str})
        if id_column not in head.columns:
            continue
        if set(answer_columns) <= set(head.columns) and not (_ids(head, id_column) & answer_ids):
            labels_file = labels_file or path.name
        elif _ids(head, id_column) <= answer_ids:
            test_file = test_file or path.name
    if labels_file is None:
        raise SplitError(
            f"no public table has {id_column!r} and the answers' columns {list(answer_columns)[:8]}: "
            "the labelled training data is in another format"
        )
    labels_head = pd.read_csv(source.public / labels_file, nrows=PROBE_ROWS, dtype={id_column: str})
    file_dirs = _file_dirs(source.public, _ids(labels_head, id_column), answer_ids)
    if test_file is not None:
        test_columns = pd.read_csv(source.public / test_file, nrows=0).columns
        if not set(test_columns) <= set(labels_head.columns):
            raise SplitError(f"{test_file} has columns that {labels_file} lacks, so validation rows cannot join it")
    if test_file is None and not file_dirs:
        raise SplitError("the test inputs are neither a table keyed by id nor files named by id")
    return SplitPlan(id_column, answer_columns, labels_file, test_file, file_dirs)


def _file_dirs(public: Path, label_ids: set[str], answer_ids: set[str]) -> tuple[tuple[str, str], ...]:
    """(train dir, test dir) pairs whose files are named `<id>.<ext>` for labelled and test ids."""
    train_dirs, test_dirs = [], []
    for directory in sorted(p for p in public.iterdir() if p.is_dir()):
        stems = {key for f in directory.iterdir() for key in _file_keys(f.name)}
        if label_ids and label_ids <= stems:
            train_dirs.append(directory.name)
        elif answer_ids & stems:
            test_dirs.append(directory.name)
    return tuple(zip(train_dirs, test_dirs))


def mlebench_task_problem(spec: MleBenchTask) -> tuple[str, str] | None:
    """(field, reason) when the competition is unknown, not prepared, or cannot be split."""
    if spec.competition not in COMPETITIONS:
        return "$.task.competition", f"unknown competition {spec.competition!r}; known: {', '.join(sorted(COMPETITIONS))}"
    try:
        source = find_source(spec)
    except ValueError as exc:
        return "$.task.data_dir", str(exc)
    try:
        plan_split(source, competition(spec.competition).id_column)
    except SplitError as exc:
        return "$.task.competition", f"harness-owned validation is not available for {spec.competition}: {exc}"
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
        answers = pd.read_csv(root / "private" / "answers.csv", dtype={self.grader.id_column: str})
        columns = list(pd.read_csv(self.public_dir / SAMPLE, nrows=0).columns)
        self.harness = CompetitionHarness(answers, self.grader, columns)
        self.medal_thresholds = read_leaderboard(source.leaderboard) if source.leaderboard else None
        self._brief: TaskBrief | None = None

    def brief(self) -> TaskBrief:
        """The competition's description and an overview of the public files."""
        if self._brief is None:
            path = self.public_dir / "description.md"
            description = path.read_text() if path.exists() else f"Kaggle competition {self.name}."
            self._brief = TaskBrief(description=description, data_overview=data_overview(self.public_dir))
        return self._brief

    def grade(self, submission: bytes | None) -> Grades:
        """Grade both splits with the competition's grader."""
        return self.harness.grade(submission)


def prepare_mlebench(spec: MleBenchTask, seed: int, tasks_root: Path) -> PreparedCompetition:
    """Build (once) and open the competition's view for a run's seed."""
    source = find_source(spec)
    grader = competition(spec.competition)
    digest = hashlib.sha256(str(source.data_dir.resolve()).encode()).hexdigest()[:12]
    root = tasks_root / "mlebench" / spec.competition / f"{digest}-seed-{seed}-val-{spec.validation_fraction:g}"
    if not (root / "private" / "answers.csv").exists():
        plan = plan_split(source, grader.id_column)
        _write_view(source, plan, spec.validation_fraction, seed, root)
    return PreparedCompetition(spec, source, root)


def _write_view(source: Source, plan: SplitPlan, fraction: float, seed: int, root: Path) -> None:
    key = plan.id_column
    rng = np.random.default_rng(seed)
    labels = pd.read_csv(source.public / plan.labels_file, dtype={key: str})
    chosen = rng.permutation(len(labels))[: max(1, int(round(len(labels) * fraction)))]
    validation = labels.iloc[np.sort(chosen)]
    validation_ids = set(validation[key])

    staging = root.with_name(f"{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    shutil.rmtree(staging, ignore_errors=True)
    public = staging / "public"
    (staging / "private").mkdir(parents=True)
    rewritten = {SAMPLE, plan.labels_file, *(d for pair in plan.file_dirs for d in pair)}
    if plan.test_file:
        rewritten.add(plan.test_file)
    public.mkdir()
    for entry in sorted(source.public.iterdir()):
        if entry.name not in rewritten:
            _link_tree(entry, public / entry.name)
    labels[~labels[key].isin(validation_ids)].to_csv(public / plan.labels_file, index=False)
    if plan.test_file:
        test = pd.read_csv(source.public / plan.test_file, dtype={key: str})
        mixed = pd.concat([test, validation[list(test.columns)]], ignore_index=True)
        mixed.iloc[rng.permutation(len(mixed))].to_csv(public / plan.test_file, index=False)
    for train_dir, test_dir in plan.file_dirs:
        _split_files(source.public, public, train_dir, test_dir, validation_ids)
    sample = pd.read_csv(source.public / SAMPLE, dtype={key: str})
    extra = pd.DataFrame({c: [sample[c].iloc[0]] * len(validation) for c in sample.columns if c != key})
    extra.insert(list(sample.columns).index(key), key, validation[key].to_numpy())
    both = pd.concat([sample, extra[list(sample.columns)]], ignore_index=True)
    both.iloc[rng.permutation(len(both))].to_csv(public / SAMPLE, index=False)

    answers = pd.read_csv(source.answers_file, dtype={key: str})
    held = validation[[key, *plan.answer_columns]]
    pd.concat([answers.assign(split="test"), held.assign(split="validation")], ignore_index=True).to_csv(
        staging / "private" / "answers.csv", index=False
    )
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (root / "private" / "answers.csv").exists():
            raise


def _split_files(source: Path, public: Path, train_dir: str, test_dir: str, moved: set[str]) -> None:
    (public / train_dir).mkdir()
    (public / test_dir).mkdir()
    for path in (source / test_dir).iterdir():
        _link(path, public / test_dir / path.name)
    for path in (source / train_dir).iterdir():
        side = test_dir if moved & set(_file_keys(path.name)) else train_dir
        _link(path, public / side / path.name)


def _file_keys(name: str) -> tuple[str, str]:
    """The ids a file may stand for: its whole name (`abc.jpg`, as some competitions' ids are) or its stem."""
    return name, name.split(".")[0]


def _link_tree(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link)
    else:
        _link(source, target)


def _link(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
