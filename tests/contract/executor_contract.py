"""The contract every executor keeps, run against each real implementation.

A test module subclasses `ExecutorContract` and provides two fixtures:
- `executor`: an Executor on a running backend;
- `reopen`: a function returning a *new* Executor on the same backend, as a restarted daemon
  would build it (it shares nothing in memory with `executor`).
Sandboxed executors subclass `SandboxedExecutorContract` instead, which adds the isolation tests,
and provide `secret_path`, a file the daemon can read that a job must not.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path

import pytest

from airad.executors import base
from airad.executors.base import JobLost, JobSpec

MIB = 1024 * 1024


def script(source: str) -> str:
    return textwrap.dedent(source).lstrip()


class ExecutorContract:
    """Behaviour shared by every executor: run, fail, time out, run out of memory, cancel, reattach."""

    @pytest.fixture
    def inputs_dir(self, tmp_path: Path) -> Path:
        inputs = tmp_path / "inputs"
        inputs.mkdir()
        (inputs / "data.csv").write_text("x\n1\n2\n3\n")
        return inputs

    def spec(self, inputs_dir: Path, source: str, **overrides) -> JobSpec:
        fields = dict(
            job_id=f"contract-{uuid.uuid4().hex[:10]}",
            files={"solution.py": script(source)},
            inputs_dir=str(inputs_dir),
            timeout_s=60.0,
            outputs=("submission/submission.csv",),
        )
        fields.update(overrides)
        return JobSpec(**fields)

    async def run(self, executor, spec: JobSpec):
        handle = await executor.prepare(spec)
        await executor.start(handle)
        return await executor.wait(handle)

    async def test_runs_a_script_that_reads_inputs_and_writes_outputs(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            import os
            rows = open("input/data.csv").read().split()
            print("rows", len(rows) - 1)
            os.makedirs("submission", exist_ok=True)
            open("submission/submission.csv", "w").write("id,y\\n1,0.5\\n")
        """))
        assert result.exit_code == 0, result.stderr
        assert b"rows 3" in result.stdout
        assert result.outputs == {"submission/submission.csv": b"id,y\n1,0.5\n"}
        assert not result.timed_out and not result.oom and result.killed is None

    async def test_a_flood_of_output_comes_back_as_its_head_and_tail(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            import sys
            sys.stdout.write("first line\\n")
            for i in range(6):
                sys.stdout.write(str(i) * (1 << 20))
            sys.stdout.write("\\nlast line\\n")
            sys.stderr.write("e" * (3 << 20))
        """))
        assert result.exit_code == 0, result.stderr[-500:]
        bound = base.OUTPUT_HEAD_BYTES + base.OUTPUT_TAIL_BYTES + 200
        assert len(result.stdout) <= bound and len(result.stderr) <= bound
        written = len("first line\n") + 6 * MIB + len("\nlast line\n")
        assert result.stdout.startswith(b"first line\n0000") and result.stdout.endswith(b"5555\nlast line\n")
        assert f"[airad: output truncated: {written} bytes written;".encode() in result.stdout
        assert f"[airad: output truncated: {3 * MIB} bytes written;".encode() in result.stderr

    async def test_an_output_file_over_the_limit_is_not_collected_and_says_why(self, executor, inputs_dir):
        too_big = base.OUTPUT_FILE_LIMIT_BYTES + 1
        result = await self.run(executor, self.spec(inputs_dir, f"""
            import os
            os.makedirs("submission", exist_ok=True)
            with open("submission/submission.csv", "wb") as f:
                f.truncate({too_big})
            print("wrote it")
        """))
        assert result.exit_code == 0, result.stderr[-500:]
        assert result.outputs == {}
        assert result.stderr.endswith(base.output_too_big_note("submission/submission.csv", too_big, too_big - 1))

    @pytest.mark.parametrize("plant, reason", [
        ("linked dir", "submission is a symbolic link"),
        ("linked file", "submission/submission.csv is a symbolic link"),
        ("fifo", "submission/submission.csv is not a regular file (fifo)"),
    ])
    async def test_an_output_behind_a_link_or_not_a_file_is_not_collected_and_says_why(
        self, executor, inputs_dir, plant, reason,
    ):
        """A script that swaps its submission for a link to a file outside its work dir (say, one
        hidden from it that the daemon could read) gets nothing collected, and the reason in stderr."""
        result = await self.run(executor, self.spec(inputs_dir, f"""
            import os, shutil, tempfile
            outside = tempfile.mkdtemp()
            with open(os.path.join(outside, "submission.csv"), "w") as f:
                f.write("id,target\\n1,hidden\\n")
            shutil.rmtree("submission", ignore_errors=True)
            plant = {plant!r}
            if plant == "linked dir":
                os.symlink(outside, "submission")
            else:
                os.makedirs("submission")
                if plant == "linked file":
                    os.symlink(os.path.join(outside, "submission.csv"), "submission/submission.csv")
                else:
                    os.mkfifo("submission/submission.csv")
            print("planted", plant)
        """))
        assert result.exit_code == 0, result.stderr[-500:]
        assert b"planted" in result.stdout
        assert result.outputs == {}
        assert result.stderr.endswith(base.refused_output_note("submission/submission.csv", reason)), result.stderr[-500:]

    async def test_a_failing_script_reports_its_exit_code_and_stderr(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            import sys
            print("about to fail", file=sys.stderr)
            sys.exit(3)
        """))
        assert result.exit_code == 3
        assert b"about to fail" in result.stderr
        assert result.outputs == {}
        assert not result.timed_out

    async def test_a_script_past_its_time_limit_is_stopped_and_marked(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            import time
            print("sleeping", flush=True)
            time.sleep(120)
        """, timeout_s=2.0))
        assert result.timed_out
        assert result.exit_code != 0
        assert result.duration_s < 60

    async def test_a_script_over_its_memory_limit_is_marked_oom(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            blocks = []
            for _ in range(64):
                blocks.append(bytearray(64 * 1024 * 1024))
            print("allocated 4 GiB")
        """, memory_mb=512))
        assert result.oom, (result.exit_code, result.stderr[-500:])
        assert result.exit_code != 0
        assert b"allocated 4 GiB" not in result.stdout

    async def test_cancel_stops_a_running_job(self, executor, inputs_dir):
        spec = self.spec(inputs_dir, """
            import time
            print("started", flush=True)
            time.sleep(120)
        """)
        handle = await executor.prepare(spec)
        await executor.start(handle)
        waiter = asyncio.create_task(executor.wait(handle))
        await asyncio.sleep(2.0)
        await executor.cancel(handle)
        result = await asyncio.wait_for(waiter, 60)
        assert result.killed == "cancelled"
        assert result.exit_code != 0
        assert not result.timed_out

    async def test_a_new_executor_reattaches_to_a_running_job_by_handle(self, executor, reopen, inputs_dir):
        spec = self.spec(inputs_dir, """
            import os, time
            time.sleep(3)
            os.makedirs("submission", exist_ok=True)
            with open("submission/submission.csv", "a") as f:
                f.write("ran\\n")
            print("done")
        """)
        handle = await executor.prepare(spec)
        await executor.start(handle)
        await asyncio.sleep(0.5)
        restarted = reopen()
        await restarted.start(handle)
        result = await restarted.wait(handle)
        assert result.exit_code == 0, result.stderr
        assert b"done" in result.stdout
        assert result.outputs["submission/submission.csv"] == b"ran\n", "the job ran more than once"

    async def test_a_prepared_job_starts_on_a_new_executor(self, executor, reopen, inputs_dir):
        spec = self.spec(inputs_dir, """
            import os
            os.makedirs("submission", exist_ok=True)
            open("submission/submission.csv", "w").write("late start\\n")
        """)
        handle = await executor.prepare(spec)
        restarted = reopen()
        await restarted.start(handle)
        result = await restarted.wait(handle)
        assert result.exit_code == 0, result.stderr
        assert result.outputs["submission/submission.csv"] == b"late start\n"

    async def test_starting_twice_runs_the_job_once(self, executor, inputs_dir):
        spec = self.spec(inputs_dir, """
            import os, time
            os.makedirs("submission", exist_ok=True)
            with open("submission/submission.csv", "a") as f:
                f.write("run\\n")
            time.sleep(1)
        """)
        handle = await executor.prepare(spec)
        await executor.start(handle)
        await executor.start(handle)
        result = await executor.wait(handle)
        await executor.start(handle)
        assert result.outputs["submission/submission.csv"] == b"run\n"

    async def test_an_unknown_handle_is_lost(self, executor):
        with pytest.raises(JobLost):
            await executor.wait('{"nothing": "here"}')

    async def test_the_daemons_secrets_stay_out_of_the_job(self, executor, inputs_dir, monkeypatch):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
        result = await self.run(executor, self.spec(inputs_dir, """
            import os
            print(sorted(os.environ.items()))
            print("MARK", os.environ.get("ONLY_THIS"))
        """, env={"ONLY_THIS": "yes"}))
        assert result.exit_code == 0, result.stderr
        assert b"sk-do-not-leak" not in result.stdout
        assert b"MARK yes" in result.stdout


class SandboxedExecutorContract(ExecutorContract):
    """The contract of an executor that isolates jobs: no network, none of the daemon's files."""

    async def test_a_sandboxed_job_has_no_network(self, executor, inputs_dir):
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            result = await self.run(executor, self.spec(inputs_dir, f"""
                import socket
                for host, port in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("deb.debian.org", 80)]:
                    try:
                        socket.create_connection((host, port), timeout=3).close()
                        print("CONNECTED", host)
                    except OSError as exc:
                        print("blocked", host, type(exc).__name__)
            """))
        finally:
            server.close()
        assert result.exit_code == 0, result.stderr
        assert b"CONNECTED" not in result.stdout
        assert result.stdout.count(b"blocked") == 3

    async def test_a_sandboxed_job_cannot_read_the_daemons_files(self, executor, inputs_dir, secret_path):
        result = await self.run(executor, self.spec(inputs_dir, f"""
            try:
                print("READ", open({str(secret_path)!r}).read())
            except OSError as exc:
                print("denied", type(exc).__name__)
        """))
        assert result.exit_code == 0, result.stderr
        assert b"READ" not in result.stdout and b"denied" in result.stdout


@pytest.fixture
def secret_path(tmp_path: Path) -> Path:
    """A file beside the daemon's state that holds something a job must not read."""
    path = tmp_path / "state" / "tasks" / "private" / "answers.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,label\n1,secret-label\n")
    return path
