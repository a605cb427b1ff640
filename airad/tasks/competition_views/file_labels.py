"""Competitions whose labels are part of the training files' names (`dog.12.jpg`, `..._TRAIN7_1.aif`).

A held file leaves the training side and joins the test side under the next unused test name, the
held files numbered in a seed-drawn order, so that neither a new name nor the numbering shows a label.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airad.tasks.competition_views.base import Held, Source, ViewError, copy_member, link_file, link_tree
from airad.tasks.competitions.spec import Competition

CAT_OR_DOG = re.compile(r"(cat|dog)\.\d+\.jpg")
NUMBERED_JPG = re.compile(r"(\d+)\.jpg")
WHALE_TRAIN = re.compile(r"(.+_)TRAIN\d+_([01])\.aif")
WHALE_TEST = re.compile(r".+_Test(\d+)\.aif")


def to_test_names(
    held: list[str], rng: np.random.Generator, first: int, test_name: Callable[[str, int], str]
) -> list[tuple[str, str]]:
    """Each held file paired with its new test name, numbered from `first` in a seed-drawn order; the
    pairs come in the order of their new numbers."""
    return [(held[i], test_name(held[i], first + k)) for k, i in enumerate(rng.permutation(len(held)))]


def _whale_test_name(old: str, number: int) -> str:
    """`<date>_<time>_TRAIN<k>_<label>.aif` renamed `<date>_<time>_Test<number>.aif`."""
    match = WHALE_TRAIN.fullmatch(old)
    if match is None:
        raise ViewError(f"{old} is not a training clip's name (<date>_<time>_TRAIN<k>_<label>.aif)")
    return f"{match.group(1)}Test{number}.aif"


def next_number(names: Iterable[str], pattern: re.Pattern[str], start: int) -> int:
    """One past the largest number in the names that `pattern` matches (its group 1); `start` if none."""
    numbers = [int(m.group(1)) for m in map(pattern.fullmatch, names) if m]
    return max(numbers) + 1 if numbers else start


def dogs_vs_cats_split(competition: Competition, source: Source) -> DogsVsCatsSplit:
    """dogs-vs-cats-redux-kernels-edition: `train/` (cat.N.jpg, dog.N.jpg) and `test/` (1.jpg ... T.jpg)."""
    train, test = source.public / "train", source.public / "test"
    for folder in (train, test):
        if not folder.is_dir():
            raise ViewError(f"public/{folder.name}/ is missing (the view needs the images unzipped there)")
    if not any(CAT_OR_DOG.fullmatch(p.name) for p in train.iterdir()):
        raise ViewError("public/train/ holds no cat.N.jpg / dog.N.jpg images")
    return DogsVsCatsSplit(train, test, competition.id_column, competition.target_columns[0])


@dataclass(frozen=True)
class DogsVsCatsSplit:
    """Held images leave `train/` and join `test/` as `<T+1>.jpg`, `<T+2>.jpg`, ... (label 1 = dog).
    `train.zip` and `test.zip` are left out of the view: they would still hold the held images."""

    train: Path
    test: Path
    id_column: str
    label_column: str
    rewrites = ("train", "test")
    left_out = ()

    def units(self) -> list[str]:
        """The labelled training images' names."""
        return sorted(p.name for p in self.train.iterdir() if CAT_OR_DOG.fullmatch(p.name))

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Link the kept training images and every test image, and the held ones under new test names."""
        leaving = set(held)
        (public / "train").mkdir()
        (public / "test").mkdir()
        for entry in sorted(self.train.iterdir()):
            if entry.name not in leaving:
                link_tree(entry, public / "train" / entry.name)
        tests = sorted(p.name for p in self.test.iterdir())
        for name in tests:
            link_tree(self.test / name, public / "test" / name)
        moved = to_test_names(held, rng, next_number(tests, NUMBERED_JPG, 1), lambda _, n: f"{n}.jpg")
        for old, new in moved:
            link_file(self.train / old, public / "test" / new)
        return Held(
            pd.DataFrame(
                {
                    self.id_column: [new.removesuffix(".jpg") for _, new in moved],
                    self.label_column: [int(old.startswith("dog.")) for old, _ in moved],
                }
            )
        )


def whale_split(competition: Competition, source: Source) -> WhaleSplit:
    """the-icml-2013-whale-challenge-right-whale-redux: `train2.zip` (train2/<date>_<time>_TRAIN<k>_<0|1>.aif)
    and `test2.zip` (test2/<date>_<time>_Test<k>.aif)."""
    members = {}
    for name in ("train2.zip", "test2.zip"):
        path = source.public / name
        if not path.is_file():
            raise ViewError(f"public/{name} is missing")
        try:
            with zipfile.ZipFile(path) as archive:
                members[name] = tuple(info.filename for info in archive.infolist() if not info.is_dir())
        except zipfile.BadZipFile:
            raise ViewError(f"public/{name} is not a zip archive") from None
    if not any(WHALE_TRAIN.fullmatch(_base(m)) for m in members["train2.zip"]):
        raise ViewError("public/train2.zip holds no <date>_<time>_TRAIN<k>_<label>.aif clips")
    return WhaleSplit(
        source.public, members["train2.zip"], members["test2.zip"], competition.id_column, competition.target_columns[0]
    )


@dataclass(frozen=True)
class WhaleSplit:
    """Held clips leave `train2.zip` and join `test2.zip` as `<date>_<time>_Test<k>.aif`, k continuing
    the test numbering; both archives are rewritten member by member (stored, not compressed)."""

    public: Path
    train_members: tuple[str, ...]
    test_members: tuple[str, ...]
    id_column: str
    label_column: str
    rewrites = ("train2.zip", "test2.zip")
    left_out = ()

    def units(self) -> list[str]:
        """The labelled training clips' file names (without their folder)."""
        return sorted(_base(m) for m in self.train_members if WHALE_TRAIN.fullmatch(_base(m)))

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Write `train2.zip` without the held clips and `test2.zip` with them under new test names."""
        leaving = set(held)
        first = next_number(map(_base, self.test_members), WHALE_TEST, 0)
        moved = to_test_names(held, rng, first, _whale_test_name)
        test_folder = _folder(self.test_members[0]) if self.test_members else "test2/"
        with (
            zipfile.ZipFile(self.public / "train2.zip") as train,
            zipfile.ZipFile(self.public / "test2.zip") as test,
            zipfile.ZipFile(public / "train2.zip", "w", zipfile.ZIP_STORED) as new_train,
            zipfile.ZipFile(public / "test2.zip", "w", zipfile.ZIP_STORED) as new_test,
        ):
            held_members = {}
            for info in train.infolist():
                if _base(info.filename) in leaving and not info.is_dir():
                    held_members[_base(info.filename)] = info
                else:
                    copy_member(train, info, new_train, info.filename)
            for info in test.infolist():
                copy_member(test, info, new_test, info.filename)
            for old, new in moved:
                copy_member(train, held_members[old], new_test, test_folder + new)
        return Held(
            pd.DataFrame(
                {
                    self.id_column: [new for _, new in moved],
                    self.label_column: [int(WHALE_TRAIN.fullmatch(old).group(2)) for old, _ in moved],
                }
            )
        )


def _base(member: str) -> str:
    return member.rsplit("/", 1)[-1]


def _folder(member: str) -> str:
    return member[: len(member) - len(_base(member))]
