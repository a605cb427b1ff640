"""The Slurm executor against a real private single-node Slurm: the executor contract, plus what only a
cluster does (held submission, an admin's scancel, a requeue)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from msgspec.structs import replace

from airad.executors.base import JobResult
from airad.executors.config import SlurmBackend
from airad.executors.slurm import SlurmExecutor, with_slurm_state
from tests.contract.executor_contract import (  # noqa: F401 (secret_path is a contract fixture)
    ExecutorContract, SandboxedExecutorContract, secret_path,
)
from tests.infra.slurm import SlurmCluster
from tests.infra.sshd import Sshd

pytestmark = pytest.mark.integration

JOB_LIMIT_S = 120

SLEEPER = """
    import time
    print("started", flush=True)
    time.sleep(120)
"""
RUNS_TWICE = """
    import os, time
    os.makedirs("submission", exist_ok=True)
    with open("submission/runs.txt", "a") as f:
        f.write("run\\n")
    runs = open("submission/runs.txt").read().count("run")
    print("run", runs, flush=True)
    if runs == 1:
        time.sleep(120)
    open("submission/submission.csv", "w").write(f"runs,{runs}\\n")
"""


@pytest.fixture
def backend(slurm: SlurmCluster, tmp_path: Path) -> SlurmBackend:
    """Jobs as plain processes; the sandboxed and over-SSH classes below change that."""
    return slurm.backend(tmp_path / "jobs", sandbox=False)


class Executors:
    """Builds executors on one backend as a restarted daemon would (sharing nothing), closes them after."""

    def __init__(self, backend: SlurmBackend, env: dict[str, str]):
        self.backend, self.env, self.made = backend, env, []

    def __call__(self) -> SlurmExecutor:
        self.made.append(SlurmExecutor(self.backend, env=self.env))
        return self.made[-1]

    async def aclose(self) -> None:
        for executor in self.made:
            await executor.aclose()


@pytest.fixture
async def reopen(backend: SlurmBackend, slurm: SlurmCluster):
    executors = Executors(backend, slurm.env)
    yield executors
    await executors.aclose()


@pytest.fixture
def executor(reopen) -> SlurmExecutor:
    return reopen()


def job_state(slurm: SlurmCluster, handle: str) -> str:
    slurm_id = json.loads(handle)["slurm_id"]
    return slurm.command("squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T %r").stdout.strip()


async def until_running(slurm: SlurmCluster, handle: str, marker: str = "started") -> None:
    """Until the job runs and its script has printed `marker`."""
    stdout = Path(json.loads(handle)["dir"]) / "stdout"
    for _ in range(300):
        if job_state(slurm, handle).startswith("RUNNING") and stdout.exists() and marker in stdout.read_text():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"job never ran: {job_state(slurm, handle)}\n{slurm.report()}")


class SlurmContract(ExecutorContract):
    """The executor contract with each job bounded in time: a job that hangs fails its test with the
    cluster's own account of it."""

    @pytest.fixture(autouse=True)
    def remember_cluster(self, slurm: SlurmCluster) -> None:
        self.slurm = slurm

    async def run(self, executor, spec):
        handle = await executor.prepare(spec)
        await executor.start(handle)
        return await self.collect(executor, handle)

    async def collect(self, executor, handle: str):
        try:
            return await asyncio.wait_for(executor.wait(handle), JOB_LIMIT_S)
        except asyncio.TimeoutError:
            raise AssertionError(f"job {handle} did not end within {JOB_LIMIT_S}s\n{self.slurm.report()}") from None


class TestSlurmExecutor(SlurmContract):
    """The shared executor contract on the private cluster, then what only a cluster does to a job."""

    async def test_a_prepared_job_is_held_in_the_queue_with_its_id_in_the_handle(self, executor, slurm, inputs_dir):
        handle = await executor.prepare(self.spec(inputs_dir, "print('hi')\n"))
        assert json.loads(handle)["slurm_id"].isdigit()
        await asyncio.sleep(1.5)
        state, reason = job_state(slurm, handle).split()
        assert state == "PENDING" and "Held" in reason
        await executor.cancel(handle)
        result = await self.collect(executor, handle)
        assert result.killed == "cancelled" and result.exit_code is None

    async def test_an_admins_scancel_ends_the_job_as_killed_and_the_executor_goes_on(self, executor, slurm, inputs_dir):
        handle = await executor.prepare(self.spec(inputs_dir, SLEEPER))
        await executor.start(handle)
        await until_running(slurm, handle)
        slurm.command("scancel", json.loads(handle)["slurm_id"])
        result = await self.collect(executor, handle)
        assert result.killed == "cancelled by Slurm"
        assert result.exit_code != 0 and not result.timed_out
        assert b"CANCELLED" in result.stderr
        assert not Path(json.loads(handle)["dir"]).exists()
        after = await self.run(executor, self.spec(inputs_dir, "print('next')\n"))
        assert after.exit_code == 0 and b"next" in after.stdout

    async def test_a_requeued_job_runs_again_and_its_second_run_is_collected(self, executor, slurm, inputs_dir):
        spec = self.spec(inputs_dir, RUNS_TWICE, outputs=("submission/submission.csv", "submission/runs.txt"))
        handle = await executor.prepare(spec)
        await executor.start(handle)
        await until_running(slurm, handle, marker="run 1")
        slurm.command("scontrol", "requeue", json.loads(handle)["slurm_id"])
        result = await self.collect(executor, handle)
        assert result.exit_code == 0, result.stderr
        assert result.killed is None
        assert result.outputs == {"submission/submission.csv": b"runs,2\n", "submission/runs.txt": b"run\nrun\n"}

    async def test_jobs_waited_on_together_share_their_squeue_queries(self, executor, inputs_dir):
        specs = [self.spec(inputs_dir, f"import time; time.sleep(1); print('job {i}')\n") for i in range(5)]
        handles = [await executor.prepare(spec) for spec in specs]
        for handle in handles:
            await executor.start(handle)
        results = await asyncio.gather(*(self.collect(executor, handle) for handle in handles))
        assert [r.exit_code for r in results] == [0] * 5
        assert all(f"job {i}".encode() in r.stdout for i, r in enumerate(results))
        assert executor.states.queries < executor.states.asks, (executor.states.queries, executor.states.asks)

    async def test_a_gpu_job_sees_the_gpu_slurm_gave_it(self, executor, inputs_dir):
        result = await self.run(executor, self.spec(inputs_dir, """
            import os
            print("gpus", os.environ.get("CUDA_VISIBLE_DEVICES"))
        """, gpus=1, memory_mb=512))
        assert result.exit_code == 0, result.stderr
        assert b"gpus 0" in result.stdout


class TestSlurmExecutorOverSsh(SlurmContract):
    """The same contract with the Slurm commands and job files going through a login node over SSH
    (sandboxed where the node has bwrap, as by default)."""

    @pytest.fixture
    async def reopen(self, backend: SlurmBackend, slurm: SlurmCluster, sshd: Sshd):
        executors = Executors(replace(backend, login=sshd.host(link_grace_s=30.0), sandbox=None), slurm.env)
        yield executors
        await executors.aclose()


class TestSlurmSandboxedExecutor(SlurmContract, SandboxedExecutorContract):
    """The sandboxed contract on the cluster: every job in bubblewrap on the compute node, the daemon's
    state dir among the hidden dirs."""

    @pytest.fixture
    async def reopen(self, backend: SlurmBackend, slurm: SlurmCluster, secret_path: Path):
        executors = Executors(replace(backend, sandbox=True, hidden=(str(secret_path.parents[2]),)), slurm.env)
        yield executors
        await executors.aclose()

    async def test_a_job_cannot_see_other_jobs_or_the_nodes_files(self, executor, inputs_dir, backend):
        other = Path(backend.root) / "other-job" / "work" / "notes.txt"
        other.parent.mkdir(parents=True)
        other.write_text("another job's work")
        result = await self.run(executor, self.spec(inputs_dir, f"""
            for name, action in [("other-job", lambda: open({str(other)!r}).read()),
                                 ("write-usr", lambda: open("/usr/airad-escape", "w").write("x")),
                                 ("own-input", lambda: sorted(__import__("os").listdir("input")))]:
                try:
                    print("OPEN", name, action())
                except OSError as exc:
                    print("blocked", name, type(exc).__name__)
        """))
        assert result.exit_code == 0, result.stderr
        assert b"blocked other-job" in result.stdout and b"blocked write-usr" in result.stdout
        assert b"OPEN own-input" in result.stdout

    async def test_without_bwrap_an_unrequired_sandbox_runs_the_job_and_says_so(self, backend, slurm, inputs_dir, monkeypatch):
        from airad.executors import slurm as slurm_module

        source = slurm_module.launcher_source().replace('shutil.which("bwrap"', 'shutil.which("no-such-bwrap"')
        monkeypatch.setattr(slurm_module, "launcher_source", lambda: source)
        executors = Executors(replace(backend, sandbox=None), slurm.env)
        try:
            result = await self.run(executors(), self.spec(inputs_dir, "print('ran plain')\n"))
        finally:
            await executors.aclose()
        assert result.exit_code == 0 and b"ran plain" in result.stdout
        assert b"airad: running unsandboxed: on" in result.stderr and b"bwrap is not installed" in result.stderr

    async def test_a_node_without_bwrap_fails_the_job_saying_why(self, executor, inputs_dir, monkeypatch):
        from airad.executors import slurm as slurm_module

        source = slurm_module.launcher_source().replace('shutil.which("bwrap"', 'shutil.which("no-such-bwrap"')
        monkeypatch.setattr(slurm_module, "launcher_source", lambda: source)
        result = await self.run(executor, self.spec(inputs_dir, "print('ran unsandboxed')\n"))
        assert result.exit_code == 126
        assert b"ran unsandboxed" not in result.stdout
        assert b"sandbox = true but on" in result.stderr and b"bwrap is not installed" in result.stderr


@pytest.mark.parametrize(("state", "field", "value"), [
    ("TIMEOUT", "timed_out", True),
    ("OUT_OF_MEMORY", "oom", True),
    ("CANCELLED", "killed", "cancelled by Slurm"),
    ("NODE_FAIL", "killed", "node failure"),
    ("BOOT_FAIL", "killed", "node failure"),
    ("FAILED", "killed", "ended by Slurm as FAILED"),
])
def test_slurms_final_state_marks_a_job_the_wrapper_did_not_finish(state, field, value):
    unfinished = JobResult(exit_code=None, duration_s=1.0)
    assert getattr(with_slurm_state(unfinished, state), field) == value


def test_a_job_the_wrapper_finished_keeps_its_own_result():
    finished = JobResult(exit_code=3, duration_s=1.0)
    assert with_slurm_state(finished, "COMPLETED") == finished
    cancelled_here = JobResult(exit_code=None, duration_s=0.0, killed="cancelled")
    assert with_slurm_state(cancelled_here, "CANCELLED").killed == "cancelled"
