"""The ssh executor against a real sshd on loopback: the executor contract, links that drop, hosts
that go away, host keys that are not trusted, and GPUs handed out one job at a time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from airad.executors.base import JobLost, JobSpec
from airad.executors.ssh import HostKeyRejected, SshExecutor
from tests.contract.executor_contract import (  # noqa: F401 (secret_path is a fixture)
    ExecutorContract, SandboxedExecutorContract, script, secret_path,
)
from tests.infra.sshd import Sshd, require_sshd, sshd_server, write_key

pytestmark = pytest.mark.integration


def ssh_host(server: Sshd, root: Path, **fields):
    return server.host(root=str(root), python=sys.executable, **fields)


@pytest.fixture
async def executors():
    """Every executor a test builds, closed at its end."""
    built: list[SshExecutor] = []

    def build(*hosts) -> SshExecutor:
        built.append(SshExecutor(hosts))
        return built[-1]

    yield build
    for executor in built:
        await executor.aclose()


@pytest.fixture
def remote_root(tmp_path: Path) -> Path:
    return tmp_path / "remote"


@pytest.fixture
def kill_leftovers(remote_root: Path):
    """Kill any job still running under `remote_root` when the test ends (a lost host's job runs on)."""
    yield
    for pid_file in remote_root.glob("**/started/pid"):
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class TestSshContract(ExecutorContract):
    """The shared executor contract, over SSH, jobs as plain processes."""

    @pytest.fixture
    def executor(self, sshd, remote_root, executors):
        return executors(ssh_host(sshd, remote_root, sandbox=False))

    @pytest.fixture
    def reopen(self, sshd, remote_root, executors):
        return lambda: executors(ssh_host(sshd, remote_root, sandbox=False))


class TestSshSandboxedContract(SandboxedExecutorContract):
    """The sandboxed contract over SSH: every job in bubblewrap on the host, the daemon's state dir
    among the host's hidden paths."""

    @pytest.fixture
    def executor(self, sshd, remote_root, executors, secret_path):
        return executors(ssh_host(sshd, remote_root, sandbox=True, hidden=(str(secret_path.parents[2]),)))

    @pytest.fixture
    def reopen(self, sshd, remote_root, executors, secret_path):
        return lambda: executors(ssh_host(sshd, remote_root, sandbox=True, hidden=(str(secret_path.parents[2]),)))


def job(inputs: Path, source: str, **overrides) -> JobSpec:
    fields = dict(job_id=f"ssh-{uuid.uuid4().hex[:10]}", files={"solution.py": script(source)}, inputs_dir=str(inputs))
    return JobSpec(**{**fields, **overrides})


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    path = tmp_path / "inputs"
    path.mkdir()
    (path / "data.csv").write_text("x\n1\n")
    return path


SLOW_JOB = """
    import os, time
    time.sleep({seconds})
    os.makedirs("submission", exist_ok=True)
    open("submission/submission.csv", "w").write("survived\\n")
    print("done")
"""


@pytest.mark.parametrize("outage", ["connection killed", "sshd restarted"])
async def test_a_job_survives_its_link_dropping(sshd, remote_root, executors, inputs, outage):
    executor = executors(ssh_host(sshd, remote_root, link_grace_s=30.0))
    handle = await executor.prepare(job(inputs, SLOW_JOB.format(seconds=3)))
    await executor.start(handle)
    waiter = asyncio.create_task(executor.wait(handle))
    await asyncio.sleep(1.0)
    if outage == "connection killed":
        sshd.drop_connections()
    else:
        await asyncio.to_thread(sshd.restart, 1.0)
    result = await asyncio.wait_for(waiter, 30)
    assert result.exit_code == 0, result.stderr
    assert result.outputs == {"submission/submission.csv": b"survived\n"}
    assert not list(remote_root.glob("ssh-*")), "the job dir was not removed after collection"
    assert sshd.log.read_text().count("Accepted publickey") >= 2, "the executor never redialled"


async def test_a_host_gone_for_good_loses_its_job_while_the_others_go_on(
    tmp_path, remote_root, executors, inputs, kill_leftovers,
):
    require_sshd()
    with sshd_server(tmp_path / "doomed") as doomed, sshd_server(tmp_path / "steady") as steady:
        executor = executors(
            ssh_host(doomed, remote_root / "doomed", link_grace_s=2.0, slots=1),
            ssh_host(steady, remote_root / "steady", link_grace_s=2.0, slots=1),
        )
        first = await executor.prepare(job(inputs, SLOW_JOB.format(seconds=5)))
        second = await executor.prepare(job(inputs, SLOW_JOB.format(seconds=2)))
        assert {json.loads(h)["port"] for h in (first, second)} == {doomed.port, steady.port}
        lost, kept = (first, second) if json.loads(first)["port"] == doomed.port else (second, first)
        for handle in (lost, kept):
            await executor.start(handle)
        doomed.stop()
        began = time.monotonic()
        with pytest.raises(JobLost, match=f"ssh link to {doomed.name} lost"):
            await executor.wait(lost)
        assert time.monotonic() - began < 2.0 + 10
        result = await executor.wait(kept)
        assert result.exit_code == 0 and b"done" in result.stdout
        third = await executor.prepare(job(inputs, SLOW_JOB.format(seconds=0)))
        assert json.loads(third)["port"] == steady.port, "a new job went to the host that is gone"
        await executor.start(third)
        assert (await executor.wait(third)).exit_code == 0


@pytest.mark.parametrize("known", ["unknown host", "other key"])
async def test_an_untrusted_host_key_is_refused_by_default(sshd, tmp_path, remote_root, executors, inputs, known):
    known_hosts = tmp_path / "known_hosts"
    if known == "unknown host":
        known_hosts.write_text("")
    else:
        other = write_key(tmp_path / "other_host_key")
        known_hosts.write_bytes(f"[127.0.0.1]:{sshd.port} ".encode() + other.export_public_key())
    executor = executors(ssh_host(sshd, remote_root, known_hosts=str(known_hosts)))
    with pytest.raises(HostKeyRejected, match=f"ssh host {sshd.name}: host key not trusted"):
        await executor.prepare(job(inputs, "print('never')"))
    assert not remote_root.exists()


async def test_insecure_no_host_check_skips_the_host_key(sshd, tmp_path, remote_root, executors, inputs):
    (tmp_path / "empty_known_hosts").write_text("")
    host = ssh_host(sshd, remote_root, known_hosts=str(tmp_path / "empty_known_hosts"), insecure_no_host_check=True)
    executor = executors(host)
    handle = await executor.prepare(job(inputs, "print('ran')"))
    await executor.start(handle)
    assert (await executor.wait(handle)).stdout == b"ran\n"


GPU_JOB = """
    import os, time
    began = time.time()
    time.sleep(0.7)
    print(os.environ["CUDA_VISIBLE_DEVICES"], began, time.time())
"""


async def test_gpu_ids_are_handed_out_one_job_at_a_time(sshd, remote_root, executors, inputs):
    executor = executors(ssh_host(sshd, remote_root, gpus=("0", "1"), slots=4))

    async def run(gpus: int):
        handle = await executor.prepare(job(inputs, GPU_JOB, gpus=gpus))
        await executor.start(handle)
        result = await executor.wait(handle)
        assert result.exit_code == 0, result.stderr
        ids, began, ended = result.stdout.decode().split()
        assert ids.split(",") == json.loads(handle)["gpus"]
        return ids, float(began), float(ended)

    runs = await asyncio.gather(*(run(1) for _ in range(5)), run(2))
    assert {ids for ids, _, _ in runs} == {"0", "1", "0,1"}
    for index, (ids, began, ended) in enumerate(runs):
        for other_ids, other_began, other_ended in runs[index + 1:]:
            if set(ids.split(",")) & set(other_ids.split(",")):
                assert ended <= other_began or other_ended <= began, f"GPU {ids} and {other_ids} held at once"
    with pytest.raises(ValueError, match="no ssh host has 3 GPUs"):
        await executor.prepare(job(inputs, GPU_JOB, gpus=3))


async def test_a_reattaching_executor_holds_the_jobs_gpus(sshd, remote_root, executors, inputs):
    host = ssh_host(sshd, remote_root, gpus=("0", "1"), slots=4)
    first = executors(host)
    handle = await first.prepare(job(inputs, GPU_JOB, gpus=1))
    await first.start(handle)
    restarted = executors(host)
    await restarted.start(handle)
    other = await restarted.prepare(job(inputs, GPU_JOB, gpus=1))
    assert json.loads(other)["gpus"] != json.loads(handle)["gpus"]
    await restarted.start(other)
    for result in await asyncio.gather(restarted.wait(handle), restarted.wait(other)):
        assert result.exit_code == 0, result.stderr


async def test_a_job_cancelled_before_it_starts_never_runs(sshd, remote_root, executors, inputs):
    executor = executors(ssh_host(sshd, remote_root))
    handle = await executor.prepare(job(inputs, "print('ran')"))
    await executor.cancel(handle)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.killed == "cancelled" and result.exit_code != 0
    assert result.stdout == b""


async def test_inputs_are_uploaded_once_per_host_over_one_connection(sshd, remote_root, executors, inputs):
    executor = executors(ssh_host(sshd, remote_root))
    source = 'print(open("input/data.csv").read().strip())'
    for _ in range(3):
        handle = await executor.prepare(job(inputs, source))
        await executor.start(handle)
        assert (await executor.wait(handle)).stdout == b"x\n1\n"
    assert len([p for p in (remote_root / "inputs").iterdir() if p.name != ".files"]) == 1
    assert len(list(remote_root.glob(".trash-*"))) == 1, "collected job dirs are not deleted"
    assert sshd.log.read_text().count("Accepted publickey") == 1
