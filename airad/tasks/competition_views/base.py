"""A competition's view for one (seed, validation fraction): MLE-bench's public files with a seed-drawn
share of the labelled examples moved to the test side, and the answers the harness keeps for them.

A `Split` knows one layout of labelled examples (a table keyed by id, labels in file names, sentences of
tokens, ...). `write_view` does the rest the same way for every layout: it draws the held-out units,
links every public file the split does not rewrite, lets the split write the rest, adds the held ids to
the sample submission, and writes `private/answers.csv` with a `split` column (test / validation).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

ANSWERS = "answers.csv"
VIEW_FACTS = "view.json"


class ViewError(ValueError):
    """The competition's files do not allow a harness-owned validation split (the message says why)."""


@dataclass(frozen=True)
class Source:
    """A competition as MLE-bench's `prepare` step left it."""

    data_dir: Path
    answers_file: Path
    sample: str
    leaderboard: Path | None

    @property
    def public(self) -> Path:
        """The files a solution may read."""
        return self.data_dir / "public"


@dataclass
class Held:
    """What a split wrote for the held-out units: their answers in the answers file's columns (the
    id and every column the grader reads), and optionally their sample-submission rows (default: the
    answers' ids with the sample's first row's values)."""

    answers: pd.DataFrame
    sample: pd.DataFrame | None = None


class Split(Protocol):
    """One layout of labelled examples, and how to move some of them to the test side.

    `rewrites` are the paths (relative to `public/`, files or folders, possibly nested) that `write`
    produces in the view; every other public file is hard-linked as it is. `left_out` are paths that
    are neither linked nor written, because they would reveal held-out labels; the brief says so.
    """

    rewrites: tuple[str, ...]
    left_out: tuple[str, ...]

    def units(self) -> Sequence[str]:
        """The labelled examples that may be held out, in a fixed order (ids, file names, sentences...)."""
        ...

    def write(self, held: list[str], public: Path, rng: np.random.Generator) -> Held:
        """Write `rewrites` under the view's `public` with `held` moved to the test side, unlabelled."""
        ...


@dataclass(frozen=True)
class ViewFacts:
    """What the prepared view remembers about itself: its sample submission's name and what it left out."""

    sample: str
    left_out: tuple[str, ...] = field(default=())

    @classmethod
    def read(cls, root: Path) -> ViewFacts:
        path = root / "private" / VIEW_FACTS
        if not path.exists():
            return cls(sample="sample_submission.csv")
        data = json.loads(path.read_text())
        return cls(sample=data["sample"], left_out=tuple(data.get("left_out", ())))


def find_sample(public: Path) -> str | None:
    """The sample submission's name: `sample_submission.csv`, else the one `*sample*submission*.csv[.zip]`."""
    if (public / "sample_submission.csv").is_file():
        return "sample_submission.csv"
    names = sorted(
        p.name
        for p in public.iterdir()
        if p.is_file()
        and "samplesubmission" in p.name.lower().replace("_", "")
        and p.name.endswith((".csv", ".csv.zip"))
    )
    return names[0] if len(names) == 1 else None


def write_view(
    source: Source, split: Split, id_column: str, fraction: float, seed: int, root: Path, most: int | None = None
) -> None:
    """Build the view at `root` (atomically: a staging dir renamed into place; a racing builder's copy
    wins), holding out `fraction` of the labelled units, and at most `most` of them."""
    rng = np.random.default_rng(seed)
    units = split.units()
    if not units:
        raise ViewError("the public files hold no labelled examples to hold out")
    count = max(1, int(round(len(units) * fraction)))
    count = min(count, most) if most else count
    held = [units[i] for i in np.sort(rng.choice(len(units), size=count, replace=False))]

    staging = root.with_name(f"{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    shutil.rmtree(staging, ignore_errors=True)
    public = staging / "public"
    (staging / "private").mkdir(parents=True)
    skipped = {*split.rewrites, *split.left_out, source.sample}
    shadowed = _shadowed_archives(source.public, skipped)
    link_public(source.public, public, skipped | shadowed)
    result = split.write(held, public, rng)

    answers = result.answers.astype({id_column: str})
    sample = pd.read_csv(source.public / source.sample, dtype={id_column: str}, keep_default_na=False)
    extra = result.sample if result.sample is not None else _sample_rows(sample, answers, id_column)
    both = pd.concat([sample, extra[list(sample.columns)]], ignore_index=True)
    both.iloc[rng.permutation(len(both))].to_csv(public / source.sample, index=False)

    test = pd.read_csv(source.answers_file, dtype={id_column: str}, keep_default_na=False)
    pd.concat([test.assign(split="test"), answers.assign(split="validation")], ignore_index=True).to_csv(
        staging / "private" / ANSWERS, index=False
    )
    facts = {"sample": source.sample, "left_out": sorted({*split.left_out, *shadowed})}
    (staging / "private" / VIEW_FACTS).write_text(json.dumps(facts))
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (root / "private" / ANSWERS).exists():
            raise


def _sample_rows(sample: pd.DataFrame, answers: pd.DataFrame, id_column: str) -> pd.DataFrame:
    first = sample.iloc[0] if len(sample) else pd.Series(dtype=object)
    rows = pd.DataFrame({c: [first.get(c)] * len(answers) for c in sample.columns if c != id_column})
    rows.insert(list(sample.columns).index(id_column), id_column, answers[id_column].to_numpy())
    return rows


def _shadowed_archives(public: Path, skipped: set[str]) -> set[str]:
    """Top-level `X.zip` archives of an entry the view rewrites or leaves out (`train.zip` beside
    `train/` or `train.json`): left as they are they would still hold the held-out examples."""
    stems = {_stem(path.split("/")[0]) for path in skipped}
    return {
        p.name
        for p in public.iterdir()
        if p.name.endswith(".zip") and p.name not in skipped and _stem(p.name[: -len(".zip")]) in stems
    }


def _stem(name: str) -> str:
    return name.split(".")[0]


def link_public(source: Path, target: Path, skip: set[str], prefix: str = "") -> None:
    """Hard-link (else copy) `source` into `target`, leaving out the relative paths in `skip`; folders
    that hold a skipped path are made and descended into."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        relative = f"{prefix}{entry.name}"
        if relative in skip:
            continue
        if entry.is_dir() and any(s.startswith(relative + "/") for s in skip):
            link_public(entry, target / entry.name, skip, relative + "/")
        else:
            link_tree(entry, target / entry.name)


def link_tree(source: Path, target: Path) -> None:
    """Hard-link a file or a whole folder (copying where links are not possible)."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=link_file)
    else:
        link_file(source, target)


def link_file(source: str | Path, target: str | Path) -> None:
    """Hard-link one file, or copy it across filesystems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_member(source: zipfile.ZipFile, info: zipfile.ZipInfo, target: zipfile.ZipFile, name: str) -> None:
    """Stream one member of `source` into `target` as `name`, stored uncompressed."""
    out = zipfile.ZipInfo(name, date_time=info.date_time)
    out.external_attr = info.external_attr
    out.compress_type = zipfile.ZIP_STORED
    if info.is_dir():
        target.writestr(out, b"")
        return
    out.file_size = info.file_size
    with source.open(info) as reader, target.open(out, "w") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
