"""The local executor beyond the shared contract: thread caps, process groups, fresh dirs, read-only
inputs, and killing jobs left by a dead daemon without touching anything else."""

import json
import os
import sys
from pathlib import Path

import anyio
import pytest
import structlog.testing

from airad.executors import job_script
from airad.executors.base import JobSpec
from airad.executors.local import job_dir_name
from airad.executors.local import LocalExecutor
from tests.conftest import require

pytestmark = pytest.mark.integration


@pytest.fixture
def layout(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "train.csv").write_text("id,x\n1,2\n")
    secret = tmp_path / "state" / "tasks" / "private"
    secret.mkdir(parents=True)
    (secret / "answers.csv").write_text("id,target\n1,1\n")
    return tmp_path, inputs, secret


def _spec(inputs, code, job_id="run/0", timeout_s=60.0, **kw):
    return JobSpec(job_id=job_id, files={"solution.py": code}, inputs_dir=str(inputs), timeout_s=timeout_s, **kw)


@pytest.fixture(params=["sandbox", "plain"])
def executor(request, layout):
    root, _, _ = layout
    if request.param == "sandbox":
        require("bwrap")
        return LocalExecutor(root / "state" / "work", sandbox=True, hidden=((root / "state").resolve(),))
    return LocalExecutor(root / "state" / "work", sandbox=False)


async def run(executor, spec):
    handle = await executor.prepare(spec)
    await executor.start(handle)
    return await executor.wait(handle)


async def started(executor, spec) -> tuple[str, int]:
    """Start a job and return its handle and process group once the wrapper has recorded it."""
    handle = await executor.prepare(spec)
    await executor.start(handle)
    pid_file = Path(json.loads(handle)["dir"]) / job_script.STARTED / "pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            return handle, int(pid_file.read_text())
        await anyio.sleep(0.05)
    raise AssertionError("the job never started")


async def test_thread_pools_are_capped_at_the_jobs_cpus(executor, layout):
    _, inputs, _ = layout
    code = "import os\nprint('threads', *(os.environ[k] for k in ('OMP_NUM_THREADS', 'LOKY_MAX_CPU_COUNT', 'OMP_WAIT_POLICY')))\n"
    result = await run(executor, _spec(inputs, code, cpus=2))
    assert result.exit_code == 0 and b"threads 2 2 PASSIVE" in result.stdout


async def test_timeout_kills_the_whole_process_group(executor, layout):
    _, inputs, _ = layout
    code = "import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)\n"
    handle, pgid = await started(executor, _spec(inputs, code, timeout_s=1.0))
    result = await executor.wait(handle)
    assert result.timed_out and result.exit_code != 0
    assert result.duration_s < 30
    await _until_gone(pgid)


async def _until_gone(pgid: int) -> None:
    for _ in range(100):
        if not _live_group_members(pgid):
            break
        await anyio.sleep(0.1)
    assert _live_group_members(pgid) == []


def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are not zombies (an orphaned zombie waits for init to reap it)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


async def test_each_job_gets_a_fresh_work_dir(executor, layout):
    _, inputs, _ = layout
    await run(executor, _spec(inputs, "open('left-over', 'w').write('x')\n"))
    result = await run(executor, _spec(inputs, "import os\nprint(os.path.exists('left-over'))\n"))
    assert result.stdout.strip() == b"False"


async def test_the_job_dir_is_removed_once_the_result_is_collected(executor, layout):
    _, inputs, _ = layout
    handle = await executor.prepare(_spec(inputs, "print('hi')\n", job_id="run-1/3"))
    job_dir = Path(json.loads(handle)["dir"])
    assert job_dir.name == job_dir_name("run-1/3") == "run-1_3"
    await executor.start(handle)
    await executor.wait(handle)
    assert not job_dir.exists()


async def test_sandbox_protects_the_inputs(layout):
    require("bwrap")
    root, inputs, _ = layout
    executor = LocalExecutor(root / "state" / "work", sandbox=True, hidden=((root / "state").resolve(),))
    code = """
try:
    open("input/train.csv", "a").write("tamper")
    print("input writable")
except OSError:
    print("input read-only")
"""
    result = await run(executor, _spec(inputs, code))
    assert b"input read-only" in result.stdout
    assert (inputs / "train.csv").read_text() == "id,x\n1,2\n"


async def test_a_new_executor_cancels_a_job_left_by_a_dead_daemon(executor, layout):
    _, inputs, _ = layout
    handle, pgid = await started(executor, _spec(inputs, "import time\ntime.sleep(300)\n", job_id="run/7"))
    restarted = LocalExecutor(executor.work_root, sandbox=executor.sandboxed, hidden=executor.hidden)
    await restarted.cancel(handle)
    await _until_gone(pgid)
    result = await restarted.wait(handle)
    assert result.killed == "cancelled"


async def test_cancel_by_a_stale_handle_leaves_other_processes_alone(executor, layout):
    _, inputs, _ = layout
    bystander = await anyio.open_process(["sleep", "30"], start_new_session=True)
    try:
        stale = executor.work_root / "run_9"
        (stale / job_script.STARTED).mkdir(parents=True)
        (stale / job_script.STARTED / "pid").write_text(f"{bystander.pid}\n")
        await LocalExecutor(executor.work_root, sandbox=False).cancel(json.dumps({"dir": str(stale)}))
        assert bystander.returncode is None and _live_group_members(bystander.pid) == [bystander.pid]
    finally:
        bystander.kill()
        await bystander.wait()


async def test_sandbox_keeps_an_interpreter_that_lives_under_tmp(layout):
    require("bwrap")
    root, inputs, _ = layout
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    executor = LocalExecutor(root / "state" / "work", python=str(python), sandbox=True,
                             hidden=((root / "state").resolve(),))
    result = await run(executor, _spec(inputs, "import json\nprint(\"ok\")\n"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == b"ok\n"


async def test_sandbox_hides_the_dirs_a_job_names_as_hidden(layout, tmp_path):
    require("bwrap")
    root, inputs, _ = layout
    answers = tmp_path / "competition" / "private"
    answers.mkdir(parents=True)
    (answers / "test.csv").write_text("id,label\n1,secret\n")
    (answers.parent / "public.csv").write_text("id\n1\n")
    executor = LocalExecutor(
        root / "state" / "work", sandbox=True, hidden=((root / "state").resolve(),), ro_binds=(str(answers.parent),),
    )
    code = (
        f"import os\nprint(sorted(os.listdir({str(answers.parent)!r})), os.listdir({str(answers)!r}))\n"
        f"print(os.listdir({str(root / 'state')!r}), os.path.exists({str(tmp_path / 'elsewhere')!r}))\n"
    )
    (tmp_path / "elsewhere").mkdir()
    result = await run(executor, _spec(inputs, code, hidden=(str(answers),)))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == b"['private', 'public.csv'] []\n['work'] False\n", (
        "a hidden dir inside a visible tree is empty; of the state dir only the way to the job's own work dir shows; "
        "what is not allowed is absent"
    )


async def test_a_job_claimed_by_a_wrapper_that_died_before_running_it_is_lost_not_waited_on(executor, layout):
    from airad.executors.base import JobLost, decode_handle
    from airad.executors.local import START_GRACE_S

    root, inputs, _ = layout
    handle = await executor.prepare(_spec(inputs, "print('never runs')"))
    claimed = Path(decode_handle(handle, "dir")["dir"]) / job_script.STARTED
    claimed.mkdir()  # what a wrapper killed right after its claim leaves behind: no `at`, no pid
    past = claimed.stat().st_mtime - START_GRACE_S - 1
    os.utime(claimed, (past, past))
    fresh = LocalExecutor(root / "state" / "work", sandbox=executor.sandboxed)  # the next daemon's executor
    await fresh.start(handle)  # a no-op: the job was claimed already
    with anyio.fail_after(30), pytest.raises(JobLost, match="never ran"):
        await fresh.wait(handle)


def _unusable_bwrap(monkeypatch):
    """Make the host's probe find a bwrap that cannot create namespaces (as under a locked-down kernel)."""
    from airad.executors import sandbox_launch

    real = sandbox_launch.probe

    def probe(*args):
        return {**real(*args), "bwrap": None, "problem": "bwrap cannot make a sandbox here: No permissions"}

    monkeypatch.setattr(sandbox_launch, "probe", probe)


async def test_an_unusable_bwrap_means_plain_jobs_unless_the_sandbox_is_required(layout, monkeypatch):
    require("bwrap")
    root, inputs, _ = layout
    _unusable_bwrap(monkeypatch)
    auto = LocalExecutor(root / "auto")
    with structlog.testing.capture_logs() as logs:
        handle = await auto.prepare(_spec(inputs, "print(open('input/train.csv').read())"))
    assert not auto.sandboxed
    assert [(e["event"], e["jobs"]) for e in logs if e["log_level"] == "warning"] == [("sandbox.unavailable", "unsandboxed")]
    await auto.start(handle)
    result = await auto.wait(handle)
    assert result.exit_code == 0 and b"id,x" in result.stdout
    required = LocalExecutor(root / "required", sandbox=True)
    with pytest.raises(RuntimeError, match="sandbox = true but bwrap cannot make a sandbox here: No permissions"):
        await required.prepare(_spec(inputs, "print('never')"))


async def test_ro_binds_show_a_cache_inside_the_hidden_home_read_only(layout):
    require("bwrap")
    import shutil
    import uuid

    root, inputs, _ = layout
    cache = Path.home() / f".airad-test-cache-{uuid.uuid4().hex[:8]}"
    (cache / "weights").mkdir(parents=True)
    (cache / "weights" / "model.txt").write_text("pretrained")
    beside = Path.home() / f".airad-test-secret-{uuid.uuid4().hex[:8]}"
    beside.write_text("credentials")
    try:
        executor = LocalExecutor(root / "work", sandbox=True, ro_binds=(f"~/{cache.name}", f"{cache}:/tmp/models", "/no/such/dir"))
        code = f"""
import os
print("cache", open({str(cache / 'weights' / 'model.txt')!r}).read())
print("mapped", open("/tmp/models/weights/model.txt").read())
for name, action in [("beside", lambda: open({str(beside)!r}).read()),
                     ("write-cache", lambda: open({str(cache / 'x')!r}, "w").write("x"))]:
    try:
        print("OPEN", name, action())
    except OSError as exc:
        print("blocked", name, type(exc).__name__)
"""
        handle = await executor.prepare(_spec(inputs, code))
        await executor.start(handle)
        result = await executor.wait(handle)
    finally:
        shutil.rmtree(cache)
        beside.unlink()
    assert result.exit_code == 0, result.stderr
    assert b"cache pretrained" in result.stdout and b"mapped pretrained" in result.stdout
    assert b"blocked beside" in result.stdout and b"blocked write-cache" in result.stdout
