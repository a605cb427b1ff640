"""Inputs copied to an SSH host are swept once no job links to them and none used them lately: a real
sshd on loopback, so the "remote" root is a local dir the test can age and inspect."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from airad.executors.base import JobSpec
from airad.executors.ssh import SshExecutor
from airad.executors.ssh_link import SshLink
from tests.contract.executor_contract import script

pytestmark = pytest.mark.integration
DAY_S = 86400


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def copy_of_inputs(root: Path, name: str, old_s: float) -> Path:
    path = root / "inputs" / name
    path.mkdir(parents=True)
    (path / "train.csv").write_text("x\n1\n")
    age(path, old_s)
    return path


def job_linking(root: Path, job_id: str, target: Path) -> None:
    work = root / job_id / "work"
    work.mkdir(parents=True)
    (work / "input").symlink_to(target)


async def test_a_sweep_removes_only_old_copies_no_job_links_to(sshd, tmp_path):
    root = tmp_path / "remote"
    unused = copy_of_inputs(root, "a" * 32, old_s=3 * DAY_S)
    linked = copy_of_inputs(root, "b" * 32, old_s=3 * DAY_S)
    recent = copy_of_inputs(root, "c" * 32, old_s=600)
    job_linking(root, "run-1/0", linked)
    dead_upload = copy_of_inputs(root, f"{'d' * 32}.partial-1234abcd", old_s=2 * DAY_S)
    live_upload = copy_of_inputs(root, f"{'e' * 32}.partial-5678abcd", old_s=60)
    link = SshLink(sshd.host(root=str(root), python=sys.executable, inputs_keep_s=DAY_S))
    try:
        removed = await link.sweep_inputs(str(root / "inputs"))
    finally:
        await link.close()
    assert removed == [unused.name]
    assert sorted(p.name for p in (root / "inputs").iterdir()) == sorted(
        [linked.name, recent.name, live_upload.name]
    )
    assert not dead_upload.exists()
    assert (root / "run-1/0/work/input/train.csv").read_text() == "x\n1\n"


async def test_staging_a_job_sweeps_the_host_and_keeps_what_jobs_use(sshd, tmp_path):
    root = tmp_path / "remote"
    forgotten = copy_of_inputs(root, "f" * 32, old_s=10 * DAY_S)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "train.csv").write_text("x\n2\n")
    executor = SshExecutor([sshd.host(root=str(root), python=sys.executable, inputs_keep_s=DAY_S)])
    try:
        spec = JobSpec(
            job_id=f"sweep-{uuid.uuid4().hex[:8]}",
            files={"solution.py": script("print(open('input/train.csv').read())")},
            inputs_dir=str(inputs),
        )
        handle = await executor.prepare(spec)
        for _ in range(300):
            if not forgotten.exists():
                break
            await asyncio.sleep(0.1)
        assert not forgotten.exists()
        await executor.start(handle)
        result = await executor.wait(handle)
        assert result.exit_code == 0 and b"x\n2" in result.stdout
        kept = [p for p in (root / "inputs").iterdir() if p.name != ".files"]
        assert len(kept) == 1 and (kept[0] / "train.csv").read_text() == "x\n2\n"
    finally:
        await executor.aclose()


async def test_a_copy_in_use_is_marked_used_each_time_a_job_is_staged(sshd, tmp_path):
    root = tmp_path / "remote"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "train.csv").write_text("x\n3\n")
    executor = SshExecutor([sshd.host(root=str(root), python=sys.executable, inputs_keep_s=0)])
    try:
        first = await executor.prepare(JobSpec(job_id="touch-1", files={"solution.py": script("print(1)")}, inputs_dir=str(inputs)))
        (copy,) = [p for p in (root / "inputs").iterdir() if p.name != ".files"]
        age(copy, 5 * DAY_S)
        await executor.prepare(JobSpec(job_id="touch-2", files={"solution.py": script("print(2)")}, inputs_dir=str(inputs)))
        assert time.time() - copy.stat().st_mtime < DAY_S
        await executor.start(first)
        assert (await executor.wait(first)).exit_code == 0
    finally:
        await executor.aclose()


async def test_inputs_sharing_files_send_each_file_once_and_the_host_links_them(sshd, tmp_path):
    """Two views of a task (two seeds): hard links of the same images, one rewritten table each."""
    root = tmp_path / "remote"
    first, second = tmp_path / "seed-0", tmp_path / "seed-1"
    (first / "train").mkdir(parents=True)
    for i in range(20):
        (first / "train" / f"{i}.png").write_bytes(bytes([i]) * 100)
    (first / "train.csv").write_text("id,label\n0,1\n")
    (second / "train").mkdir(parents=True)
    for image in (first / "train").iterdir():
        os.link(image, second / "train" / image.name)
    (second / "train.csv").write_text("id,label\n1,0\n")
    (second / "empty").mkdir()
    link = SshLink(sshd.host(root=str(root), python=sys.executable))
    try:
        await link.upload_inputs(first, str(root / "inputs" / "first"), grace_s=0)
        assert link.files_sent == 21
        await link.upload_inputs(second, str(root / "inputs" / "second"), grace_s=0)
        assert link.files_sent == 22, "only the rewritten table was sent again"
        await link.upload_inputs(second, str(root / "inputs" / "second"), grace_s=0)
        assert link.files_sent == 22
    finally:
        await link.close()
    remote_first, remote_second = root / "inputs" / "first", root / "inputs" / "second"
    assert (remote_second / "train.csv").read_text() == "id,label\n1,0\n" and (remote_second / "empty").is_dir()
    assert (remote_first / "train.csv").read_text() == "id,label\n0,1\n"
    for i in range(20):
        a, b = remote_first / "train" / f"{i}.png", remote_second / "train" / f"{i}.png"
        assert a.read_bytes() == b.read_bytes() == bytes([i]) * 100
        assert a.stat().st_ino == b.stat().st_ino, "one copy on the host, linked into both"


async def test_a_sweep_deletes_the_files_no_inputs_copy_links_to(sshd, tmp_path):
    root = tmp_path / "remote"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "train.csv").write_text("x\n4\n")
    link = SshLink(sshd.host(root=str(root), python=sys.executable, inputs_keep_s=DAY_S))
    try:
        await link.upload_inputs(inputs, str(root / "inputs" / "g"), grace_s=0)
        await asyncio.gather(*link._sweeps)  # the sweep an upload starts in the background, done first
        (stored,) = (root / "inputs" / ".files").iterdir()
        age(stored, 3 * DAY_S)
        assert await link.sweep_inputs(str(root / "inputs")) == [] and stored.exists(), "a copy still links to it"
        age(root / "inputs" / "g", 3 * DAY_S)
        assert await link.sweep_inputs(str(root / "inputs")) == ["g"]
        assert not stored.exists(), "its last copy went, and it had not been touched for days"
    finally:
        await link.close()
