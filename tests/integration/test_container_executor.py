"""The container executor against a private dockerd and a private podman service: the executor
contract, the GPU request it passes to the engine, and that no container outlives its job."""

from __future__ import annotations

import json
import uuid

import aiodocker
import pytest

from airad.executors.base import JobLost, JobSpec
from airad.executors.container import ContainerExecutor
from airad.executors.container_gpus import DOCKER, PODMAN, PODMAN_CDI_REQUESTS, GpusUnsupported, engine_of
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


async def test_each_engine_is_told_apart_and_asked_for_gpus_its_own_way(backend, tmp_path):
    async with aiodocker.Docker(url=backend.url) as docker:
        engine = engine_of(await docker.version())
    assert engine.name == (PODMAN if "podman" in backend.url else DOCKER) and engine.version
    executor = ContainerExecutor(backend)
    spec = job(tmp_path, "print('gpu')\n", gpus=1)
    if engine.name == PODMAN and engine.version < PODMAN_CDI_REQUESTS:
        with pytest.raises(GpusUnsupported, match=f"podman {'.'.join(map(str, engine.version))} drops"):
            await executor.prepare(spec)
        return
    try:
        handle = await executor.prepare(spec)
    except aiodocker.DockerError as error:  # podman 5.4+ on a host with no CDI spec for the GPU
        assert engine.name == PODMAN and "nvidia.com/gpu=0" in str(error)
        return
    try:
        requests = (await inspect(backend, handle))["HostConfig"].get("DeviceRequests")
        if engine.name == DOCKER:
            assert [(r["Driver"], r["Count"], r["Capabilities"]) for r in requests] == [("", 1, [["gpu"]])]
    finally:
        await executor.cancel(handle)
        await executor.wait(handle)


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

    from airad.executors.container_config import BACKSTOP_GRACE_S

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


# Generated code is hostile: what a job may do to its host, and the limits that end it.

PROBE = r'''
import json, os, subprocess
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
mountinfo = open("/proc/self/mountinfo").read().splitlines()

def fails(argv):
    try:
        return subprocess.run(argv, capture_output=True).returncode != 0
    except OSError:
        return True

def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False

print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
    "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "mount_tmpfs_fails": fails(["mount", "-t", "tmpfs", "none", "/tmp"]),
    "userns_mount_fails": fails(["unshare", "-Urm", "mount", "-t", "tmpfs", "none", "/tmp"]),
    "work": writable("/work"), "submission": writable("/work/submission"), "tmp": writable("/tmp"),
    "root": writable("/"), "usr": writable("/usr"), "input": writable("/work/input"),
    "mount_points": [line.split()[4] for line in mountinfo],
    "sockets": [line for line in mountinfo if ".sock" in line or " /run/docker" in line or "podman" in line.split()[3]],
}))
'''


ENGINE_FILES = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"}  # each engine's own, per container


async def test_a_job_runs_unprivileged_with_no_capabilities_and_no_engine_socket(backend, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    executor = ContainerExecutor(backend)
    spec = job(inputs, PROBE, memory_mb=256)
    handle = await executor.prepare(spec)
    host = (await inspect(backend, handle))["HostConfig"]
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.exit_code == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen["uid"] == seen["euid"] == 65534 and seen["gid"] == 65534
    assert seen["cap_eff"] == seen["cap_bnd"] == "0000000000000000"
    assert seen["no_new_privs"] == "1"
    assert seen["mount_tmpfs_fails"]
    # Docker's default seccomp profile refuses an unprivileged user namespace; podman 4.3's allows one
    # (a mount inside it reaches only the job's own namespace): a known gap on podman.
    assert seen["userns_mount_fails"] or "podman" in backend.url
    assert seen["work"] and seen["submission"] and seen["tmp"]
    assert not seen["root"] and not seen["usr"] and not seen["input"]
    assert seen["sockets"] == [], seen["sockets"]
    assert host["NetworkMode"] == "none" and not host["Privileged"]  # CapDrop: podman lists each cap; CapBnd 0 above
    assert any("no-new-privileges" in option for option in host["SecurityOpt"])
    assert [bind.split(":")[:2] for bind in host["Binds"]] == [[str(inputs), "/work/input"], ["/usr", "/usr"]]
    assert all(bind.split(":")[2].split(",")[0] == "ro" for bind in host["Binds"])
    kernel = ("/proc", "/sys", "/dev")
    others = {m for m in seen["mount_points"] if not m.startswith(kernel)} - {"/", "/work/input", "/usr"}
    assert others <= ENGINE_FILES, others
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["PidsLimit"] == backend.pids_limit


def small(backend, **fields):
    import msgspec

    return msgspec.structs.replace(backend, **fields)


WRITE_MIB = r'''
import os, sys, time
target, total = sys.argv[1], int(sys.argv[2])
chunk = b"x" * (1 << 20)
try:
    for n in range(total):
        with open(os.path.join(target, f"fill-{n // 8}"), "ab") as f:
            f.write(chunk)
except OSError as error:
    print("write failed", error.errno, error.strerror, flush=True)
    sys.exit(1)
print("wrote", total, "MiB", flush=True)
time.sleep(60)
'''


async def test_writing_past_the_disk_quota_ends_the_job_and_the_next_one_runs(backend, tmp_path):
    executor = ContainerExecutor(small(backend, disk_mb=64))
    spec = job(tmp_path, WRITE_MIB, command=("python", "solution.py", "/work", "1024"))
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.killed == "disk quota", (result.exit_code, result.stdout, result.stderr[-1000:])
    assert not result.oom and not result.timed_out and result.duration_s < 30
    after = await executor.prepare(job(tmp_path, "print('next')\n"))
    await executor.start(after)
    assert (await executor.wait(after)).stdout == b"next\n"


async def test_tmp_counts_in_the_disk_quota(backend, tmp_path):
    executor = ContainerExecutor(small(backend, disk_mb=32))
    spec = job(tmp_path, WRITE_MIB, command=("python", "solution.py", "/tmp", "1024"))
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.killed == "disk quota", (result.exit_code, result.stdout, result.stderr[-1000:])
    assert result.exit_code != 0 and result.duration_s < 30


async def test_a_disk_quota_named_by_the_job_wins_over_the_backends(backend, tmp_path):
    executor = ContainerExecutor(backend)
    spec = job(tmp_path, WRITE_MIB, command=("python", "solution.py", "/work", "1024"), disk_mb=48)
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.killed == "disk quota", (result.exit_code, result.stdout, result.stderr[-1000:])


FORK_BOMB = r'''
import os, time
print("forking", flush=True)
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
'''


async def test_a_fork_bomb_is_held_at_the_pids_limit_then_ended_and_the_next_job_runs(backend, tmp_path):
    executor = ContainerExecutor(small(backend, pids_limit=32))
    handle = await executor.prepare(job(tmp_path, FORK_BOMB, memory_mb=1024))
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.killed == "too many processes", (result.exit_code, result.stdout[:200], result.stderr[-1000:])
    assert not result.oom and not result.timed_out and result.duration_s < 30
    after = await executor.prepare(job(tmp_path, "print('next')\n"))
    await executor.start(after)
    assert (await executor.wait(after)).stdout == b"next\n"


@pytest.mark.parametrize("bind", [
    "/var/run", "/run", "/run/docker.sock", "/var/run/docker.sock:/docker.sock", "/run/podman/podman.sock",
    "/", "/var", "/var/run/", "/proc", "/sys/fs/cgroup", "/dev", "/srv/engine.sock", "relative/path",
])
def test_a_backend_binding_an_engine_socket_or_run_is_refused(bind):
    from airad.executors.config import ContainerBackend

    with pytest.raises(ValueError, match="ro_binds entry"):
        ContainerExecutor(ContainerBackend(url="unix:///tmp/engine/docker.sock", ro_binds=(bind,)))


def test_a_backend_binding_its_own_engines_socket_dir_is_refused(tmp_path):
    from airad.executors.config import ContainerBackend

    url = f"unix://{tmp_path}/engine/docker.sock"
    for bind in (str(tmp_path), f"{tmp_path}/engine", f"{tmp_path}/engine/docker.sock:/x"):
        with pytest.raises(ValueError, match="ro_binds entry"):
            ContainerExecutor(ContainerBackend(url=url, ro_binds=(bind,)))
    ContainerExecutor(ContainerBackend(url=url, ro_binds=("/usr", "/opt/models:/models", f"{tmp_path}/models")))
