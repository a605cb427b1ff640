"""A daemon opens each (task, seed) one run at a time, and shares bundled tasks between runs."""

import anyio
import pandas as pd
import pytest

import airad.daemon.opened_tasks as opened_tasks
from airad.daemon.opened_tasks import OpenedTasks
from airad.schemas.errors import FieldError
from airad.schemas.request import BundledTask, CsvTask
from airad.tasks.table import data_overview


@pytest.fixture
def counted(monkeypatch):
    """Counts open_task calls and the most that ran at once."""
    calls = {"n": 0, "now": 0, "most": 0}
    real = opened_tasks.open_task

    def open_task(spec, seed, root):
        calls["n"] += 1
        calls["now"] += 1
        calls["most"] = max(calls["most"], calls["now"])
        try:
            return real(spec, seed, root)
        finally:
            calls["now"] -= 1

    monkeypatch.setattr(opened_tasks, "open_task", open_task)
    return calls


async def test_runs_submitted_at_once_prepare_a_bundled_task_once_and_share_it(tmp_path, counted):
    tasks = OpenedTasks()
    spec = BundledTask(name="wine")
    opened = []

    async def open_one():
        opened.append(await tasks.open(spec, 3, tmp_path))

    async with anyio.create_task_group() as tg:
        for _ in range(30):
            tg.start_soon(open_one)
    assert counted["n"] == 1
    assert len({id(task) for task in opened}) == 1
    assert "target" in opened[0].brief().data_overview
    other = await tasks.open(spec, 4, tmp_path)
    assert other is not opened[0] and counted["n"] == 2
    assert tasks._locks == {}


async def test_a_csv_task_is_opened_afresh_for_each_run_one_at_a_time(tmp_path, counted):
    data = tmp_path / "prices.csv"
    pd.DataFrame({"sku": range(60), "size": range(60), "price": [2.0 * i for i in range(60)]}).to_csv(data, index=False)
    spec = CsvTask(train=str(data), target="price", metric="rmse", id_column="sku")
    tasks = OpenedTasks()
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(tasks.open, spec, 0, tmp_path / "tasks")
    assert counted["n"] == 4 and counted["most"] == 1
    pd.DataFrame({"sku": range(60), "size": range(60), "weight": range(60), "price": [1.0] * 60}).to_csv(data, index=False)
    edited = await tasks.open(spec, 0, tmp_path / "tasks")
    assert "weight" in edited.brief().data_overview


async def test_a_task_that_cannot_be_opened_fails_every_run_that_asks(tmp_path):
    tasks = OpenedTasks()
    spec = CsvTask(train=str(tmp_path / "missing.csv"), target="y", metric="rmse")
    for _ in range(2):
        with pytest.raises(FieldError):
            await tasks.open(spec, 0, tmp_path)
    assert tasks._locks == {}


async def test_only_the_latest_bundled_tasks_are_kept(tmp_path, counted):
    tasks = OpenedTasks(keep=2)
    spec = BundledTask(name="wine")
    for seed in (0, 1, 2):
        await tasks.open(spec, seed, tmp_path)
    await tasks.open(spec, 2, tmp_path)
    assert counted["n"] == 3
    await tasks.open(spec, 0, tmp_path)
    assert counted["n"] == 4


def test_the_data_overview_follows_the_files_content(tmp_path):
    (tmp_path / "train.csv").write_text("id,a,target\n1,2,3\n")
    (tmp_path / "notes.txt").write_text("hi")
    first = data_overview(tmp_path)
    assert first == data_overview(tmp_path)
    assert "train.csv: 1 rows; columns: id (int64), a (int64), target (int64)" in first and "- notes.txt" in first
    (tmp_path / "train.csv").write_text("id,a,b,target\n1,2,x,3\n2,2,y,3\n")
    assert "train.csv: 2 rows; columns: id (int64), a (int64), b (object), target (int64)" in data_overview(tmp_path)


def test_the_overview_describes_folders_archives_records_and_big_tables(tmp_path, monkeypatch):
    import json
    import zipfile

    from airad.tasks import table as layout

    (tmp_path / "train").mkdir()
    for i in range(5):
        (tmp_path / "train" / f"{i}.png").write_bytes(b"png")
    (tmp_path / "train" / "notes.txt").write_text("x")
    (tmp_path / "jpeg" / "test").mkdir(parents=True)
    (tmp_path / "jpeg" / "test" / "a.jpg").write_bytes(b"jpg")
    (tmp_path / "train.json").write_text(json.dumps([{"request_id": "t3_1", "text": "hi"}] * 3))
    with zipfile.ZipFile(tmp_path / "train2.zip", "w") as archive:
        archive.writestr("train2/a_1.aif", b"aif")
    (tmp_path / "big.csv").write_text("id,x\n" + "".join(f"{i},{i / 2}\n" for i in range(100)))
    monkeypatch.setattr(layout, "BIG_CSV_BYTES", 10)
    lines = data_overview(tmp_path).splitlines()
    assert "- train/: 6 files (5 .png, 1 .txt), e.g. 0.png, 1.png" in lines
    assert "- jpeg/: 1 folders" in lines and "  - jpeg/test/: 1 files (1 .jpg), e.g. a.jpg" in lines
    assert "- train.json: a list of 3 records; fields: request_id, text" in lines
    assert "- train2.zip: zip archive of 1 files, e.g. train2/a_1.aif" in lines
    assert "- big.csv: 100 rows; columns: id (int64), x (float64)" in lines, "counted as lines, typed from its head"
