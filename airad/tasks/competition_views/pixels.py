"""Denoising Dirty Documents: noisy scans in `train/`, their clean versions under the same names in
`train_cleaned/`, noisy test scans in `test/`; one answer per pixel of a test image's clean version.

A held-out unit is a training image: its noisy scan joins `test/` under its own name, its clean scan
leaves `train_cleaned/`, and its answers are the clean scan's pixels, graded like the test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airad.tasks.competition_views.base import Held, Source, ViewError, link_file, link_tree
from airad.tasks.competitions.spec import Competition

TRAIN = "train"
CLEANED = "train_cleaned"
TEST = "test"


@dataclass(frozen=True)
class DenoisingSplit:
    """Holds out training images: `names` are the png files found in both `train/` and `train_cleaned/`."""

    source: Path
    names: tuple[str, ...]
    id_column: str
    value_column: str
    rewrites: tuple[str, ...] = (TRAIN, CLEANED, TEST)
    left_out: tuple[str, ...] = ()

    def units(self) -> list[str]:
        """The training images' file names, sorted."""
        return list(self.names)

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Move the held noisy scans to `test/`, drop their clean scans, and answer their pixels."""
        moved = set(held)
        link_folder(self.source / TRAIN, public / TRAIN, moved)
        link_folder(self.source / CLEANED, public / CLEANED, moved)
        link_folder(self.source / TEST, public / TEST, set())
        for name in held:
            link_file(self.source / TRAIN / name, public / TEST / name)
        answers = [pixel_answers(self.source / CLEANED / name, self.id_column, self.value_column) for name in held]
        return Held(answers=pd.concat(answers, ignore_index=True))


def denoising_split(competition: Competition, source: Source) -> DenoisingSplit:
    """The split for Denoising Dirty Documents' folders; `ViewError` naming a missing folder, no image
    pairs, or a training image whose name a test image already has."""
    public = source.public
    for folder in (TRAIN, CLEANED, TEST):
        if not (public / folder).is_dir():
            raise ViewError(f"public/{folder}/ is missing")
    if not competition.target_columns:
        raise ViewError(f"{competition.id} names no answer column")
    noisy = {p.name for p in (public / TRAIN).glob("*.png")}
    clean = {p.name for p in (public / CLEANED).glob("*.png")}
    names = sorted(noisy & clean)
    if not names:
        raise ViewError(f"no png in public/{TRAIN}/ has a clean version of the same name in public/{CLEANED}/")
    test_stems = {p.stem for p in (public / TEST).glob("*.png")}
    clashes = sorted(name for name in names if Path(name).stem in test_stems)
    if clashes:
        raise ViewError(f"public/{TRAIN}/ and public/{TEST}/ share image names ({', '.join(clashes[:5])})")
    return DenoisingSplit(public, tuple(names), competition.id_column, competition.target_columns[0])


def pixel_answers(path: Path, id_column: str, value_column: str) -> pd.DataFrame:
    """One row per pixel of a clean scan, row-major: id `<stem>_<row>_<col>` (1-based) and its
    grayscale intensity / 255, as MLE-bench computes the test answers."""
    from PIL import Image

    with Image.open(path) as image:
        intensity = np.array(image.convert("L")) / 255.0
    rows, cols = intensity.shape
    row_labels = np.strings.add(f"{path.stem}_", np.strings.add(np.arange(1, rows + 1).astype(str), "_"))
    ids = np.strings.add(row_labels[:, None], np.arange(1, cols + 1).astype(str)[None, :])
    return pd.DataFrame({id_column: ids.ravel(), value_column: intensity.ravel()})


def link_folder(source: Path, target: Path, skip: set[str]) -> None:
    """Hard-link a folder's entries into `target`, except the names in `skip`."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.name not in skip:
            link_tree(entry, target / entry.name)
