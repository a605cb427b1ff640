"""The local executor, for real: a fresh work dir, read-only inputs, timeouts, and the bwrap sandbox."""

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from airad.executors.base import JobLost, JobSpec
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


async def test_runs_script_and_collects_outputs(executor, layout):
    _, inputs, _ = layout
    code = (
        "import os\nprint(open('input/train.csv').read().strip())\n"
        "print('threads', os.environ['OMP_NUM_THREADS'])\n"
        "open('submission/submission.csv', 'w').write('id,target\\n1,0.5\\n')\n"
        "import sys\nprint('warn', file=sys.stderr)\n"
    )
    result = await executor.wait(await executor.submit(_spec(inputs, code, cpus=2)))
    assert result.exit_code == 0 and not result.timed_out
    assert b"id,x" in result.stdout and b"threads 2" in result.stdout
    assert result.stderr == b"warn\n"
    assert result.outputs == {"submission/submission.csv": b"id,target\n1,0.5\n"}


async def test_nonzero_exit_and_missing_output(executor, layout):
    _, inputs, _ = layout
    result = await executor.wait(await executor.submit(_spec(inputs, "raise SystemExit(3)\n")))
    assert result.exit_code == 3 and result.outputs == {}


async def test_timeout_kills_the_process_group(executor, layout):
    _, inputs, _ = layout
    code = "import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)\n"
    handle = await executor.submit(_spec(inputs, code, timeout_s=1.0))
    result = await executor.wait(handle)
    assert result.timed_out and result.exit_code != 0
    assert result.duration_s < 30
    pgid = json.loads(handle)["pid"]
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


async def test_cancel_stops_a_running_job(executor, layout):
    _, inputs, _ = layout
    handle = await executor.submit(_spec(inputs, "import time\ntime.sleep(300)\n"))
    await executor.cancel(handle)
    with pytest.raises(JobLost):
        await executor.wait(handle)


async def test_each_job_gets_a_fresh_work_dir(executor, layout):
    _, inputs, _ = layout
    await executor.wait(await executor.submit(_spec(inputs, "open('left-over', 'w').write('x')\n")))
    result = await executor.wait(await executor.submit(_spec(inputs, "import os\nprint(os.path.exists('left-over'))\n")))
    assert result.stdout.strip() == b"False"


async def test_sandbox_hides_state_blocks_network_and_protects_inputs(layout):
    require("bwrap")
    root, inputs, secret = layout
    executor = LocalExecutor(root / "state" / "work", sandbox=True, hidden=((root / "state").resolve(),))
    code = f"""
import os, socket
print("answers visible:", os.path.exists({str(secret / 'answers.csv')!r}))
try:
    open("input/train.csv", "a").write("tamper")
    print("input writable")
except OSError:
    print("input read-only")
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("network reachable")
except OSError:
    print("network blocked")
print("env keys:", sorted(k for k in os.environ if "KEY" in k or "TOKEN" in k))
"""
    os.environ["AIRAD_TEST_API_KEY"] = "sk-secret"
    try:
        result = await executor.wait(await executor.submit(_spec(inputs, code)))
    finally:
        del os.environ["AIRAD_TEST_API_KEY"]
    out = result.stdout.decode()
    assert "answers visible: False" in out
    assert "input read-only" in out
    assert "network blocked" in out
    assert "env keys: []" in out
    assert (inputs / "train.csv").read_text() == "id,x\n1,2\n"


async def test_a_new_executor_cancels_a_job_left_by_a_dead_daemon(executor, layout):
    root, inputs, _ = layout
    handle = await executor.submit(_spec(inputs, "import time\ntime.sleep(300)\n", job_id="run/7"))
    pgid = json.loads(handle)["pid"]
    restarted = LocalExecutor(executor.work_root, sandbox=executor.sandboxed, hidden=executor.hidden)
    await restarted.cancel(handle)
    for _ in range(100):
        if not _live_group_members(pgid):
            break
        await anyio.sleep(0.1)
    assert _live_group_members(pgid) == []


async def test_cancel_by_a_stale_handle_leaves_other_processes_alone(executor, layout):
    _, inputs, _ = layout
    bystander = await anyio.open_process(["sleep", "30"], start_new_session=True)
    try:
        handle = json.dumps({"job_id": "run/9", "dir": str(executor.work_root / "run/9"), "pid": bystander.pid})
        await LocalExecutor(executor.work_root, sandbox=False).cancel(handle)
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
    result = await executor.wait(await executor.submit(_spec(inputs, "import json\nprint(\"ok\")\n")))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == b"ok\n"
