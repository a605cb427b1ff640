"""The installation's split secret: created once and privately, shared by racing creators, and what
makes a bundled or CSV task's split unknowable from its seed; the package data a job must not see."""

import base64
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airad.schemas.request import BundledTask, CsvTask
from airad.tasks import split_secret
from airad.tasks.bundled import prepare_bundled
from airad.tasks.csv_task import prepare_csv
from airad.tasks.dataset_files import DATASET_PACKAGE_DATA, dataset_data_dirs


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(task, split: str) -> list[tuple]:
    """The feature rows of `split`, by value: comparable across layouts whatever their ids."""
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    test = pd.read_csv(task.public_dir / "test.csv").set_index("id")
    return sorted(map(tuple, test.loc[answers[answers.split == split].id].round(6).values.tolist()))


def test_the_secret_is_created_once_private_and_read_back_unchanged(tmp_path):
    first = split_secret.load_or_create(tmp_path / "tasks")
    path = tmp_path / "tasks" / split_secret.SECRET_FILE
    assert len(first) == split_secret.SECRET_BYTES and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert split_secret.load_or_create(tmp_path / "tasks") == first
    assert [p.name for p in (tmp_path / "tasks").iterdir()] == [split_secret.SECRET_FILE]  # no temp file left
    assert split_secret.load_or_create(tmp_path / "other") != first


def _create(directory: str) -> bytes:
    return split_secret.load_or_create(Path(directory))


def test_concurrent_creators_agree(tmp_path):
    with ProcessPoolExecutor(4) as processes, ThreadPoolExecutor(8) as threads:
        made = list(processes.map(_create, [str(tmp_path)] * 8)) + list(threads.map(_create, [str(tmp_path)] * 16))
    assert len(set(made)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [split_secret.SECRET_FILE]


def test_a_copied_secret_with_a_loose_mode_is_made_private_and_a_broken_one_refused(tmp_path):
    secret = split_secret.load_or_create(tmp_path / "a")
    copied = tmp_path / "b" / split_secret.SECRET_FILE
    copied.parent.mkdir()
    shutil.copyfile(tmp_path / "a" / split_secret.SECRET_FILE, copied)
    copied.chmod(0o644)
    assert split_secret.load_or_create(tmp_path / "b") == secret
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    copied.write_bytes(secret + b"\n")
    with pytest.raises(split_secret.SplitSecretError, match="expected 32 bytes"):
        split_secret.load_or_create(tmp_path / "b")


def test_another_secret_gives_another_split_for_the_same_seed(tmp_path):
    a = prepare_bundled(BundledTask(name="breast-cancer"), seed=1, tasks_root=tmp_path, secret=b"a" * 32)
    b = prepare_bundled(BundledTask(name="breast-cancer"), seed=1, tasks_root=tmp_path, secret=b"b" * 32)
    assert a.root != b.root
    assert _rows(a, "test") != _rows(b, "test") and _rows(a, "validation") != _rows(b, "validation")
    assert (a.public_dir / "test.csv").read_bytes() != (b.public_dir / "test.csv").read_bytes()


def test_the_same_secret_and_seed_give_the_same_layout_also_on_another_installation(tmp_path):
    here = prepare_bundled(BundledTask(name="wine"), seed=2, tasks_root=tmp_path / "here")
    (tmp_path / "there").mkdir()
    shutil.copy(tmp_path / "here" / split_secret.SECRET_FILE, tmp_path / "there" / split_secret.SECRET_FILE)
    there = prepare_bundled(BundledTask(name="wine"), seed=2, tasks_root=tmp_path / "there")
    again = prepare_bundled(BundledTask(name="wine"), seed=2, tasks_root=tmp_path / "again",
                            secret=split_secret.load_or_create(tmp_path / "here"))
    assert here.root.name == there.root.name == again.root.name
    assert _files(here.root) == _files(there.root) == _files(again.root)


def test_the_test_rows_stay_fixed_across_seeds_under_one_secret(tmp_path):
    a = prepare_bundled(BundledTask(name="iris"), seed=1, tasks_root=tmp_path)
    b = prepare_bundled(BundledTask(name="iris"), seed=2, tasks_root=tmp_path)
    assert _rows(a, "test") == _rows(b, "test") and _rows(a, "validation") != _rows(b, "validation")


def test_a_layout_of_the_old_scheme_or_another_secret_is_not_reused(tmp_path):
    stale = tmp_path / "wine" / "seed-0-val-0.2"  # the seed-only scheme's dir name
    (stale / "private").mkdir(parents=True)
    (stale / "private" / "answers.csv").write_text("id,target,split\n")
    task = prepare_bundled(BundledTask(name="wine"), seed=0, tasks_root=tmp_path)
    assert task.root != stale and task.root.name.startswith("seed-0-val-0.2-split-")
    other = prepare_bundled(BundledTask(name="wine"), seed=0, tasks_root=tmp_path, secret=b"x" * 32)
    assert other.root != task.root


def test_the_secret_appears_in_no_prepared_file_nor_path(tmp_path):
    secret = split_secret.load_or_create(tmp_path)
    texts = [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), str(int.from_bytes(secret, "big"))]
    forms = [secret, *(text.encode() for text in texts)]
    for name in ("breast-cancer", "penguins-species"):
        task = prepare_bundled(BundledTask(name=name), seed=0, tasks_root=tmp_path)
        for relative, data in _files(task.root).items():
            assert not any(form in data for form in forms), relative
        assert not any(text in str(task.root) or text[:16] in str(task.root) for text in texts)


def test_a_csv_task_split_follows_the_secret(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": rng.normal(size=200).round(6), "y": rng.normal(size=200).round(6)}).to_csv(path, index=False)
    spec = CsvTask(train=str(path), target="y", metric="rmse")

    def rows(task, split):
        answers = pd.read_csv(task.root / "private" / "answers.csv")
        test = pd.read_csv(task.public_dir / "test.csv").set_index("id")
        return sorted(test.loc[answers[answers.split == split].id]["x"])

    a = prepare_csv(spec, 0, tmp_path / "tasks", secret=b"a" * 32)
    b = prepare_csv(spec, 0, tmp_path / "tasks", secret=b"b" * 32)
    again = prepare_csv(spec, 0, tmp_path / "again", secret=b"a" * 32)
    assert a.root != b.root and rows(a, "test") != rows(b, "test")
    assert _files(a.root) == _files(again.root)
    default = prepare_csv(spec, 1, tmp_path / "tasks")
    assert (tmp_path / "tasks" / split_secret.SECRET_FILE).exists() and default.root.name.endswith(
        split_secret.layout_tag(split_secret.load_or_create(tmp_path / "tasks"))
    )


def test_dataset_data_dirs_are_the_installed_copies_found_without_importing_them():
    dirs = dataset_data_dirs()
    assert dirs and all(os.path.isabs(d) and os.path.isdir(d) for d in dirs) and dirs == sorted(set(dirs))
    files = {name for d in dirs for name in os.listdir(d)}
    assert {"breast_cancer.csv", "iris.csv", "wine_data.csv", "digits.csv.gz", "diabetes_data_raw.csv.gz"} <= files
    assert "penguins.csv" in files and {"sklearn.datasets", "palmerpenguins"} <= set(DATASET_PACKAGE_DATA)
    code = (
        "import sys; from airad.tasks.dataset_files import dataset_data_dirs; d = dataset_data_dirs(); "
        "print(len(d), [m for m in ('sklearn', 'scipy', 'palmerpenguins') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(None, 1)
    assert int(out[0]) == len(dirs) and out[1].strip() == "[]"
