"""Run jobs on a Slurm cluster: one batch job per node script, submitted held so that its Slurm id is
in the handle before it can run.

`prepare` stages the job dir under the backend's `root` (a filesystem the compute nodes share) and
submits it with `sbatch --hold`; `start` releases the hold; `wait` polls `squeue` (one query a round
for every job being waited on: `slurm_states`) until the job is in a final state, then reads what
the shared wrapper (`job_script`) left in the dir and adds what Slurm knows (a time limit, an OOM
kill, a node failure, someone's scancel); `cancel` marks the dir cancelled and scancels the job.
Unless `sandbox = false`, a job starts through `sandbox_launch`, which puts it in bubblewrap on the
compute node. A requeued or preempted-and-requeued job reruns under the same id, so `wait` simply
goes on waiting. The Slurm commands run on this host or, with `login`, over SSH.
"""

from __future__ import annotations

import asyncio
import json
import math
import posixpath
import re
import shlex
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from msgspec.structs import replace

from airad.executors import job_script
from airad.executors.base import OUTPUT_FILE_LIMIT_BYTES, JobLost, JobResult, JobSpec, decode_handle, encode_handle
from airad.executors.config import SlurmBackend
from airad.executors.local import thread_limits
from airad.executors.sandbox_launch import tmp_size_mb
from airad.executors.slurm_commands import (
    Commands,
    Completed,
    LocalCommands,
    SshCommands,
    pack,
    read_outputs,
    read_tree,
    write_tree,
)
from airad.executors.slurm_states import UNKNOWN_JOB, SqueueStates
from airad.executors.ssh import REMOTE_ENV
from airad.executors.ssh_sandbox import launcher_source

HANDLE_FIELDS = ("slurm_id", "dir", "timeout_s", "outputs", "memory")
TIME_GRACE_S = 60.0
POLL_MAX_S = 2.0
PREEMPTED_GRACE_S = 60.0
UNREACHABLE_S = 600.0
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE"}
KILLED = {
    "CANCELLED": "cancelled by Slurm",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "node failure",
    "PREEMPTED": "preempted",
    "DEADLINE": "deadline passed",
}
FINISHED_JOB = b"already finished"
TRANSIENT = (
    b"Unable to contact slurm controller",
    b"Socket timed out",
    b"Zero Bytes were transmitted",
    b"standby mode",
)
SLURM_ERR = "slurm.err"
LAUNCHER = "sandbox_launch.py"
DEVICES = "devices"
PASS_DEVICES = f'CUDA_VISIBLE_DEVICES=$(cat ../{DEVICES}); export CUDA_VISIBLE_DEVICES; exec "$@"'
MARK_CANCELLED = f'[ -d "$1" ] && [ ! -f "$1/{job_script.EXIT_CODE}" ] && : > "$1/{job_script.CANCELLED}"; exit 0'
RESULT_FILES = (
    job_script.EXIT_CODE,
    f"{job_script.STARTED}/at",
    "ended_at",
    "stdout",
    "stderr",
    job_script.CANCELLED,
    SLURM_ERR,
    job_script.LIMIT_HIT,
)


def safe_name(job_id: str) -> str:
    """`job_id` in characters fit for a file or Slurm job name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:80]


def relative_path(name: str) -> str:
    """`name` if it stays inside the work dir, else ValueError."""
    path = posixpath.normpath(name)
    if path.startswith(("/", "..")) or path == ".":
        raise ValueError(f"output {name!r} is not a path inside the work dir")
    return path


class SlurmExecutor:
    """Executor on a Slurm cluster. `env` is set for every Slurm command (SLURM_CONF for a cluster
    other than the host's default, a PATH where the tools are elsewhere): as the environment of a
    local command, in front of each remote one on the login node."""

    name = "slurm"

    def __init__(
        self,
        backend: SlurmBackend,
        *,
        env: Mapping[str, str] = {},
        commands: Commands | None = None,
        output_limit_bytes: int = OUTPUT_FILE_LIMIT_BYTES,
        hidden_packages: dict[str, tuple[str, ...]] | None = None,
    ):
        self.backend = backend
        self.hidden_packages = {name: list(dirs) for name, dirs in (hidden_packages or {}).items()}
        self.output_limit_bytes = output_limit_bytes
        if commands is None and backend.login is not None:
            commands = SshCommands(backend.login, backend.root, env)
        self.commands = commands or LocalCommands(env)
        self.states = SqueueStates(self._ask)

    async def prepare(self, spec: JobSpec) -> str:
        """Write the job dir and submit it held; the handle carries the Slurm job id and the dir."""
        outputs = [relative_path(name) for name in spec.outputs]
        job_dir = posixpath.join(self.backend.root, f"{safe_name(spec.job_id)}-{uuid.uuid4().hex[:8]}")
        inputs = await self.commands.inputs_path(Path(spec.inputs_dir))
        files = {f"{job_script.WORK}/{name}": text.encode() for name, text in spec.files.items()}
        files[job_script.SCRIPT] = self._script(spec, job_dir).encode()
        if self.backend.sandbox is not False:
            files[LAUNCHER] = launcher_source().encode()
        dirs = sorted({f"{job_script.WORK}/{posixpath.dirname(name)}" for name in outputs} | {job_script.WORK})
        await write_tree(self.commands, job_dir, pack(files, dirs, {f"{job_script.WORK}/input": inputs}))
        done = await self.commands.run(["sbatch", *self._sbatch_options(spec, job_dir)])
        if done.returncode != 0:
            await self.commands.run(["rm", "-rf", "--", job_dir])
            raise RuntimeError(f"sbatch failed for job {spec.job_id}: {done.error}")
        slurm_id = done.stdout.decode().strip().split(";")[0]
        return encode_handle(
            slurm_id=slurm_id,
            dir=job_dir,
            timeout_s=spec.timeout_s,
            outputs=outputs,
            memory=self._ulimit(spec),
        )

    def _ulimit(self, spec: JobSpec) -> bool:
        """Whether the wrapper limits memory with `ulimit -v`: not for GPU jobs, whose CUDA runtime
        reserves far more address space than it uses (Slurm's own `--mem` limit holds for them)."""
        return spec.memory_mb is not None and spec.gpus == 0

    def _script(self, spec: JobSpec, job_dir: str) -> str:
        argv = list(spec.command)
        if argv and argv[0] == "python":
            argv[0] = self.backend.python
        home = posixpath.join(job_dir, job_script.WORK)
        if self.backend.sandbox is not False:
            sandbox = {
                "python": self.backend.python,
                "root": self.backend.root,
                "hidden": [*self.backend.hidden, *spec.hidden],
                "ro_binds": list(self.backend.ro_binds),
                "hidden_packages": self.hidden_packages if spec.hide_dataset_packages else {},
                "tmp_mb": tmp_size_mb(spec.disk_mb, spec.memory_mb),
                "work": home,
                "gpus": spec.gpus > 0,
                "required": bool(self.backend.sandbox),
            }
            argv = [self.backend.python, posixpath.join(job_dir, LAUNCHER), "run", json.dumps(sandbox), "--", *argv]
        if spec.gpus:
            argv = ["/bin/sh", "-c", PASS_DEVICES, "sh", *argv]
        env = {**REMOTE_ENV, **thread_limits(spec.cpus), "HOME": home, **spec.env}
        memory = spec.memory_mb if self._ulimit(spec) else None
        limits = job_script.Limits(memory_mb=memory, processes=spec.processes, disk_mb=spec.disk_mb)
        return job_script.render(argv, timeout_s=spec.timeout_s, env=env, limits=limits, once=False)

    def _sbatch_options(self, spec: JobSpec, job_dir: str) -> list[str]:
        script = shlex.quote(posixpath.join(job_dir, job_script.SCRIPT))
        launch = f"exec /bin/sh {script}"
        if spec.gpus:
            launch = f'printf %s "${{CUDA_VISIBLE_DEVICES-}}" > {DEVICES}; {launch}'
        options = [
            "--hold",
            "--parsable",
            "--requeue",
            "--export=NONE",
            "--propagate=NONE",
            f"--job-name=airad-{safe_name(spec.job_id)}",
            f"--time={math.ceil((spec.timeout_s + TIME_GRACE_S) / 60)}",
            f"--cpus-per-task={spec.cpus}",
            f"--chdir={job_dir}",
            f"--output={posixpath.join(job_dir, 'slurm.out')}",
            f"--error={posixpath.join(job_dir, SLURM_ERR)}",
        ]
        if spec.memory_mb is not None:
            options.append(f"--mem={spec.memory_mb}")
        if spec.gpus:
            options.append(f"--gres=gpu:{spec.gpus}")
        if self.backend.partition:
            options.append(f"--partition={self.backend.partition}")
        return [*options, f"--wrap={launch}"]

    async def start(self, handle: str) -> None:
        """Release the hold. A job that runs, ended or is long gone is left alone."""
        slurm_id = decode_handle(handle, *HANDLE_FIELDS)["slurm_id"]
        done = await self._ask("scontrol", "release", slurm_id)
        if done.returncode != 0 and UNKNOWN_JOB not in done.stderr and FINISHED_JOB not in done.stderr:
            raise RuntimeError(f"cannot release Slurm job {slurm_id}: {done.error}")

    async def wait(self, handle: str) -> JobResult:
        """Wait until Slurm is done with the job, collect the wrapper's files, remove the job dir."""
        job = decode_handle(handle, *HANDLE_FIELDS)
        slurm_id, job_dir = job["slurm_id"], job["dir"]
        state = await self._final_state(slurm_id)
        files = await read_tree(self.commands, job_dir, RESULT_FILES, capped=("stdout", "stderr"))
        if files is None:
            raise JobLost(f"Slurm job {slurm_id}: its dir {job_dir} is gone")
        if state is None and job_script.EXIT_CODE not in files:
            raise JobLost(f"Slurm job {slurm_id} is unknown to the cluster and left no exit status")
        outputs, notes = await read_outputs(
            self.commands,
            posixpath.join(job_dir, job_script.WORK),
            job["outputs"],
            self.output_limit_bytes,
        )
        result = job_script.result_from_files(
            limit_hit=files.get(job_script.LIMIT_HIT),
            exit_text=files.get(job_script.EXIT_CODE, b""),
            started_at=job_script.parse_number(files.get(f"{job_script.STARTED}/at")),
            ended_at=job_script.parse_number(files.get("ended_at")),
            timeout_s=job["timeout_s"],
            memory_limited=job["memory"],
            cancelled=job_script.CANCELLED in files,
            stdout=files.get("stdout", b""),
            stderr=files.get("stderr", b"") + files.get(SLURM_ERR, b"") + notes,
            outputs=outputs,
        )
        await self.commands.run(["rm", "-rf", "--", job_dir])
        return with_slurm_state(result, state)

    async def _final_state(self, slurm_id: str) -> str | None:
        """Poll squeue until the job is in a final state; None once the cluster has forgotten it and
        accounting (if any) does not know it either."""
        delay, preempted_since = 0.2, None
        while True:
            state = await self.states.state(slurm_id)
            if state is None:
                return await self._accounted_state(slurm_id)
            if state in FINAL:
                return state
            if state == "PREEMPTED":
                preempted_since = preempted_since or time.monotonic()
                if time.monotonic() - preempted_since > PREEMPTED_GRACE_S:
                    return state
            else:
                preempted_since = None
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_S)

    async def _accounted_state(self, slurm_id: str) -> str | None:
        """The job's final state from accounting; None when accounting is off or does not know it."""
        done = await self.commands.run(["sacct", "-n", "-X", "-P", "-j", slurm_id, "-o", "State"])
        lines = done.stdout.decode().split()
        return lines[0] if done.returncode == 0 and lines else None

    async def _ask(self, *argv: str) -> Completed:
        """Run a Slurm command, retrying while the controller cannot be reached (for UNREACHABLE_S)."""
        delay, since = 0.5, time.monotonic()
        while True:
            done = await self.commands.run(argv)
            if done.returncode == 0 or not any(marker in done.stderr for marker in TRANSIENT):
                return done
            if time.monotonic() - since > UNREACHABLE_S:
                raise JobLost(f"Slurm unreachable for {UNREACHABLE_S:.0f}s: {done.error}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def cancel(self, handle: str) -> None:
        """Mark the job cancelled and scancel it; an unknown or finished job is left alone."""
        try:
            job = decode_handle(handle, *HANDLE_FIELDS)
        except JobLost:
            return
        await self.commands.run(["sh", "-c", MARK_CANCELLED, "sh", job["dir"]])
        await self.commands.run(["scancel", job["slurm_id"]])

    async def aclose(self) -> None:
        """Stop polling and close the SSH link to the login node, if any (the jobs go on)."""
        await self.states.aclose()
        await self.commands.close()


def with_slurm_state(result: JobResult, state: str | None) -> JobResult:
    """`result` with what Slurm's final `state` adds: its time limit, an OOM kill, a cancel or failure."""
    if state == "TIMEOUT":
        return replace(result, timed_out=True)
    if state == "OUT_OF_MEMORY":
        return replace(result, oom=True)
    if result.killed is None and state in KILLED:
        return replace(result, killed=KILLED[state])
    if result.killed is None and result.exit_code is None and state:
        return replace(result, killed=f"ended by Slurm as {state}")
    return result
