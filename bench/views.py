"""How long an MLE-bench competition's validation view takes to check and to build, at real sizes:

    python bench/views.py [--images 220000] [--rows 1000000]

Builds two synthetic prepared competitions in a temporary folder, laid out as MLE-bench leaves them:
histopathologic-cancer-detection with `--images` tiny image files named by id (train/ and test/, four
to one, labels in train_labels.csv), and tabular-playground-series-dec-2021 with a `--rows`-row
train.csv of 12 columns (a quarter as many test rows). For each it prints:

- the first check of a request naming it (`mlebench_task_problem`: plans the view, reading the
  answers and listing the folders) and a repeated check (remembered until the files change);
- building the view for one seed (`prepare_mlebench`: draw the held-out rows, hard-link every file,
  rewrite the tables and the sample submission, write the answers), and the peak RSS it added.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airad.schemas.request import MleBenchTask  # noqa: E402
from airad.tasks.mlebench import mlebench_task_problem, prepare_mlebench  # noqa: E402


def images(root: Path, count: int) -> Path:
    """histopathologic-cancer-detection: `<id>.tif` files, train_labels.csv (id, label), answers.csv."""
    public, private = root / "public", root / "private"
    for folder in (public / "train", public / "test", private):
        folder.mkdir(parents=True)
    ids = [f"{i:040x}" for i in range(count)]
    split = count * 4 // 5
    for i, name in enumerate(ids):
        (public / ("train" if i < split else "test") / f"{name}.tif").write_bytes(name.encode())
    labels = np.arange(count) % 2
    pd.DataFrame({"id": ids[:split], "label": labels[:split]}).to_csv(public / "train_labels.csv", index=False)
    pd.DataFrame({"id": ids[split:], "label": 0}).to_csv(public / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids[split:], "label": labels[split:]}).to_csv(private / "answers.csv", index=False)
    return root


def table(root: Path, rows: int) -> Path:
    """tabular-playground-series-dec-2021: train.csv (Id, 10 features, Cover_Type), test.csv, test answers."""
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    rng = np.random.default_rng(0)
    test_rows = rows // 4
    frame = pd.DataFrame(rng.normal(size=(rows + test_rows, 10)).round(4), columns=[f"f{i}" for i in range(10)])
    frame.insert(0, "Id", np.arange(rows + test_rows))
    frame["Cover_Type"] = rng.integers(1, 8, size=len(frame))
    frame.iloc[:rows].to_csv(public / "train.csv", index=False)
    frame.iloc[rows:].drop(columns=["Cover_Type"]).to_csv(public / "test.csv", index=False)
    frame.iloc[rows:][["Id"]].assign(Cover_Type=2).to_csv(public / "sample_submission.csv", index=False)
    frame.iloc[rows:][["Id", "Cover_Type"]].to_csv(private / "test.csv", index=False)
    return root


def measure(name: str, competition: str, data_dir: Path, tasks_root: Path) -> None:
    spec = MleBenchTask(competition=competition, data_dir=str(data_dir))
    started = time.perf_counter()
    assert mlebench_task_problem(spec) is None
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert mlebench_task_problem(spec) is None
    again = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    task = prepare_mlebench(spec, seed=0, tasks_root=tasks_root)
    built = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    held = int((pd.read_csv(task.root / "private" / "answers.csv", usecols=["split"])["split"] == "validation").sum())
    print(f"{name}: first check {first:.2f} s, repeated check {1000 * again:.1f} ms; view built in {built:.1f} s "
          f"({held:,} examples held out), peak RSS +{grown:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=220_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airad-views-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        histo = images(root / "histopathologic", args.images)
        playground = table(root / "playground", args.rows)
        print(f"made the competitions in {time.perf_counter() - started:.0f} s")
        measure(f"{args.images:,} image files", "histopathologic-cancer-detection", histo, root / "tasks")
        measure(f"{args.rows:,}-row table", "tabular-playground-series-dec-2021", playground, root / "tasks")


if __name__ == "__main__":
    main()
