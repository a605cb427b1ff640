"""The competition layout every table task shares (bundled, user CSV, user contract).

`<root>/public/` holds what a node reads: description.md, train.csv (fresh ids, features, target),
test.csv (validation and hidden test rows shuffled together under fresh ids, no target) and
sample_submission.csv. `<root>/private/answers.csv` is the harness's own: id, target, split.
A test row whose target is empty has no label: it is predicted but not scored.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from airad.agents.operators import TaskBrief
from airad.tasks.grading.csv_harness import CsvHarness
from airad.tasks.grading.grades import Grades
from airad.tasks.metrics import Metric

BIG_CSV_BYTES = 64 * 1024**2  # a CSV over this is not read whole for the overview
BIG_JSON_BYTES = 256 * 1024**2  # nor is a JSON file over this

TEST_SPLIT_SEED = 20240101


class TableProblem(ValueError):
    """A table that cannot become a task; `key` is the request's field at fault (train, test, target,
    id_column, group_column, ...)."""

    def __init__(self, key: str, reason: str):
        super().__init__(reason)
        self.key = key
        self.reason = reason


def held_out_rows(n_rows: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, labelled rows): a split of `range(n_rows)` fixed for every run, whatever its seed."""
    fixed = np.random.default_rng(TEST_SPLIT_SEED).permutation(n_rows)
    n_test = int(round(n_rows * test_fraction))
    return fixed[:n_test], fixed[n_test:]


def split_sizes(n_labelled: int, validation_fraction: float, test_fraction: float | None) -> tuple[int, int, int]:
    """(train, validation, test) row counts `write_layout` gives after `held_out_rows` (no test rows
    held out of the labelled ones when `test_fraction` is None: they come from elsewhere)."""
    n_test = 0 if test_fraction is None else int(round(n_labelled * test_fraction))
    n_validation = int(round((n_labelled - n_test) * validation_fraction))
    return n_labelled - n_test - n_validation, n_validation, n_test


def is_prepared(root: Path) -> bool:
    """Whether the layout at `root` is complete (it appears whole, by one rename)."""
    return (root / "private" / "answers.csv").exists()


def write_layout(
    root: Path,
    frame: pd.DataFrame,
    test_rows: np.ndarray,
    labelled_rows: np.ndarray,
    *,
    target: str,
    id_column: str,
    validation_fraction: float,
    seed: int,
    sample_value: object | None,
    description: str,
    validation_rows: np.ndarray | None = None,
) -> None:
    """Write the layout of `frame` (rows by position) at `root`, atomically; a racing writer's copy wins.

    The run's seed draws the validation rows from `labelled_rows` (unless `validation_rows`, drawn by
    a split rule, are given) and shuffles the scored rows. `sample_value` fills the sample
    submission's target (None: the first training target).
    """
    run_rng = np.random.default_rng(seed)
    if validation_rows is None:
        labelled_rows = run_rng.permutation(labelled_rows)
        n_validation = int(round(len(labelled_rows) * validation_fraction))
        validation_rows, train_rows = labelled_rows[:n_validation], np.sort(labelled_rows[n_validation:])
    else:
        train_rows = np.setdiff1d(labelled_rows, validation_rows)

    train = frame.loc[train_rows].reset_index(drop=True)
    train.insert(0, id_column, np.arange(len(train)))
    scored = pd.concat(
        [frame.loc[validation_rows].assign(split="validation"), frame.loc[test_rows].assign(split="test")]
    )
    scored = scored.iloc[run_rng.permutation(len(scored))].reset_index(drop=True)
    scored.insert(0, id_column, np.arange(len(train), len(train) + len(scored)))

    staging = root.with_name(f"{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "public").mkdir(parents=True)
    (staging / "private").mkdir()
    train.to_csv(staging / "public" / "train.csv", index=False)
    scored.drop(columns=[target, "split"]).to_csv(staging / "public" / "test.csv", index=False)
    default = train[target].iloc[0] if sample_value is None else sample_value
    pd.DataFrame({id_column: scored[id_column], target: default}).to_csv(
        staging / "public" / "sample_submission.csv", index=False
    )
    scored[[id_column, target, "split"]].to_csv(staging / "private" / "answers.csv", index=False)
    (staging / "public" / "description.md").write_text(description)
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not is_prepared(root):
            raise


def data_overview(public_dir: Path, max_columns: int = 60) -> str:
    """One line per public file: rows and columns with dtypes, as a model would want to see them.

    Read once per content of the folder (its files' names, sizes and mtimes), not once per run:
    the runs of an experiment share a prepared task, and reading its CSVs for each was most of a
    busy daemon's CPU (bench/scale)."""
    files = tuple((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(public_dir.iterdir()))
    return _overview(public_dir, files, max_columns)


@functools.lru_cache(maxsize=256)
def _overview(public_dir: Path, files: tuple, max_columns: int) -> str:
    lines = []
    for file_name, _size, _mtime in files:
        path = public_dir / file_name
        if path.is_dir():
            lines += _folder_lines(path, file_name)
        elif path.suffix == ".csv":
            lines.append(_csv_line(path, max_columns))
        elif path.suffix == ".json":
            lines.append(_json_line(path))
        elif path.suffix == ".zip":
            lines.append(_zip_line(path))
        else:
            lines.append(f"- {path.name}")
    return "\n".join(lines)


def _csv_line(path: Path, max_columns: int) -> str:
    """Rows and columns with dtypes; a big file's dtypes from its first rows and its rows counted as lines."""
    if path.stat().st_size > BIG_CSV_BYTES:
        frame, rows = pd.read_csv(path, nrows=10_000), _data_lines(path)
    else:
        frame = pd.read_csv(path)
        rows = len(frame)
    columns = [f"{name} ({dtype})" for name, dtype in frame.dtypes.items()]
    more = f", ... and {len(columns) - max_columns} more" if len(columns) > max_columns else ""
    return f"- {path.name}: {rows} rows; columns: {', '.join(columns[:max_columns])}{more}"


def _data_lines(path: Path) -> int:
    with path.open("rb") as stream:
        lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 24), b""))
    return max(lines - 1, 0)


def _folder_lines(path: Path, shown: str, depth: int = 0) -> list[str]:
    """A folder: how many files of which kinds, two example names, and its folders one level down."""
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    files = [e.name for e in entries if e.is_file()]
    folders = [e for e in entries if e.is_dir()]
    kinds = Counter(os.path.splitext(name)[1] or "no extension" for name in files)
    parts = []
    if files:
        kinds_text = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common(3))
        parts.append(f"{len(files)} files ({kinds_text}), e.g. {', '.join(files[:2])}")
    if folders:
        examples = f", e.g. {', '.join(f.name for f in folders[:2])}" if len(folders) > 2 else ""
        parts.append(f"{len(folders)} folders{examples}")
    lines = [f"{'  ' * depth}- {shown}/: {'; '.join(parts) or 'empty'}"]
    if depth < 1 and len(folders) <= 4:
        for folder in folders:
            lines += _folder_lines(Path(folder.path), f"{shown}/{folder.name}", depth + 1)
    return lines


def _json_line(path: Path) -> str:
    """A JSON file: a list of records and their fields, else just its size."""
    if path.stat().st_size <= BIG_JSON_BYTES:
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            fields = list(data[0])
            more = f", ... and {len(fields) - 40} more" if len(fields) > 40 else ""
            return f"- {path.name}: a list of {len(data)} records; fields: {', '.join(fields[:40])}{more}"
    return f"- {path.name}: {path.stat().st_size} bytes of JSON"


def _zip_line(path: Path) -> str:
    """A zip archive: how many members, and the first two."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError):
        return f"- {path.name}"
    return f"- {path.name}: zip archive of {len(names)} files, e.g. {', '.join(names[:2])}"


class TableTask:
    """A table task prepared on disk at `root`: implements `Task`, scoring with its private answers.

    `private_dirs` are host folders holding labels outside the layout (a user's own files), which a
    sandboxed script must not see.
    """

    submission_path = "submission/submission.csv"

    def __init__(
        self,
        name: str,
        root: Path,
        metric: Metric,
        *,
        id_column: str = "id",
        target: str = "target",
        private_dirs: tuple[Path, ...] = (),
    ):
        self.name = name
        self.root = root
        self.public_dir = root / "public"
        self.private_dirs = private_dirs
        answers = pd.read_csv(root / "private" / "answers.csv")
        self.harness = CsvHarness(answers, id_column, target, metric)
        self._brief: TaskBrief | None = None

    def brief(self) -> TaskBrief:
        """The description and a column-level overview of the public files (read once)."""
        if self._brief is None:
            description = (self.public_dir / "description.md").read_text()
            self._brief = TaskBrief(
                description=description,
                data_overview=data_overview(self.public_dir),
                metric=self.harness.metric.name,
                lower_is_better=self.harness.metric.lower_is_better,
            )
        return self._brief

    def grade(self, submission: bytes | None) -> Grades:
        """Score a submission with the harness's own answers."""
        return self.harness.grade(submission)
