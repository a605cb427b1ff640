"""Text normalization (English, Russian): sentences of tokens, each token's normalised form in `after`.

MLE-bench leaves three zipped CSVs in `public/`, each holding one CSV of the same name:
`<lang>_train.csv.zip` (sentence_id, token_id, class, before, after), `<lang>_test_2.csv.zip`
(sentence_id, token_id, before) and the sample submission `<lang>_sample_submission_2.csv.zip`
(id = `<sentence_id>_<token_id>`, after = before). The held-out unit is a whole training sentence: it
leaves the training file (whose sentences are renumbered 0, 1, ... as MLE-bench numbers them) and joins
the test file without `class` and `after`, under a new sentence id after the test's largest (the held
sentences take them in a seed-drawn order). Its answers are `id` and `after`; its sample rows copy
`before` into `after`, as MLE-bench's sample does. The files are written as MLE-bench writes them
(strings quoted, numbers not) and read as text, so tokens such as "NA", "null", "" or "1,000" stay as
they are.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from airad.tasks.competition_views.base import Held, Source, ViewError
from airad.tasks.competitions.spec import Competition

LANGUAGES = {
    "text-normalization-challenge-english-language": "en",
    "text-normalization-challenge-russian-language": "ru",
}
TRAIN_COLUMNS = ("sentence_id", "token_id", "class", "before", "after")
TEST_COLUMNS = ("sentence_id", "token_id", "before")
TEXT_COLUMNS = ("class", "before", "after")


def read_tokens(path: Path) -> pd.DataFrame:
    """A zipped token table with its text columns read verbatim (no "NA" or empty field becomes NaN)."""
    return pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False)


def write_tokens(frame: pd.DataFrame, path: Path) -> None:
    """Write a token table as MLE-bench does: a zip holding one CSV named like it, strings quoted."""
    archive = path.name.removesuffix(".zip")
    frame.to_csv(
        path, index=False, quoting=csv.QUOTE_NONNUMERIC, compression={"method": "zip", "archive_name": archive}
    )


@dataclass(frozen=True)
class SentenceSplit:
    """Training sentences that move, unlabelled and renumbered, to the test file."""

    public: Path
    train_file: str
    test_file: str
    id_column: str
    target_column: str

    @property
    def rewrites(self) -> tuple[str, ...]:
        """The training and test zips."""
        return (self.train_file, self.test_file)

    @property
    def left_out(self) -> tuple[str, ...]:
        """Nothing: no other public file holds normalised tokens."""
        return ()

    @cached_property
    def train(self) -> pd.DataFrame:
        """The public training tokens."""
        return read_tokens(self.public / self.train_file)

    def units(self) -> list[str]:
        """The training sentences' ids, in file order."""
        return [str(sentence) for sentence in self.train["sentence_id"].unique()]

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Write both zips with the held sentences on the test side; answer each of their tokens."""
        train = self.train
        is_held = train["sentence_id"].isin({int(sentence) for sentence in held})
        kept = train[~is_held].copy()
        kept["sentence_id"] = pd.factorize(kept["sentence_id"])[0]
        write_tokens(kept, public / self.train_file)

        test = read_tokens(self.public / self.test_file)
        moved = train[is_held]
        order = rng.permutation(moved["sentence_id"].unique())
        first = int(test["sentence_id"].max()) + 1 if len(test) else 0
        new_ids = {int(old): first + i for i, old in enumerate(order)}
        moved = moved.assign(sentence_id=moved["sentence_id"].map(new_ids)).sort_values(
            ["sentence_id", "token_id"], kind="stable"
        )
        write_tokens(pd.concat([test, moved[list(TEST_COLUMNS)]], ignore_index=True), public / self.test_file)

        ids = moved["sentence_id"].astype(str) + "_" + moved["token_id"].astype(str)
        answers = pd.DataFrame({self.id_column: ids.to_numpy(), self.target_column: moved["after"].to_numpy()})
        sample = pd.DataFrame({self.id_column: ids.to_numpy(), self.target_column: moved["before"].to_numpy()})
        return Held(answers=answers, sample=sample)


def text_normalization_split(competition: Competition, source: Source) -> SentenceSplit:
    """The split for MLE-bench's text normalization layout; `ViewError` naming a missing file or column."""
    language = LANGUAGES.get(competition.id)
    if language is None:
        raise ViewError(f"{competition.id} is not a text normalization competition")
    train_file, test_file = f"{language}_train.csv.zip", f"{language}_test_2.csv.zip"
    for name, columns in ((train_file, TRAIN_COLUMNS), (test_file, TEST_COLUMNS)):
        path = source.public / name
        if not path.is_file():
            raise ViewError(f"public/{name} is missing")
        try:
            header = list(pd.read_csv(path, nrows=0).columns)
        except (ValueError, OSError) as exc:
            raise ViewError(f"public/{name} is not a zipped CSV ({exc})") from None
        missing = [c for c in columns if c not in header]
        if missing:
            raise ViewError(f"public/{name} lacks the columns {missing} (has {header})")
    return SentenceSplit(
        public=source.public,
        train_file=train_file,
        test_file=test_file,
        id_column=competition.id_column,
        target_column=competition.target_columns[0],
    )
