"""The common layout: labelled examples are rows of a public table (CSV or JSON records) keyed by the
competition's id column, and the test inputs are rows of another table keyed by the same column
and/or files named by id in a folder beside the training files.

A held row leaves the labelled table; its inputs join the test table (only the test table's columns)
and its files join the test folder; rows of other tables keyed by id (e.g. ranzcr's annotations) are
dropped for it. Where training and test ids are numbered apart and collide (nomad2018), held rows
get fresh ids after the largest test id, and their files and folders are renamed to match.
Answers in a one-hot layout (dog-breed, leaf, spooky) are built from the labelled table's label column.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airad.tasks.competition_views.base import Held, Source, ViewError, copy_member, link_tree
from airad.tasks.competitions.spec import Competition

PROBE_ROWS = 50
MAX_DEPTH = 3
STREAM_OVER_BYTES = 512 * 1024**2  # a labelled CSV this big is read in chunks, its rows held out by position
CHUNK_ROWS = 1_000_000


def read_table(path: Path, id_column: str, nrows: int | None = None) -> pd.DataFrame:
    """A CSV table, or a JSON list of records, with the id column as text."""
    if path.suffix == ".json":
        frame = pd.DataFrame(json.loads(path.read_text()))
        frame = frame if nrows is None else frame.head(nrows)
        if id_column in frame.columns:
            frame[id_column] = frame[id_column].astype(str)
        return frame
    return pd.read_csv(path, nrows=nrows, dtype={id_column: str}, keep_default_na=False, na_values=[""])


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table in the format its name says (JSON records keep MLE-bench's indent)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(json.loads(frame.to_json(orient="records")), indent=4))
    else:
        frame.to_csv(path, index=False)


@dataclass(frozen=True)
class TableSplit:
    """Hold out rows of a labelled table (see the module's docstring)."""

    id_column: str
    answer_columns: tuple[str, ...]
    label_column: str
    labels_file: str
    test_file: str | None
    side_files: tuple[str, ...]
    file_dirs: tuple[tuple[str, str], ...]
    source: Path
    renumber_after: int | None
    left_out: tuple[str, ...]
    streamed: bool = False
    zip_pairs: tuple[tuple[str, str], ...] = ()

    @property
    def rewrites(self) -> tuple[str, ...]:
        """The tables, folders and archives this split writes."""
        pairs = [*self.file_dirs, *self.zip_pairs]
        paths = [self.labels_file, *self.side_files, *(d for pair in pairs for d in pair)]
        return tuple(paths + ([self.test_file] if self.test_file else []))

    def units(self) -> Sequence[str]:
        """Every labelled id, once (repeated ids are held out together); for a streamed table, its row
        positions."""
        if self.streamed:
            return RowPositions(sum(len(chunk) for chunk in self._chunks(usecols=[self.id_column])))
        ids = read_table(self.source / self.labels_file, self.id_column)[self.id_column]
        return list(dict.fromkeys(ids))

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Move the held rows, their files and their side rows; answer them in the answers' layout."""
        key = self.id_column
        if self.streamed:
            validation = self._stream_labels({int(position) for position in held}, public / self.labels_file)
        else:
            labels = read_table(self.source / self.labels_file, key)
            is_held = labels[key].isin(set(held))
            validation = labels[is_held]
            write_table(labels[~is_held], public / self.labels_file)
        held = list(dict.fromkeys(validation[key]))
        renamed = self._new_ids(validation[key])
        validation = validation.drop_duplicates(key)
        if self.test_file:
            test = read_table(self.source / self.test_file, key)
            shared = [c for c in test.columns if c in validation.columns]
            moved = validation[shared].assign(**{key: validation[key].map(renamed)})
            mixed = pd.concat([test, moved], ignore_index=True)
            write_table(mixed.iloc[rng.permutation(len(mixed))], public / self.test_file)
        for name in self.side_files:
            side = read_table(self.source / name, key)
            write_table(side[~side[key].isin(set(held))], public / name)
        for train_dir, test_dir in self.file_dirs:
            self._split_files(public, train_dir, test_dir, renamed)
        for train_zip, test_zip in self.zip_pairs:
            self._split_zips(public, train_zip, test_zip, renamed)
        return Held(answers=self._answers(validation, renamed))

    def _chunks(self, **options):
        return pd.read_csv(
            self.source / self.labels_file,
            chunksize=CHUNK_ROWS,
            dtype={self.id_column: str},
            keep_default_na=False,
            na_values=[""],
            **options,
        )

    def _stream_labels(self, positions: set[int], target: Path) -> pd.DataFrame:
        """Two passes over a big labelled CSV: take the rows at `positions`, then write every other row
        whose id is not one of theirs; the rows taken."""
        wanted = np.fromiter(positions, dtype=np.int64)
        taken, start = [], 0
        for chunk in self._chunks():
            taken.append(chunk[np.isin(np.arange(start, start + len(chunk)), wanted)])
            start += len(chunk)
        validation = pd.concat(taken, ignore_index=True)
        held_ids = set(validation[self.id_column])
        for number, chunk in enumerate(self._chunks()):
            chunk[~chunk[self.id_column].isin(held_ids)].to_csv(target, mode="a", header=number == 0, index=False)
        return validation

    def _new_ids(self, ids: pd.Series) -> dict[str, str]:
        unique = list(dict.fromkeys(ids))
        if self.renumber_after is None:
            return {i: i for i in unique}
        return {old: str(self.renumber_after + 1 + n) for n, old in enumerate(unique)}

    def _answers(self, validation: pd.DataFrame, renamed: dict[str, str]) -> pd.DataFrame:
        key = self.id_column
        ids = validation[key].map(renamed).to_numpy()
        if self.label_column:
            labels = validation[self.label_column].astype(str).to_numpy()
            one_hot = {c: (labels == c).astype(int) for c in self.answer_columns}
            return pd.DataFrame({key: ids, **one_hot})
        answers = validation[list(self.answer_columns)].reset_index(drop=True)
        answers = answers.apply(lambda c: c.astype(int) if c.dtype == bool else c)
        answers.insert(0, key, ids)
        return answers

    def _split_files(self, public: Path, train_dir: str, test_dir: str, renamed: dict[str, str]) -> None:
        (public / train_dir).mkdir(parents=True)
        (public / test_dir).mkdir(parents=True)
        for path in sorted((self.source / test_dir).iterdir()):
            link_tree(path, public / test_dir / path.name)
        for path in sorted((self.source / train_dir).iterdir()):
            old = next((k for k in file_keys(path.name) if k in renamed), None)
            if old is None:
                link_tree(path, public / train_dir / path.name)
            else:
                new_name = renamed[old] + path.name[len(old) :] if path.name.startswith(old) else path.name
                link_tree(path, public / test_dir / new_name)

    def _split_zips(self, public: Path, train_zip: str, test_zip: str, renamed: dict[str, str]) -> None:
        """Rewrite a pair of archives of files named by id: the held files leave the training archive
        and join the test one (in its folder, renamed where ids were renumbered)."""
        with (
            zipfile.ZipFile(self.source / train_zip) as train,
            zipfile.ZipFile(self.source / test_zip) as test,
            zipfile.ZipFile(public / train_zip, "w") as new_train,
            zipfile.ZipFile(public / test_zip, "w") as new_test,
        ):
            folder = next((_folder(i.filename) for i in test.infolist() if not i.is_dir()), "")
            for info in test.infolist():
                copy_member(test, info, new_test, info.filename)
            for info in train.infolist():
                base = info.filename[len(_folder(info.filename)) :]
                old = None if info.is_dir() else next((k for k in file_keys(base) if k in renamed), None)
                if old is None:
                    copy_member(train, info, new_train, info.filename)
                else:
                    copy_member(train, info, new_test, folder + renamed[old] + base[len(old) :])


def _folder(member: str) -> str:
    return member[: member.rfind("/") + 1]


def _zip_pairs(public: Path, label_ids: set[str], answer_ids: set[str]) -> tuple[tuple[str, str], ...]:
    """(training archive, test archive) pairs among the top-level zips, whose files are named by
    training ids and by test ids (aerial-cactus leaves its images only as train.zip and test.zip)."""
    train, test = [], []
    for path in sorted(public.glob("*.zip")):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n[len(_folder(n)) :] for n in archive.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile:
            continue
        stems = {k for name in names for k in file_keys(name)}
        if label_ids and label_ids <= stems and not answer_ids & stems:
            train.append(path.name)
        elif answer_ids & stems and not label_ids & stems:
            test.append(path.name)
    return tuple(zip(train, test, strict=False))


class RowPositions(Sequence[str]):
    """The positions 0 .. n-1 of a table's rows as unit names, without making n strings."""

    def __init__(self, count: int):
        self.size = count

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [str(i) for i in range(self.size)[index]]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return str(index % self.size)


def file_keys(name: str) -> tuple[str, str]:
    """The ids a file may stand for: its whole name (`abc.jpg`, as some competitions' ids are) or its stem."""
    return name, name.split(".")[0]


def table_split(competition: Competition, source: Source) -> TableSplit:
    """Find the labelled table, the test table, the tables keyed by id and the paired file folders."""
    key = competition.id_column
    answers = pd.read_csv(source.answers_file, dtype={key: str}, nrows=None)
    if key not in answers.columns:
        raise ViewError(f"the answers file {source.answers_file.name} has no {key!r} column")
    answer_ids = set(answers[key])
    answer_columns = _answer_columns(competition, answers)
    heads = _tables(source, key)
    label_column = ""
    labels_file = _labelled(heads, set(answer_columns))
    if labels_file is None and competition.label_column and competition.label_column not in answer_columns:
        label_column = competition.label_column
        labels_file = _labelled(heads, {label_column})
    if labels_file is None:
        wanted = sorted(answer_columns)[:8] + ([competition.label_column] if competition.label_column else [])
        raise ViewError(
            f"no public table has {key!r} and the answers' columns {wanted}: "
            "the labelled training data is in another format"
        )
    labels_head = heads.pop(labels_file)
    test_file = next((name for name, head in heads.items() if set(head[key]) <= answer_ids), None)
    if test_file is not None and not set(heads[test_file].columns) <= set(labels_head.columns):
        raise ViewError(f"{test_file} has columns that {labels_file} lacks, so validation rows cannot join it")
    side_files = tuple(name for name in heads if name != test_file)
    label_ids = set(labels_head[key])
    renumber_after = _renumber_after(label_ids, answer_ids)
    file_dirs = _file_dirs(source.public, label_ids, answer_ids, by_name=renumber_after is not None)
    zip_pairs = () if renumber_after is not None else _zip_pairs(source.public, label_ids, answer_ids)
    if test_file is None and not file_dirs and not zip_pairs:
        raise ViewError("the test inputs are neither a table keyed by id nor files named by id (in folders or zips)")
    labels_path = source.public / labels_file
    streamed = labels_path.suffix == ".csv" and labels_path.stat().st_size > STREAM_OVER_BYTES
    return TableSplit(
        id_column=key,
        answer_columns=answer_columns,
        label_column=label_column,
        labels_file=labels_file,
        test_file=test_file,
        side_files=side_files,
        file_dirs=file_dirs,
        source=source.public,
        renumber_after=renumber_after,
        left_out=competition.left_out,
        streamed=streamed,
        zip_pairs=zip_pairs,
    )


def _tables(source: Source, key: str) -> dict[str, pd.DataFrame]:
    """The first rows of every public table keyed by the id column (the sample submission aside)."""
    heads = {}
    for path in sorted([*source.public.glob("*.csv"), *source.public.glob("*.json")]):
        if path.name != source.sample:
            head = read_table(path, key, nrows=PROBE_ROWS)
            if key in head.columns:
                heads[path.name] = head
    return heads


def _labelled(heads: dict[str, pd.DataFrame], needed: set[str]) -> str | None:
    return next((name for name, head in heads.items() if needed <= set(head.columns)), None)


def _answer_columns(competition: Competition, answers: pd.DataFrame) -> tuple[str, ...]:
    """The answers' columns a held row must fill: the targets, the label column, or every class column."""
    if competition.target_columns:
        missing = [c for c in competition.target_columns if c not in answers.columns]
        if missing:
            raise ViewError(f"the answers file lacks {missing}; expected {competition.answers_layout}")
        return tuple(competition.target_columns)
    if competition.label_column and competition.label_column in answers.columns:
        return (competition.label_column,)
    return tuple(str(c) for c in answers.columns if c != competition.id_column)


def _renumber_after(label_ids: set[str], answer_ids: set[str]) -> int | None:
    """None when training and test ids are apart; else the largest test id (held rows are numbered after it)."""
    if not label_ids & answer_ids:
        return None
    try:
        return max(int(i) for i in answer_ids)
    except ValueError:
        raise ViewError(
            "training and test rows share ids that are not numbers, so held rows cannot be given new ones"
        ) from None


def _file_dirs(public: Path, label_ids: set[str], answer_ids: set[str], by_name: bool) -> tuple[tuple[str, str], ...]:
    """(train folder, test folder) pairs, siblings at any depth, whose entries are named by training
    ids and by test ids (`<id>.<ext>`, `<id>` or a folder `<id>/`). Where the two kinds of ids
    collide (`by_name`), a test folder is the training folder's sibling named with "test" for "train"."""
    pairs: list[tuple[str, str]] = []
    folders = [public]
    for _ in range(MAX_DEPTH):
        children = [d for folder in folders for d in sorted(folder.iterdir()) if d.is_dir()]
        by_parent: dict[Path, tuple[list[Path], list[Path]]] = {}
        for directory in children:
            stems = {k for entry in directory.iterdir() for k in file_keys(entry.name)}
            train, test = by_parent.setdefault(directory.parent, ([], []))
            if by_name:
                twin = directory.with_name(directory.name.replace("train", "test"))
                if "train" in directory.name and twin.is_dir() and label_ids <= stems:
                    train.append(directory)
                    test.append(twin)
            elif label_ids and label_ids <= stems and not answer_ids & stems:
                train.append(directory)
            elif answer_ids & stems and not label_ids & stems:
                test.append(directory)
        for train, test in by_parent.values():
            pairs += [
                (str(a.relative_to(public)), str(b.relative_to(public))) for a, b in zip(train, test, strict=False)
            ]
        paired = {p for pair in pairs for p in pair}
        folders = [d for d in children if str(d.relative_to(public)) not in paired]
    return tuple(pairs)


__all__ = ["TableSplit", "file_keys", "read_table", "table_split", "write_table"]
