"""Views of competitions whose labels are in the training files' names: dogs-vs-cats (cat.N.jpg / dog.N.jpg
in folders) and the right-whale clips (..._TRAIN<k>_<label>.aif inside zips)."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from airad.schemas.request import MleBenchTask
from airad.tasks.mlebench import mlebench_task_problem, prepare_mlebench

DOGS = "dogs-vs-cats-redux-kernels-edition"
WHALE = "the-icml-2013-whale-challenge-right-whale-redux"


def dogs_vs_cats(root: Path, n_train: int = 30, n_test: int = 8) -> Path:
    """dogs-vs-cats as MLE-bench prepares it: train/ and test/ beside their zips, answers id -> 1 = dog.
    Each image's bytes are unique (`image-<k>`), so a moved image can be traced to its original."""
    public, private = root / "public", root / "private"
    for folder in (public / "train", public / "test", private):
        folder.mkdir(parents=True)
    counts = {"cat": 0, "dog": 0}
    for k in range(n_train):
        kind = "dog" if k % 3 == 0 else "cat"
        (public / "train" / f"{kind}.{counts[kind]}.jpg").write_bytes(b"image-%d" % k)
        counts[kind] += 1
    labels = [i % 2 for i in range(1, n_test + 1)]
    for i in range(1, n_test + 1):
        (public / "test" / f"{i}.jpg").write_bytes(b"image-%d" % (1000 + i))
    for folder in ("train", "test"):
        with zipfile.ZipFile(public / f"{folder}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((public / folder).iterdir()):
                archive.write(path, arcname=path.name)
    ids = list(range(1, n_test + 1))
    pd.DataFrame({"id": ids, "label": labels}).to_csv(private / "answers.csv", index=False)
    pd.DataFrame({"id": ids, "label": 0.5}).to_csv(public / "sample_submission.csv", index=False)
    return root


def whale_clip(k: int) -> str:
    day, second = (28 + k // 20), k % 20
    return f"200903{day:02d}_000000_{second:03d}s0ms"


def right_whale(root: Path, n_train: int = 40, n_test: int = 10) -> Path:
    """The right-whale challenge as MLE-bench prepares it: public/ holds only train2.zip and test2.zip
    (made by shutil.make_archive, so with their folder entries) and sampleSubmission.csv; answers in test.csv."""
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    train_labels = [int(k % 4 == 0) for k in range(n_train)]
    test_labels = [int(k % 3 == 0) for k in range(n_test)]
    test_names = [f"{whale_clip(n_train + k)}_Test{k}.aif" for k in range(n_test)]
    with zipfile.ZipFile(public / "train2.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train2/", b"")
        for k, label in enumerate(train_labels):
            archive.writestr(f"train2/{whale_clip(k)}_TRAIN{k}_{label}.aif", b"FORM-clip-%d" % k)
    with zipfile.ZipFile(public / "test2.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("test2/", b"")
        for k, name in enumerate(test_names):
            archive.writestr(f"test2/{name}", b"FORM-clip-%d" % (n_train + k))
    pd.DataFrame({"clip": test_names, "probability": test_labels}).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"clip": test_names, "probability": 0}).to_csv(public / "sampleSubmission.csv", index=False)
    return root


def prepare(data_dir: Path, competition: str, tmp_path: Path, seed: int = 0, fraction: float = 0.25):
    task = MleBenchTask(competition=competition, data_dir=str(data_dir), validation_fraction=fraction)
    return prepare_mlebench(task, seed=seed, tasks_root=tmp_path / "tasks")


def answers_of(task) -> pd.DataFrame:
    return pd.read_csv(task.root / "private" / "answers.csv", dtype=str)


def validation_of(task) -> pd.DataFrame:
    answers = answers_of(task)
    return answers[answers["split"] == "validation"]


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def public_bytes(public: Path) -> list[tuple[str, bytes]]:
    """Every public file's path and bytes, zip members included."""
    found = []
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        found.append((str(path.relative_to(public)), path.read_bytes()))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found += [(f"{path.name}:{n}", archive.read(n)) for n in archive.namelist()]
    return found


@pytest.fixture
def dogs(tmp_path):
    return dogs_vs_cats(tmp_path / DOGS / "prepared")


@pytest.fixture
def whale(tmp_path):
    return right_whale(tmp_path / WHALE / "prepared")


def test_held_images_leave_train_and_join_test_under_new_ids(dogs, tmp_path):
    task = prepare(dogs, DOGS, tmp_path, seed=3)
    public = task.public_dir
    validation = validation_of(task)
    held = sorted(names(dogs / "public" / "train") - names(public / "train"))
    assert len(held) == len(validation) == 8 == round(30 * 0.25)
    assert sorted(validation["id"].astype(int)) == list(range(9, 17))
    assert sorted(p.name for p in (public / "test").iterdir()) == sorted(f"{i}.jpg" for i in range(1, 17))
    assert not (public / "train.zip").exists() and not (public / "test.zip").exists()
    assert set(task.facts.left_out) == {"train.zip", "test.zip"}
    sample = pd.read_csv(public / "sample_submission.csv")
    assert sorted(sample["id"]) == list(range(1, 17)) and (sample["label"] == 0.5).all()
    originals = {(dogs / "public" / "train" / name).read_bytes(): name for name in held}
    for row in validation.itertuples():
        original = originals.pop((public / "test" / f"{row.id}.jpg").read_bytes())
        assert row.label == str(int(original.startswith("dog.")))
    assert not originals


def test_no_public_file_of_the_dogs_view_names_a_held_image(dogs, tmp_path):
    task = prepare(dogs, DOGS, tmp_path, seed=1)
    held = names(dogs / "public" / "train") - names(task.public_dir / "train")
    assert held
    for path, content in public_bytes(task.public_dir):
        assert not re.search(rb"cat|dog", content), path
        assert Path(path).name not in held
        if path.startswith("test/"):
            assert re.fullmatch(r"test/\d+\.jpg", path)


def test_held_clips_move_from_train2_zip_to_test2_zip_under_test_names(whale, tmp_path):
    task = prepare(whale, WHALE, tmp_path, seed=5)
    public = task.public_dir
    assert sorted(p.name for p in public.iterdir()) == ["sampleSubmission.csv", "test2.zip", "train2.zip"]
    with zipfile.ZipFile(whale / "public" / "train2.zip") as archive:
        originals = {archive.read(n): n.split("/")[-1] for n in archive.namelist() if n.endswith(".aif")}
    with zipfile.ZipFile(public / "train2.zip") as train, zipfile.ZipFile(public / "test2.zip") as test:
        assert train.namelist()[0] == "train2/" and test.namelist()[0] == "test2/"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in train.infolist() + test.infolist())
        kept = {n.split("/")[-1] for n in train.namelist() if n.endswith(".aif")}
        tests = {n.split("/")[-1]: test.read(n) for n in test.namelist() if n.endswith(".aif")}
    validation = validation_of(task)
    assert len(validation) == 10 and len(kept) == 30 and len(tests) == 20
    assert all(n.startswith("test2/") for n in zipfile.ZipFile(public / "test2.zip").namelist())
    assert sorted(int(re.search(r"_Test(\d+)\.aif$", c).group(1)) for c in validation["clip"]) == list(range(10, 20))
    held = set(originals.values()) - kept
    for row in validation.itertuples():
        original = originals[tests[row.clip]]
        assert original in held and original.endswith(f"_{row.probability}.aif")
        assert row.clip == original.split("TRAIN")[0] + row.clip.split("_")[-1]
    sample = pd.read_csv(public / "sampleSubmission.csv")
    assert set(sample["clip"]) == set(tests) and (sample["probability"] == 0).all()


def test_no_public_file_of_the_whale_view_names_a_held_clip(whale, tmp_path):
    task = prepare(whale, WHALE, tmp_path, seed=2)
    with zipfile.ZipFile(task.public_dir / "train2.zip") as archive:
        kept = {n.split("/")[-1] for n in archive.namelist()}
    with zipfile.ZipFile(whale / "public" / "train2.zip") as archive:
        held = [n.split("/")[-1] for n in archive.namelist() if n.split("/")[-1] not in kept]
    assert len(held) == 10
    for path, content in public_bytes(task.public_dir):
        assert not any(name.encode() in content or name in path for name in held), path
        assert not re.search(rb"TRAIN\d+_[01]\.aif", content) or path.startswith("train2.zip")
        if path.startswith("test2.zip:") and path.endswith(".aif"):
            assert re.fullmatch(r"test2\.zip:test2/\d{8}_\d{6}_\d{3}s0ms_Test\d+\.aif", path)


def test_new_test_numbers_do_not_follow_the_held_files_order(whale, tmp_path):
    orders = []
    for seed in range(3):
        validation = validation_of(prepare(whale, WHALE, tmp_path, seed=seed))
        numbers = [int(re.search(r"_Test(\d+)\.aif$", c).group(1)) for c in validation.sort_values("clip")["clip"]]
        orders.append(numbers == sorted(numbers))
    assert not all(orders)


@pytest.mark.parametrize("competition, make, id_column, column, best, worst", [
    (DOGS, dogs_vs_cats, "id", "label", 0.0, 10.0),
    (WHALE, right_whale, "clip", "probability", 1.0, 0.0),
])
def test_a_perfect_submission_grades_perfectly_on_both_splits(
    competition, make, id_column, column, best, worst, tmp_path
):
    task = prepare(make(tmp_path / competition / "prepared"), competition, tmp_path, seed=4)
    answers = answers_of(task)
    perfect = answers[[id_column, column]].astype({column: float})
    grades = task.grade(perfect.to_csv(index=False).encode())
    assert grades.validation.valid and grades.test.valid
    assert grades.validation.score == pytest.approx(best, abs=1e-6)
    assert grades.test.score == pytest.approx(best, abs=1e-6)
    wrong = perfect.assign(**{column: 1.0 - perfect[column]})
    graded = task.grade(wrong.to_csv(index=False).encode())
    assert abs(graded.validation.score - best) > abs(worst - best) / 2
    assert abs(graded.test.score - best) > abs(worst - best) / 2


@pytest.mark.parametrize("competition, make", [(DOGS, dogs_vs_cats), (WHALE, right_whale)])
def test_the_split_depends_on_the_seed_and_is_deterministic(competition, make, tmp_path):
    data = make(tmp_path / competition / "prepared")
    first = validation_of(prepare(data, competition, tmp_path / "a", seed=1))
    again = validation_of(prepare(data, competition, tmp_path / "b", seed=1))
    other = validation_of(prepare(data, competition, tmp_path / "c", seed=2))
    assert first.equals(again)
    assert not first.reset_index(drop=True).equals(other.reset_index(drop=True))


@pytest.mark.parametrize("competition, make, damage, message", [
    (DOGS, dogs_vs_cats, lambda p: shutil.rmtree(p / "test"), "public/test/ is missing"),
    (DOGS, dogs_vs_cats, lambda p: [f.unlink() for f in (p / "train").iterdir()], "no cat.N.jpg / dog.N.jpg"),
    (WHALE, right_whale, lambda p: (p / "test2.zip").unlink(), "public/test2.zip is missing"),
    (WHALE, right_whale, lambda p: (p / "train2.zip").write_bytes(b"not a zip"), "train2.zip is not a zip"),
    (WHALE, right_whale, lambda p: zipfile.ZipFile(p / "train2.zip", "w").close(), "train2.zip holds no"),
])
def test_files_that_do_not_fit_the_layout_are_refused_by_name(competition, make, damage, message, tmp_path):
    data = make(tmp_path / competition / "prepared")
    damage(data / "public")
    task = MleBenchTask(competition=competition, data_dir=str(data))
    field, reason = mlebench_task_problem(task)
    assert field == "$.task.competition" and message in reason
