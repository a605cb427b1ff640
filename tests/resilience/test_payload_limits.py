"""Payload limits of a node's output: a script that writes gigabytes to stdout, or a million lines, is
recorded with bounded memory (the first and last MiB kept around a marker saying how much was written),
and the run goes on. (An oversized request: test_fuzz_requests.py.)"""

from __future__ import annotations

import time

import anyio
import pytest

from airad.daemon.runner import drive_run
from airad.daemon.run_services import RunServices
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.executors import base, job_script
from airad.executors.base import JobSpec
from airad.executors.local import LocalExecutor
from airad.schemas.events import RunSubmitted
from airad.schemas.request import Budget, BundledTask, GreedyPolicy, RunRequest
from tests.fakes import ScriptedLLM
from tests.resilience.helpers import tag

GIGABYTES = 3 << 30
# Seeks stdout (a file) 3 GiB ahead: a sparse file as big as gigabytes of output, cheap on disk.
HUGE = f"""import os, sys
print("first line", flush=True)
os.lseek(1, {GIGABYTES}, os.SEEK_SET)
os.write(1, b"last line\\n")
sys.stderr.write("e" * (3 << 20))
"""
MILLION = 'import sys\nsys.stdout.write("".join(f"line {i}\\n" for i in range(1_000_000)))\n'


async def _run_job(tmp_path, code: str):
    executor = LocalExecutor(tmp_path / "jobs")
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    handle = await executor.prepare(JobSpec(job_id="big/0", files={"solution.py": code}, inputs_dir=str(inputs), timeout_s=120))
    await executor.start(handle)
    return await executor.wait(handle)


async def test_gigabytes_of_stdout_are_kept_as_head_and_tail(tmp_path):
    result = await _run_job(tmp_path, HUGE)
    assert result.exit_code == 0
    limit = base.OUTPUT_HEAD_BYTES + base.OUTPUT_TAIL_BYTES + 200
    assert len(result.stdout) <= limit and len(result.stderr) <= limit
    assert result.stdout.startswith(b"first line\n") and result.stdout.endswith(b"last line\n")
    assert f"output truncated: {GIGABYTES + len('last line') + 1} bytes written".encode() in result.stdout
    assert b"output truncated: 3145728 bytes written" in result.stderr


async def test_a_million_lines_are_recorded(tmp_path):
    result = await _run_job(tmp_path, MILLION)
    assert result.exit_code == 0
    assert result.stdout.startswith(b"line 0\n") and result.stdout.endswith(b"line 999999\n")
    assert b"output truncated" in result.stdout and len(result.stdout) < 3 << 20


def test_small_output_is_kept_whole(tmp_path):
    path = tmp_path / "stdout"
    path.write_bytes(b"x" * 1000)
    assert job_script.read_capped(path, head=600, tail=400) == b"x" * 1000
    assert job_script.read_capped(path, head=10, tail=10).count(b"x") == 20
    assert job_script.read_capped(tmp_path / "missing") == b""


@pytest.mark.parametrize("code", [HUGE, MILLION], ids=["gigabytes", "million-lines"])
async def test_a_run_whose_script_floods_its_output_goes_on(tmp_path, code):
    answer = f"Plan: flood the output.\n```python\n{code}```\n"
    services = RunServices(
        log=InMemoryEventLog(), blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=ScriptedLLM(lambda prompt: answer),
        executors={"local": LocalExecutor(tmp_path / "jobs")}, limiters={"local": anyio.CapacityLimiter(1)},
        tasks_root=tmp_path / "tasks", owner="test",
    )
    request = RunRequest(task=BundledTask(name="wine"), policy=GreedyPolicy(num_drafts=2), budget=Budget(max_nodes=2))
    await services.log.append(RunSubmitted(run_id="flood", seq=1, at=time.time(), request=request))
    state = await drive_run(services, "flood")
    assert state.terminal and len(state.nodes) == 2
    executed = [e for e in await services.log.read("flood") if tag(e) == "node.executed"]
    assert len(executed) == 2
    for event in executed:
        stdout = await services.blobs.get(event.stdout_ref)
        assert b"output truncated" in stdout and len(stdout) < 3 << 20, (event.exit_code, event.stderr_tail[-500:])
        assert len(event.stdout_tail) <= 4001


def test_a_stream_read_piece_by_piece_keeps_its_head_and_tail():
    from airad.executors.container import HeadTail

    data = bytes(range(256)) * 40
    for head, tail in ((100, 200), (6000, 6000), (1, 1)):
        kept = HeadTail(head, tail)
        for start in range(0, len(data), 97):
            kept.add(data[start:start + 97])
        expected = data if len(data) <= head + tail else (
            data[:head] + base.truncation_marker(len(data), head, tail) + data[-tail:])
        assert kept.value() == expected


async def test_the_daemons_output_file_limit_reaches_every_executor_it_builds(tmp_path):
    from airad.daemon.backends import build_backends
    from airad.daemon.settings import load_settings

    settings = load_settings(env={"AIRAD_STATE_DIR": str(tmp_path / "state"), "AIRAD_MAX_OUTPUT_FILE_MB": "1",
                                  "AIRAD_SLURM": '{"root": "/shared/jobs"}',
                                  "AIRAD_CONTAINER": '{"url": "unix:///nowhere.sock"}'})
    backends = build_backends(settings, {})
    assert {name: b.executor.output_limit_bytes for name, b in backends.items()} == {
        "local": 1 << 20, "container": 1 << 20, "slurm": 1 << 20}
    executor = backends["local"].executor
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    code = 'import os\nos.makedirs("out", exist_ok=True)\nopen("out/big.csv", "w").write("x" * (2 << 20))\nopen("out/small.csv", "w").write("ok")\n'
    handle = await executor.prepare(JobSpec(job_id="limit/0", files={"solution.py": code}, inputs_dir=str(inputs),
                                            timeout_s=60, outputs=("out/big.csv", "out/small.csv")))
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.outputs == {"out/small.csv": b"ok"}
    assert result.stderr.endswith(base.output_too_big_note("out/big.csv", 2 << 20, 1 << 20))
