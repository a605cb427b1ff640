"""The job wrapper's limits (`job_script.Limits`) and how the limit a job hit becomes its result,
and the sandbox's allow-list of mounts (`sandbox_launch`), without running anything."""

from __future__ import annotations

from airad.executors import job_script, sandbox_launch
from airad.executors.job_script import Limits, render, result_from_files

V1 = {"version": 1, "base": {"memory": "/cg/memory/airad-jobs", "pids": "/cg/pids/airad-jobs", "cpu": "/cg/cpu/airad-jobs"}}
V2 = {"version": 2, "base": "/cg/airad-jobs"}


def _result(code: int, hit: str = "", stderr: bytes = b"", cancelled: bool = False):
    return result_from_files(
        exit_text=str(code), started_at=1.0, ended_at=2.0, timeout_s=60, memory_limited=True, cancelled=cancelled,
        stdout=b"", stderr=stderr, outputs={}, limit_hit=hit,
    )


def test_a_cgroup_v1_wrapper_sets_every_limit_joins_before_exec_and_kills_the_whole_group():
    script = render(["python", "solution.py"], timeout_s=30, env={}, limits=Limits(
        memory_mb=256, processes=64, cpus=2, disk_mb=100, cgroups=V1, cgroup_name="run-1_0-ab", owner=65534,
    ))
    assert "echo 268435456 > /cg/memory/airad-jobs/run-1_0-ab/memory.limit_in_bytes" in script
    assert "echo 64 > /cg/pids/airad-jobs/run-1_0-ab/pids.max" in script
    assert "echo 200000 > /cg/cpu/airad-jobs/run-1_0-ab/cpu.cfs_quota_us" in script
    join = script.index("echo 0 > /cg/memory/airad-jobs/run-1_0-ab/cgroup.procs")
    assert join < script.index("exec env -i"), "the job joins its cgroup before it runs"
    assert "ulimit -v" not in script, "a memory cgroup replaces the per-process address-space limit"
    assert "ulimit -f 204800" in script, "no single file may outgrow the disk quota"
    assert script.index("wait $job") < script.index("killall_in /cg/pids/airad-jobs/run-1_0-ab", script.index("wait $job"))
    assert "chown -hR 65534:65534 work" in script
    assert "du -skx work stdout stderr" in script and "-gt 102400" in script


def test_a_cgroup_v2_wrapper_uses_one_dir_and_reads_its_events():
    script = render(["python", "s.py"], timeout_s=30, env={}, limits=Limits(memory_mb=64, processes=8, cgroups=V2, cgroup_name="j"))
    assert "echo 67108864 > /cg/airad-jobs/j/memory.max" in script
    assert "echo 0 > /cg/airad-jobs/j/memory.swap.max" in script
    assert script.count("echo 0 > /cg/airad-jobs/j/cgroup.procs") == 1
    assert "/cg/airad-jobs/j/memory.events" in script and "/cg/airad-jobs/j/pids.events" in script


def test_without_cgroups_memory_falls_back_to_ulimit_and_processes_to_the_users_count():
    script = render(["python", "s.py"], timeout_s=30, env={}, limits=Limits(memory_mb=64, processes=8))
    assert "ulimit -v 65536" in script
    assert "ulimit -p $((" in script and "+ 8 ))" in script
    assert "mkdir -p" not in script and "echo 0 >" not in script, "no cgroup to make or join"


def test_the_limit_a_failed_job_hit_is_what_ended_it():
    assert _result(137, "oom\n").oom and _result(137, "oom\n").killed is None
    assert _result(1, "processes\n").killed == "too many processes"
    assert _result(137, "disk\n").killed == "disk quota"
    assert _result(137, "disk\noom\n").killed == "disk quota"
    assert not _result(0, "processes\noom\n").oom and _result(0, "processes\n").killed is None, "a job that coped succeeded"
    assert _result(137, "disk\n", cancelled=True).killed == "cancelled"
    assert _result(1, "", stderr=b"MemoryError").oom, "an allocation failure under a memory limit is still an OOM"


FOUND = {
    "bwrap": "/usr/bin/bwrap", "setpriv": "/usr/bin/setpriv", "as_root": True, "python_dirs": ["/opt/py"],
    "hidden": ["/opt/py/lib/sklearn/datasets/data", "/home/me", "/srv/state"], "root": "/srv/jobs",
    "ro_binds": [["/models", "/models"]], "cgroups": {},
}


def test_as_root_the_job_drops_to_the_sandbox_uid_in_a_user_namespace_of_its_own():
    argv = sandbox_launch.bwrap_argv(FOUND, "/srv/jobs/j/work", "/srv/inputs/x", gpus=False, tmp_mb=100)
    drop = argv.index("/usr/bin/setpriv")
    assert argv[drop + 1:drop + 3] == [f"--reuid={sandbox_launch.SANDBOX_UID}", f"--regid={sandbox_launch.SANDBOX_UID}"]
    assert "--no-new-privs" in argv[drop:] and "--bounding-set=-all" in argv[drop:]
    inner = argv[drop:]
    assert inner[inner.index("--") + 1] == "/usr/bin/bwrap" and "--disable-userns" in inner and "--unshare-user" in inner
    outer = argv[:drop]
    assert "--unshare-net" in outer and "--unshare-pid" in outer and ["--cap-drop", "ALL"] == outer[outer.index("--cap-drop"):outer.index("--cap-drop") + 2]


def test_the_mounts_are_an_allow_list():
    argv = sandbox_launch.allowed_mounts(FOUND, "/srv/jobs/j/work", "/srv/inputs/x", gpus=False, tmp_mb=100)
    sources = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind", "--ro-bind-try", "--dev-bind")]
    assert "/" not in sources and "/run" not in sources and "/etc/shadow" not in sources and "/etc" not in sources
    assert ["--bind", "/srv/jobs/j/work", "/srv/jobs/j/work"] == argv[argv.index("--bind"):argv.index("--bind") + 3]
    assert ["--tmpfs", "/opt/py/lib/sklearn/datasets/data"] == argv[argv.index("/opt/py/lib/sklearn/datasets/data") - 1:][:2]
    assert "/home/me" not in argv and "/srv/state" not in argv, "a hidden dir that nothing shows needs no cover"
    assert argv[argv.index("/tmp") - 5:argv.index("/tmp")] == ["--perms", "01777", "--size", str(100 << 20), "--tmpfs"]


def test_unprivileged_one_bwrap_does_it_all():
    argv = sandbox_launch.bwrap_argv({**FOUND, "as_root": False, "setpriv": None}, "/w", "/i", gpus=False)
    assert argv.count("/usr/bin/bwrap") == 1 and "--disable-userns" in argv and "/usr/bin/setpriv" not in argv


def test_limit_file_name_is_shared_with_remote_result_lists():
    assert job_script.LIMIT_HIT == "limit_hit"
