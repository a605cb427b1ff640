"""Run jobs on this host: a fresh work dir each, inside bubblewrap when it is installed.

Every job also runs under coreutils `timeout`, so a job orphaned by a crashed daemon still ends.

In the sandbox the script sees a read-only system, its inputs read-only at `input/`, only its
work dir writable, no network, and none of the hidden paths (the daemon's state: task answers,
other runs). Without bwrap it runs as a plain process group: isolation is then only by directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from airad.executors.base import JobLost, JobResult, JobSpec

KILL_GRACE_S = 5.0
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


def thread_limits(cpus: int) -> dict[str, str]:
    """Cap the thread pools of OpenMP, BLAS and friends at the job's CPUs: oversubscribed spinning
    threads make a one-second fit take minutes on a busy host."""
    value = str(max(1, cpus))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "LOKY_MAX_CPU_COUNT")
    return {name: value for name in names}


def bwrap_path() -> str | None:
    """The bubblewrap binary, if installed."""
    return shutil.which("bwrap")


class LocalExecutor:
    """Executor for this host; jobs live under `work_root/<job_id>/`."""

    name = "local"

    def __init__(
        self,
        work_root: Path,
        *,
        python: str = sys.executable,
        sandbox: bool | None = None,
        hidden: tuple[Path, ...] = (),
    ):
        self.work_root = Path(work_root)
        self.python = python
        self.bwrap = bwrap_path() if sandbox is not False else None
        if sandbox and self.bwrap is None:
            raise RuntimeError("sandbox requested but bwrap is not installed (apt-get install bubblewrap)")
        self.hidden = tuple(Path(p).resolve() for p in hidden)
        self._jobs: dict[str, tuple[asyncio.subprocess.Process, JobSpec, float]] = {}

    @property
    def sandboxed(self) -> bool:
        """Whether jobs run inside bubblewrap."""
        return self.bwrap is not None

    async def submit(self, spec: JobSpec) -> str:
        """Lay out a fresh work dir and start the script; the handle is JSON with the job dir and pid."""
        job_dir = self.work_root / spec.job_id
        shutil.rmtree(job_dir, ignore_errors=True)
        work = job_dir / "work"
        (work / "submission").mkdir(parents=True)
        for name, text in spec.files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        command = [self.python if part == "python" else part for part in spec.command]
        command = ["timeout", "--signal=KILL", f"{spec.timeout_s + KILL_GRACE_S:.0f}", *command]
        env = {**BASE_ENV, **thread_limits(spec.cpus), "HOME": str(work), **spec.env}
        inputs = Path(spec.inputs_dir).resolve()
        if self.bwrap:
            (work / "input").mkdir()
            command = self._bwrap_command(work.resolve(), inputs) + command
        else:
            (work / "input").symlink_to(inputs, target_is_directory=True)
        with open(job_dir / "stdout", "wb") as out, open(job_dir / "stderr", "wb") as err:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=work, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )
        self._jobs[spec.job_id] = (process, spec, time.monotonic())
        return json.dumps({"job_id": spec.job_id, "dir": str(job_dir), "pid": process.pid})

    def _bwrap_command(self, work: Path, inputs: Path) -> list[str]:
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in self._interpreter_dirs():
            args += ["--ro-bind", str(path), str(path)]
        for path in self.hidden:
            args += ["--tmpfs", str(path)]
        args += ["--bind", str(work), str(work), "--ro-bind", str(inputs), str(work / "input")]
        args += ["--unshare-all", "--die-with-parent", "--chdir", str(work), "--"]
        return args

    def _interpreter_dirs(self) -> list[Path]:
        """The Python install (and virtualenv) scripts run with, at every hop of its symlinks, kept
        visible when /tmp is replaced."""
        dirs = set()
        path = Path(self.python).absolute()
        for _ in range(40):
            dirs.add(path.parent.parent)
            if not path.is_symlink():
                break
            path = (path.parent / os.readlink(path)).absolute()
        return sorted(d for d in dirs if d != Path("/"))

    async def wait(self, handle: str) -> JobResult:
        """Wait up to the job's timeout, killing its process group when it runs over."""
        job_id = json.loads(handle)["job_id"]
        if job_id not in self._jobs:
            raise JobLost(f"local job {job_id} is not running in this daemon")
        process, spec, started = self._jobs[job_id]
        timed_out = False
        try:
            remaining = max(0.0, spec.timeout_s - (time.monotonic() - started))
            await asyncio.wait_for(process.wait(), timeout=remaining)
        except asyncio.TimeoutError:
            timed_out = True
            _kill_group(process.pid)
            await process.wait()
        finally:
            if process.returncode is None:
                _kill_group(process.pid)
        duration = time.monotonic() - started
        del self._jobs[job_id]
        job_dir = self.work_root / job_id
        outputs = {}
        for relative in spec.outputs:
            path = job_dir / "work" / relative
            if path.is_file():
                outputs[relative] = path.read_bytes()
        return JobResult(
            exit_code=process.returncode,
            duration_s=duration,
            timed_out=timed_out,
            stdout=(job_dir / "stdout").read_bytes(),
            stderr=(job_dir / "stderr").read_bytes(),
            outputs=outputs,
        )

    async def cancel(self, handle: str) -> None:
        """Kill the job's process group (also one left by a previous daemon, found by pid)."""
        info = json.loads(handle)
        job = self._jobs.get(info["job_id"])
        if job is not None:
            _kill_group(job[0].pid)
            await job[0].wait()
            del self._jobs[info["job_id"]]
        elif _group_runs_in(info.get("pid"), Path(info["dir"])):
            _kill_group(info["pid"])


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_runs_in(pgid: int | None, job_dir: Path) -> bool:
    """True if a live process of group `pgid` belongs to the job in `job_dir` (its cwd or command line
    names the dir), so a recycled pid never gets an unrelated group killed."""
    if not pgid:
        return False
    marker = str(job_dir.resolve())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            cwd = os.readlink(stat.parent / "cwd")
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if cwd.startswith(marker) or marker in cmdline:
            return True
    return False
