"""Denoising Dirty Documents' validation view: held training images join `test/`, their clean scans
leave the public files, and their answers are the clean scans' pixels, graded like the test images."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from airad.schemas.request import MleBenchTask
from airad.tasks.competition_views import Source, ViewError, plan_view
from airad.tasks.competition_views.pixels import pixel_answers
from airad.tasks.competitions import competition
from airad.tasks.mlebench import PreparedCompetition, prepare_mlebench

COMPETITION = "denoising-dirty-documents"
TRAIN_NAMES = [2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23]
TEST_NAMES = [4, 7, 10, 13]


def reference_answers(path: Path) -> pd.DataFrame:
    """MLE-bench's answers for one clean scan, pixel by pixel."""
    image = Image.open(path).convert("L")
    width, height = image.size
    rows = [
        (f"{path.stem}_{y + 1}_{x + 1}", image.getpixel((x, y)) / 255.0) for y in range(height) for x in range(width)
    ]
    return pd.DataFrame(rows, columns=["id", "value"])


def save_png(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def prepared_denoising(root: Path) -> Path:
    """A tiny competition laid out as MLE-bench's prepare.py leaves it."""
    rng = np.random.default_rng(0)
    public, private = root / "public", root / "private"
    for number in TRAIN_NAMES + TEST_NAMES:
        height, width = rng.integers(3, 6), rng.integers(4, 8)
        clean = rng.integers(0, 256, size=(height, width))
        noisy = np.clip(clean + rng.integers(-60, 60, size=clean.shape), 0, 255)
        folder = "train" if number in TRAIN_NAMES else "test"
        save_png(noisy, public / folder / f"{number}.png")
        clean_dir = public / "train_cleaned" if number in TRAIN_NAMES else private / "train_cleaned"
        save_png(clean, clean_dir / f"{number}.png")
    answers = pd.concat([reference_answers(p) for p in sorted((private / "train_cleaned").glob("*.png"))])
    for path in (private / "train_cleaned").glob("*.png"):
        path.unlink()
    (private / "train_cleaned").rmdir()
    answers.to_csv(private / "answers.csv", index=False)
    answers.assign(value=1).to_csv(public / "sampleSubmission.csv", index=False)
    pd.DataFrame({"teamName": ["a", "b"], "score": [0.02, 0.2]}).to_csv(root / "leaderboard.csv", index=False)
    return root


@pytest.fixture
def data_dir(tmp_path):
    return prepared_denoising(tmp_path / COMPETITION / "prepared")


def build(data_dir: Path, seed: int, tasks_root: Path, fraction: float = 0.2) -> PreparedCompetition:
    spec = MleBenchTask(competition=COMPETITION, data_dir=str(data_dir), validation_fraction=fraction)
    return prepare_mlebench(spec, seed=seed, tasks_root=tasks_root)


def answers_of(view: PreparedCompetition) -> pd.DataFrame:
    return pd.read_csv(view.root / "private" / "answers.csv", dtype={"id": str}, float_precision="round_trip")


def held_names(view: PreparedCompetition) -> set[str]:
    answers = answers_of(view)
    validation = answers[answers["split"] == "validation"]
    return {f"{i.split('_')[0]}.png" for i in validation["id"]}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_held_images_move_to_test_and_their_clean_scans_leave_the_public_files(data_dir, tmp_path):
    view = build(data_dir, seed=1, tasks_root=tmp_path / "tasks")
    held = held_names(view)
    public, original = view.public_dir, data_dir / "public"
    assert len(held) == 3
    assert {p.name for p in (public / "train").iterdir()} == {f"{n}.png" for n in TRAIN_NAMES} - held
    assert {p.name for p in (public / "train_cleaned").iterdir()} == {f"{n}.png" for n in TRAIN_NAMES} - held
    assert {p.name for p in (public / "test").iterdir()} == {f"{n}.png" for n in TEST_NAMES} | held
    for name in held:
        assert digest(public / "test" / name) == digest(original / "train" / name)

    clean_digests = {digest(original / "train_cleaned" / name) for name in held}
    public_files = [p for p in public.rglob("*") if p.is_file()]
    assert not clean_digests & {digest(p) for p in public_files}
    sample = pd.read_csv(public / "sampleSubmission.csv", dtype={"id": str})
    assert (sample["value"] == 1).all()
    assert set(sample["id"]) == set(answers_of(view)["id"])
    assert sorted(p.name for p in public.iterdir()) == ["sampleSubmission.csv", "test", "train", "train_cleaned"]


def test_validation_answers_are_the_held_clean_pixels(data_dir, tmp_path):
    view = build(data_dir, seed=5, tasks_root=tmp_path / "tasks")
    held = sorted(held_names(view))
    answers = answers_of(view)
    validation = answers[answers["split"] == "validation"].drop(columns="split")
    truth = pd.concat([reference_answers(data_dir / "public" / "train_cleaned" / n) for n in held])
    assert validation.sort_values("id").to_numpy().tolist() == truth.sort_values("id").to_numpy().tolist()
    test = answers[answers["split"] == "test"].drop(columns="split").reset_index(drop=True)
    original = pd.read_csv(data_dir / "private" / "answers.csv", dtype={"id": str}, float_precision="round_trip")
    pd.testing.assert_frame_equal(test, original)


def test_pixel_answers_are_row_major_grayscale_like_mlebench(tmp_path):
    path = tmp_path / "42.png"
    colours = np.random.default_rng(3).integers(0, 256, size=(3, 5, 3)).astype(np.uint8)
    Image.fromarray(colours).save(path)
    answers = pixel_answers(path, "id", "value")
    pd.testing.assert_frame_equal(answers, reference_answers(path))
    assert list(answers["id"][:6]) == ["42_1_1", "42_1_2", "42_1_3", "42_1_4", "42_1_5", "42_2_1"]


def test_a_perfect_submission_grades_perfectly_on_both_splits(data_dir, tmp_path):
    view = build(data_dir, seed=0, tasks_root=tmp_path / "tasks")
    perfect = answers_of(view)[["id", "value"]]
    grades = view.grade(perfect.to_csv(index=False).encode())
    assert grades.metric == "rmse" and grades.lower_is_better
    assert grades.validation.score == pytest.approx(0.0) and grades.test.score == pytest.approx(0.0)
    wrong = view.grade(perfect.assign(value=1.0 - perfect["value"]).to_csv(index=False).encode())
    assert wrong.validation.valid and wrong.validation.score > 0.2 and wrong.test.score > 0.2


def test_the_held_images_depend_on_the_seed_and_repeat_for_the_same_seed(data_dir, tmp_path):
    first = held_names(build(data_dir, seed=1, tasks_root=tmp_path / "a"))
    again = held_names(build(data_dir, seed=1, tasks_root=tmp_path / "b"))
    others = [held_names(build(data_dir, seed=s, tasks_root=tmp_path / "c")) for s in (2, 3)]
    assert first == again and any(first != other for other in others)
    assert len(held_names(build(data_dir, seed=1, tasks_root=tmp_path / "d", fraction=0.4))) == 6


def source_of(data_dir: Path) -> Source:
    return Source(data_dir, data_dir / "private" / "answers.csv", "sampleSubmission.csv", None)


def drop_clean_folder(public: Path) -> None:
    shutil.rmtree(public / "train_cleaned")


def rename_test_folder(public: Path) -> None:
    (public / "test").rename(public / "tests")


def rename_clean_scans(public: Path) -> None:
    for path in (public / "train_cleaned").glob("*.png"):
        path.rename(path.with_name(f"clean-{path.name}"))


def name_a_training_image_like_a_test_image(public: Path) -> None:
    for folder in ("train", "train_cleaned"):
        (public / folder / "3.png").rename(public / folder / "4.png")


@pytest.mark.parametrize("mangle, message", [
    (drop_clean_folder, "public/train_cleaned/ is missing"),
    (rename_test_folder, "public/test/ is missing"),
    (rename_clean_scans, "no png in public/train/ has a clean version"),
    (name_a_training_image_like_a_test_image, "share image names (4.png)"),
])
def test_files_that_do_not_fit_the_layout_are_refused(data_dir, mangle, message):
    mangle(data_dir / "public")
    with pytest.raises(ViewError, match=re.escape(message)):
        plan_view(competition(COMPETITION), source_of(data_dir))


def test_at_most_six_pages_are_held_out_whatever_the_fraction(data_dir, tmp_path):
    task = build(data_dir, seed=0, tasks_root=tmp_path / "tasks", fraction=0.8)
    assert len(held_names(task)) == 6, "a page is ~200,000 answer rows: the submission must stay under the output limit"
