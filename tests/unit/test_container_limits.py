"""The container executor's create request and limit bookkeeping, without an engine: the job's
unprivileged user, its disk quota and pids limit, and how an ended job's limit is recorded."""

from __future__ import annotations

from airad.executors.base import JobResult, JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container_config import JOB_USER, MIB, create_config, work_archive
from airad.executors.container_limits import DISK_LABEL, LimitWatch, over_disk_quota, with_limit

BACKEND = ContainerBackend(url="unix:///tmp/engine.sock", pids_limit=200, disk_mb=512)


def spec(**fields) -> JobSpec:
    return JobSpec(job_id="unit/limits", files={"solution.py": "print(1)\n", "lib/util.py": ""}, inputs_dir="/data/in", **fields)


def test_a_job_runs_as_nobody_with_no_capabilities_and_its_quota_labelled():
    config = create_config(spec(memory_mb=256), BACKEND)
    host = config["HostConfig"]
    assert config["User"] == JOB_USER == "65534:65534"
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"] and host["Privileged"] is False
    assert host["NetworkMode"] == "none" and config["NetworkDisabled"] is True
    assert host["Memory"] == host["MemorySwap"] == 256 * MIB
    assert "Tmpfs" not in host and "Mounts" not in host and not host.get("ReadonlyRootfs")  # /tmp in the quota'd layer
    assert host["PidsLimit"] == 200
    assert config["Labels"][DISK_LABEL] == str(512 * MIB)
    assert host["Binds"] == ["/data/in:/work/input:ro"]


def test_the_jobs_own_limits_win_over_the_backends_defaults():
    config = create_config(spec(disk_mb=64, processes=40), BACKEND)
    assert config["Labels"][DISK_LABEL] == str(64 * MIB)
    assert config["HostConfig"]["PidsLimit"] == 40


def test_the_work_dir_is_handed_to_the_jobs_uid():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(work_archive({"solution.py": "x", "lib/util.py": ""}))) as tar:
        owners = {member.name: (member.uid, member.gid) for member in tar}
    assert set(owners) == {"work", "work/lib", "work/submission", "work/solution.py", "work/lib/util.py"}
    assert set(owners.values()) == {(65534, 65534)}


def info(size: int | None, quota: int | None, pids: int = 64) -> dict:
    return {"SizeRw": size, "Config": {"Labels": {DISK_LABEL: str(quota)} if quota else {}}, "HostConfig": {"PidsLimit": pids}, "State": {}}


def test_the_disk_quota_is_past_only_above_it():
    assert not over_disk_quota(info(100, 100), 100)
    assert over_disk_quota(info(101, 100), 100)
    assert not over_disk_quota(info(None, 100), 100) and not over_disk_quota(info(10**12, None), None)


async def test_a_job_is_a_fork_bomb_only_after_rounds_at_its_pids_limit(monkeypatch):
    import airad.executors.container_limits as container

    counts = iter([64, 10, 64, 64, 64])

    async def pids(_container):
        return next(counts)

    monkeypatch.setattr(container, "pids_in_use", pids)
    watch = LimitWatch(info(0, 1000))
    assert [await watch.check(None, info(0, 1000)) for _ in range(4)] == [None, None, None, None]
    assert await watch.check(None, info(0, 1000)) == "too many processes"
    assert await LimitWatch(info(2000, 1000)).check(None, info(2000, 1000)) == "disk quota"


def test_a_limit_replaces_an_oom_or_timeout_guess_but_not_a_cancel():
    killed = JobResult(exit_code=137, duration_s=3.0, oom=True, timed_out=False)
    assert with_limit(killed, "disk quota") == JobResult(exit_code=137, duration_s=3.0, killed="disk quota")
    cancelled = JobResult(exit_code=137, duration_s=3.0, killed="cancelled")
    assert with_limit(cancelled, "disk quota") is cancelled
    assert with_limit(killed, None) is killed
