"""The mlsp-2013-birds view: held-out recordings join the test fold with their species hidden, and their
19 species rows are graded as the validation split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airad.schemas.request import MleBenchTask
from airad.tasks.competition_views import Source, ViewError, plan_view
from airad.tasks.competitions import competition
from airad.tasks.mlebench import PreparedCompetition, mlebench_task_problem, prepare_mlebench

COMPETITION = "mlsp-2013-birds"
RECORDINGS = 40
SPECIES = 19


def prepared_birds(root: Path) -> dict[int, list[int]]:
    """A tiny competition laid out as MLE-bench's prepare.py leaves it; returns every recording's species."""
    rng = np.random.default_rng(7)
    public, private = root / "public", root / "private"
    essential, supplemental = public / "essential_data", public / "supplemental_data"
    for folder in (private, essential / "src_wavs", *(supplemental / name for name in (
        "filtered_spectrograms", "segmentation_examples", "spectrograms", "supervised_segmentation"
    ))):
        folder.mkdir(parents=True)
    species = {
        r: sorted(rng.choice(SPECIES, size=rng.integers(0, 4), replace=False).tolist()) for r in range(RECORDINGS)
    }
    species[1] = [3, 11]  # at least one test recording has species, and every recording some feature
    test = set(range(1, RECORDINGS, 5))
    names = {r: f"PC{r % 13 + 1}_2009{r % 12 + 1:02d}06_0500{r:02d}_0010" for r in range(RECORDINGS)}

    pd.DataFrame({"rec_id": range(RECORDINGS), "fold": [int(r in test) for r in range(RECORDINGS)]}).to_csv(
        essential / "CVfolds_2.txt", index=False
    )
    pd.DataFrame({"rec_id": list(names), "filename": list(names.values())}).to_csv(
        essential / "rec_id2filename.txt", index=False
    )
    (essential / "species_list.txt").write_text(
        "class_id,code,species\n" + "".join(f"{s},SP{s:02d},Species {s}\n" for s in range(SPECIES))
    )
    lines = ["rec_id,[labels]"]
    for r in range(RECORDINGS):
        shown = "?" if r in test else ",".join(map(str, species[r]))
        lines.append(f"{r},{shown}" if shown else f"{r}")
    (essential / "rec_labels_test_hidden.txt").write_text("\n".join(lines) + "\n")
    for r, name in names.items():
        (essential / "src_wavs" / f"{name}.wav").write_bytes(b"RIFF" + bytes([r]) * 16)
        for folder in ("filtered_spectrograms", "spectrograms", "supervised_segmentation"):
            (supplemental / folder / f"{name}.bmp").write_bytes(b"BM" + bytes([r]) * 8)
        if r % 7 == 0:
            (supplemental / "segmentation_examples" / f"{name}.bmp").write_bytes(b"BM" + bytes([r]))
    (supplemental / "segment_clusters.bmp").write_bytes(b"BMclusters")
    (supplemental / "segment_mosaic.bmp").write_bytes(b"BMmosaic")
    header = "rec_id,[histogram of segment features]\n"
    (supplemental / "histogram_of_segments.txt").write_text(
        header + "".join(f"{r},{0.5:.6f},{0.25:.6f},{0.25:.6f}\n" for r in range(RECORDINGS))
    )
    features = "".join(f"{r},0,0.9,0.{r}\n" for r in range(RECORDINGS))
    (supplemental / "segment_features.txt").write_text(header + features)
    rectangles = "".join(f"{r},0,1,2,3,4\n" for r in range(RECORDINGS))
    (supplemental / "segment_rectangles.txt").write_text(header + rectangles)

    ordered_test = sorted(test)
    pd.DataFrame({"Id": [r * 100 + s for r in ordered_test for s in range(SPECIES)], "Probability": 0}).to_csv(
        public / "sample_submission.csv", index=False
    )
    pd.DataFrame({
        "Id": [r * 100 + s for r in ordered_test for s in range(SPECIES)],
        "Probability": [int(s in species[r]) for r in ordered_test for s in range(SPECIES)],
    }).to_csv(private / "answers.csv", index=False)
    return species


def source(root: Path) -> Source:
    return Source(root, root / "private" / "answers.csv", "sample_submission.csv", None)


def spec(root: Path, fraction: float = 0.25) -> MleBenchTask:
    return MleBenchTask(competition=COMPETITION, data_dir=str(root), validation_fraction=fraction)


def prepare(root: Path, seed: int, tasks: Path) -> PreparedCompetition:
    return prepare_mlebench(spec(root), seed=seed, tasks_root=tasks)


def build_view(root: Path, seed: int, tasks: Path) -> Path:
    return prepare(root, seed, tasks).root


def answers_of(view: Path) -> pd.DataFrame:
    return pd.read_csv(view / "private" / "answers.csv")


def held_recordings(view: Path) -> list[int]:
    validation = answers_of(view).query("split == 'validation'")
    return sorted({int(i) // 100 for i in validation["Id"]})


def folds_of(view: Path) -> dict[int, int]:
    frame = pd.read_csv(view / "public" / "essential_data" / "CVfolds_2.txt")
    return dict(zip(frame["rec_id"], frame["fold"], strict=True))


@pytest.fixture
def birds(tmp_path):
    root = tmp_path / COMPETITION / "prepared"
    return root, prepared_birds(root)


def test_held_recordings_join_the_test_fold_and_no_public_file_shows_their_species(birds, tmp_path):
    root, species = birds
    original = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    view = build_view(root, seed=0, tasks=tmp_path / "tasks")
    held = held_recordings(view)
    public = view / "public"

    test = {r for r, fold in folds_of(root).items() if fold == 1}
    assert len(held) == 8 and not set(held) & test
    assert {r for r, fold in folds_of(view).items() if fold == 1} == test | set(held)
    label_lines = (public / "essential_data" / "rec_labels_test_hidden.txt").read_text().splitlines()
    assert label_lines[0] == "rec_id,[labels]" and len(label_lines) == RECORDINGS + 1
    for r in held:
        assert f"{r},?" in label_lines
    shown_lines = {p: b"\n" + p.read_bytes() for p in public.rglob("*") if p.is_file()}
    for r in held:
        revealed = f"\n{r},{','.join(map(str, species[r]))}\n" if species[r] else f"\n{r}\n"
        assert not [p for p, text in shown_lines.items() if revealed.encode() in text]

    sample = pd.read_csv(public / "sample_submission.csv")
    assert sorted(sample["Id"]) == sorted(answers_of(view)["Id"]) and (sample["Probability"] == 0).all()
    names = pd.read_csv(public / "essential_data" / "rec_id2filename.txt").set_index("rec_id")["filename"]
    for r in held:
        assert (public / "essential_data" / "src_wavs" / f"{names[r]}.wav").is_file()
        assert (public / "supplemental_data" / "spectrograms" / f"{names[r]}.bmp").is_file()
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()} == original


def test_validation_answers_are_the_held_recordings_species(birds, tmp_path):
    root, species = birds
    view = build_view(root, seed=1, tasks=tmp_path / "tasks")
    answers = answers_of(view)
    validation = answers[answers["split"] == "validation"]
    assert len(validation) == 8 * SPECIES
    for rec_id, probability in zip(validation["Id"], validation["Probability"], strict=True):
        assert probability == int(rec_id % 100 in species[rec_id // 100])
    test = answers[answers["split"] == "test"].drop(columns="split")
    pd.testing.assert_frame_equal(test.reset_index(drop=True), pd.read_csv(root / "private" / "answers.csv"))


def test_a_perfect_submission_scores_one_on_both_splits_and_a_wrong_one_scores_worse(birds, tmp_path):
    root, _ = birds
    task = prepare(root, seed=2, tasks=tmp_path / "tasks")
    perfect = answers_of(task.root)[["Id", "Probability"]].astype({"Probability": float})
    grades = task.grade(perfect.to_csv(index=False).encode())
    assert grades.metric == "roc_auc" and grades.validation.valid and grades.test.valid
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(1.0)
    wrong = task.grade(perfect.assign(Probability=1.0 - perfect["Probability"]).to_csv(index=False).encode())
    assert wrong.validation.score < 0.5 and wrong.test.score < 0.5
    sample = (task.public_dir / "sample_submission.csv").read_bytes()
    assert task.grade(sample).validation.score == pytest.approx(0.5)


def test_the_split_depends_on_the_seed_and_repeats_for_the_same_seed(birds, tmp_path):
    root, _ = birds
    first = held_recordings(build_view(root, seed=5, tasks=tmp_path / "a"))
    again = held_recordings(build_view(root, seed=5, tasks=tmp_path / "b"))
    other = held_recordings(build_view(root, seed=6, tasks=tmp_path / "c"))
    assert first == again and first != other


@pytest.mark.parametrize("mangle, message", [
    (lambda e: (e / "CVfolds_2.txt").unlink(), "CVfolds_2.txt is missing"),
    (lambda e: (e / "rec_labels_test_hidden.txt").unlink(), "rec_labels_test_hidden.txt is missing"),
    (lambda e: (e / "CVfolds_2.txt").write_text("rec_id,split\n0,0\n"), "rec_id and fold"),
    (lambda e: (e / "rec_labels_test_hidden.txt").write_text("id,labels\n0,1\n"), "header rec_id"),
    (lambda e: (e / "rec_labels_test_hidden.txt").write_text("rec_id,[labels]\n0,bird\n"), "'0,bird'"),
])
def test_files_that_do_not_fit_the_layout_name_what_is_wrong(birds, mangle, message):
    root, _ = birds
    assert mlebench_task_problem(spec(root)) is None
    mangle(root / "public" / "essential_data")
    with pytest.raises(ViewError, match=message):
        plan_view(competition(COMPETITION), source(root))
    field, reason = mlebench_task_problem(spec(root))
    assert field == "$.task.competition" and message.strip("'") in reason
