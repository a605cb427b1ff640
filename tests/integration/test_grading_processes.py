"""Grading in worker processes gives the same verdicts as grading in a thread, and a whole run
graded that way scores its nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airad.daemon.grading import Grader
from airad.daemon.opened_tasks import OpenedTasks
from airad.schemas.errors import FieldError
from airad.schemas.request import BundledTask, RunRequest
from airad.tasks.grading.node import FinishedNode
from airad.tasks.registry import open_task
from airad.tasks.table import is_prepared
from tests.conftest import require
from tests.integration.test_cli import SMALL_RUN

pytestmark = pytest.mark.integration


async def test_a_worker_process_grades_like_a_thread(tmp_path):
    request = RunRequest(task=BundledTask(name="breast-cancer"), seed=4)
    task = open_task(request.task, request.seed, tmp_path)
    sample = (task.public_dir / "sample_submission.csv").read_bytes()
    header, *rows = sample.decode().splitlines()
    better = "\n".join([header, *(f"{row.split(',')[0]},{i % 7 / 7}" for i, row in enumerate(rows))]).encode()
    nodes = [FinishedNode(s, exit_code=0) for s in (sample, better, b"not,a\nsubmission", None)]
    nodes.append(FinishedNode(better, exit_code=None, oom=True, memory_mb=512))
    in_thread = [await Grader(0).grade(task, request, tmp_path, n) for n in nodes]
    in_process = [await Grader(1).grade(task, request, tmp_path, n) for n in nodes]
    assert in_process == in_thread
    assert in_thread[0].valid and not in_thread[2].valid and not in_thread[3].valid
    assert in_thread[1].score != in_thread[0].score
    assert not in_thread[4].valid and in_thread[4].error.startswith("the script ran out of memory (limit 512 MiB)")


def test_a_run_graded_in_worker_processes(tmp_path):
    require("bwrap")
    (tmp_path / "small.toml").write_text(SMALL_RUN)
    env = {**os.environ, "AIRAD_STATE_DIR": str(tmp_path / "state"), "AIRAD_GRADING_PROCESSES": "2"}
    done = subprocess.run([sys.executable, "-m", "airad.cli", "run", str(tmp_path / "small.toml"), "--json"],
                          env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["nodes"] == 2 and summary["best_score"] > 0.5


async def test_a_worker_process_prepares_the_split_the_daemon_then_opens(tmp_path, monkeypatch):
    import airad.tasks.bundled

    def no_writing_here(*args, **kwargs):
        raise AssertionError("the split was written in the daemon's process")

    monkeypatch.setattr(airad.tasks.bundled, "write_layout", no_writing_here)
    tasks = OpenedTasks(prepare=Grader(1).prepare)
    task = await tasks.open(BundledTask(name="wine"), 7, tmp_path)
    assert is_prepared(task.root) and "target" in task.brief().data_overview
    with pytest.raises(FieldError, match=r"\$\.task\.name"):
        await tasks.open(BundledTask(name="no-such-task"), 0, tmp_path)
