"""The container executor against a private dockerd and a private podman service: the executor
contract, the GPU request it passes to the engine, and that no container outlives its job."""

from __future__ import annotations

import json
import uuid

import aiodocker
import pytest

from airad.executors.base import JobLost, JobSpec
from airad.executors.container import ContainerExecutor
from tests.contract.executor_contract import SandboxedExecutorContract, secret_path  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("shared-infra")]  # its engines are requested by name (getfixturevalue)


class TestDockerdContainerExecutor(SandboxedExecutorContract):
    @pytest.fixture
    def reopen(self, dockerd_backend):  # noqa: F811
        return lambda: ContainerExecutor(dockerd_backend)

    @pytest.fixture
    def executor(self, reopen):
        return reopen()


class TestPodmanContainerExecutor(SandboxedExecutorContract):
    @pytest.fixture
    def reopen(self, podman_backend):  # noqa: F811
        return lambda: ContainerExecutor(podman_backend)

    @pytest.fixture
    def executor(self, reopen):
        return reopen()


@pytest.fixture(params=["dockerd", "podman"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_backend")


def job(tmp_path, source: str, **fields) -> JobSpec:
    fields = {"timeout_s": 60.0, **fields}
    return JobSpec(job_id=f"container/{uuid.uuid4().hex[:8]}", files={"solution.py": source},
                   inputs_dir=str(tmp_path), **fields)


async def inspect(backend, handle: str) -> dict:
    async with aiodocker.Docker(url=backend.url) as docker:
        return await (await docker.containers.get(json.loads(handle)["container"])).show()


async def test_a_gpu_job_asks_the_engine_for_its_gpus(dockerd_backend, tmp_path):  # noqa: F811
    executor = ContainerExecutor(dockerd_backend)
    handle = await executor.prepare(job(tmp_path, "print('gpu')\n", gpus=2, cpus=1, memory_mb=256))
    try:
        host = (await inspect(dockerd_backend, handle))["HostConfig"]
        assert host["DeviceRequests"] == [{"Driver": "", "Count": 2, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": None}]
        assert host["NetworkMode"] == "none"
        assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
        assert host["NanoCpus"] == 1_000_000_000
    finally:
        await executor.cancel(handle)
        assert (await executor.wait(handle)).killed == "cancelled"


async def test_the_container_is_removed_once_its_result_is_collected(backend, tmp_path):
    executor = ContainerExecutor(backend)
    handle = await executor.prepare(job(tmp_path, "print('bye')\n"))
    assert (await inspect(backend, handle))["State"]["Status"] == "created"
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.exit_code == 0 and result.stdout == b"bye\n"
    with pytest.raises(aiodocker.DockerError) as gone:
        await inspect(backend, handle)
    assert gone.value.status == 404
    with pytest.raises(JobLost):
        await executor.wait(handle)


async def test_a_job_cancelled_before_it_starts_never_runs(backend, tmp_path):
    executor = ContainerExecutor(backend)
    handle = await executor.prepare(job(tmp_path, "print('ran')\n"))
    await executor.cancel(handle)
    await ContainerExecutor(backend).start(handle)
    result = await executor.wait(handle)
    assert result.killed == "cancelled" and result.exit_code is None and result.stdout == b""


async def test_a_job_whose_daemon_never_comes_back_still_ends(backend, tmp_path):
    import asyncio

    from airad.executors.container import BACKSTOP_GRACE_S

    executor = ContainerExecutor(backend)
    handle = await executor.prepare(job(tmp_path, "import time\ntime.sleep(300)\n", timeout_s=1.0))
    await executor.start(handle)
    del executor
    for _ in range(int((1.0 + BACKSTOP_GRACE_S + 30) / 0.5)):
        if (await inspect(backend, handle))["State"]["Status"] == "exited":
            break
        await asyncio.sleep(0.5)
    assert (await inspect(backend, handle))["State"]["Status"] == "exited", "nobody waited, and the job ran on"
    result = await ContainerExecutor(backend).wait(handle)
    assert result.timed_out and result.exit_code != 0


async def test_jobs_prepared_at_once_all_run(backend, tmp_path):
    import asyncio

    executor = ContainerExecutor(backend)

    async def one(n: int):
        handle = await executor.prepare(job(tmp_path, f"print('job', {n})\n"))
        await executor.start(handle)
        return await executor.wait(handle)

    results = await asyncio.gather(*(one(n) for n in range(6)))
    assert [r.stdout for r in results] == [f"job {n}\n".encode() for n in range(6)]
