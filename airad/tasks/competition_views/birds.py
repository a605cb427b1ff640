"""MLSP 2013 Birds: recordings keyed by `rec_id`, their species in `essential_data/rec_labels_test_hidden.txt`.

MLE-bench leaves every recording's inputs (wavs, spectrograms, segment features) in the public files,
keyed by `rec_id`; a recording is on the test side when `CVfolds_2.txt` gives it fold 1 and its label
line reads `rec_id,?`. Holding a labelled recording out therefore rewrites only those two files: its fold
becomes 1 and its species become `?`. Its answers are one row per species, `Id = rec_id * 100 + species`,
`Probability` 1 where the species is present. No supplemental file carries species labels, so nothing is
left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airad.tasks.competition_views.base import Held, Source, ViewError
from airad.tasks.competitions.spec import Competition

FOLDS = "essential_data/CVfolds_2.txt"
LABELS = "essential_data/rec_labels_test_hidden.txt"
SPECIES = 19
HIDDEN = "?"


@dataclass(frozen=True)
class BirdsSplit:
    """Labelled recordings (fold 0, species listed) that move to the test side (fold 1, species `?`)."""

    id_column: str
    target_column: str
    folds: pd.DataFrame
    labels_header: str
    labels: dict[int, list[str]]
    rewrites: tuple[str, ...] = (FOLDS, LABELS)
    left_out: tuple[str, ...] = ()

    def units(self) -> list[str]:
        """The training recordings' ids, in `CVfolds_2.txt` order."""
        training = self.folds.loc[self.folds["fold"] == 0, "rec_id"]
        return [str(rec_id) for rec_id in training if self.labels.get(rec_id, [HIDDEN]) != [HIDDEN]]

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Write both files with the held recordings on the test side; answer 19 rows for each."""
        held_ids = {int(rec_id) for rec_id in held}
        folds = self.folds.copy()
        folds.loc[folds["rec_id"].isin(held_ids), "fold"] = 1
        folds.to_csv(public / FOLDS, index=False)
        lines = [self.labels_header]
        for rec_id, species in self.labels.items():
            shown = [HIDDEN] if rec_id in held_ids else species
            lines.append(",".join([str(rec_id), *shown]))
        (public / LABELS).write_text("\n".join(lines) + "\n")

        ids, present = [], []
        for rec_id in sorted(held_ids):
            heard = {int(s) for s in self.labels[rec_id]}
            ids += [rec_id * 100 + s for s in range(SPECIES)]
            present += [int(s in heard) for s in range(SPECIES)]
        answers = pd.DataFrame({self.id_column: ids, self.target_column: present})
        return Held(answers=answers, sample=answers.assign(**{self.target_column: 0}))


def birds_split(competition: Competition, source: Source) -> BirdsSplit:
    """The split for MLE-bench's mlsp-2013-birds layout; `ViewError` naming a missing file or column."""
    public = source.public
    for path in (FOLDS, LABELS):
        if not (public / path).is_file():
            raise ViewError(f"public/{path} is missing")
    folds = pd.read_csv(public / FOLDS)
    if not {"rec_id", "fold"} <= set(folds.columns):
        raise ViewError(f"public/{FOLDS} lacks the columns rec_id and fold (has {list(folds.columns)})")
    header, labels = _read_labels(public / LABELS)
    return BirdsSplit(
        id_column=competition.id_column,
        target_column=competition.target_columns[0],
        folds=folds[["rec_id", "fold"]],
        labels_header=header,
        labels=labels,
    )


def _read_labels(path: Path) -> tuple[str, dict[int, list[str]]]:
    """The header and `rec_id -> species` (`["?"]` for test recordings, `[]` for none) of the labels file."""
    header, *rows = path.read_text().splitlines()
    if not header.startswith("rec_id"):
        raise ViewError(f"public/{LABELS} does not start with the header rec_id,[labels]")
    labels: dict[int, list[str]] = {}
    for row in filter(None, rows):
        rec_id, *species = row.split(",")
        if not rec_id.strip().isdigit() or any(s != HIDDEN and not _is_species(s) for s in species):
            raise ViewError(f"public/{LABELS} has a line that is not rec_id,species...: {row!r}")
        labels[int(rec_id)] = species
    return header, labels


def _is_species(text: str) -> bool:
    return text.strip().isdigit() and int(text) < SPECIES
