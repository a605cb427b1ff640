"""Run jobs on this host: a fresh job dir each, detached, inside bubblewrap when it is installed.

A job runs under the shared wrapper (`job_script`): detached in its own session, under coreutils
`timeout`, in a cgroup of its own where the host lets the daemon make one (memory of all its
processes, process count, CPU; killed as a unit when it ends), with its disk use watched, recording
its exit status in its job dir. So it outlives a crashed daemon, and a new daemon finds it again
from the handle (the job dir).

In the sandbox (`sandbox_launch`'s bubblewrap, as on ssh hosts and Slurm nodes) the script sees
only an allow-list: the system's program and library trees, the interpreter, its inputs read-only
at `input/`, its own work dir; no network, no capabilities, an unprivileged uid even when the daemon
is root. Without bwrap it runs as a plain process group: isolation is then only by directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import structlog

from airad.executors import job_script, sandbox_launch
from airad.executors.base import (
    OUTPUT_FILE_LIMIT_BYTES,
    JobLost,
    JobResult,
    JobSpec,
    decode_handle,
    encode_handle,
    refused_output_note,
)
from airad.executors.output_files import OutputRefused, read_beneath
from airad.executors.weights_cache import weights_env

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
START_GRACE_S = 10.0
LOST_AFTER_EXIT_S = 5.0
POLL_MAX_S = 0.5
log = structlog.get_logger("airad.executors")


def thread_limits(cpus: int) -> dict[str, str]:
    """Cap the thread pools of OpenMP, BLAS and friends at the job's CPUs, and let idle OpenMP threads
    sleep instead of spinning: a script that asks for more threads than its CPUs (`n_jobs=2` under a
    one-CPU quota) otherwise burns several times the CPU of its fit on a busy host."""
    value = str(max(1, cpus))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "LOKY_MAX_CPU_COUNT")
    return {**{name: value for name in names}, "OMP_WAIT_POLICY": "PASSIVE"}


def bwrap_path() -> str | None:
    """The bubblewrap binary, if installed."""
    return shutil.which("bwrap")


def local_weights_cache(folder: str | None) -> str | None:
    """The weights cache's real path on this host (`~` expanded), which sandboxed jobs see read-only
    at the same path; `ValueError` for a relative one."""
    if not folder:
        return None
    path = os.path.expanduser(folder)
    if not os.path.isabs(path):
        raise ValueError(f"weights_cache {folder!r}: the path must be absolute")
    return os.path.realpath(path)


def job_dir_name(job_id: str) -> str:
    """A job id as one path component (`run-1/7` → `run-1_7`)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)


class LocalExecutor:
    """Executor for this host; jobs live under `work_root/<job id>/`. `weights_cache`: a folder of
    pretrained weights that sandboxed jobs see read-only at its own path, with the libraries pointed
    at it and set offline (`weights_cache.weights_env`); an unsandboxed job only gets the variables."""

    name = "local"

    def __init__(
        self,
        work_root: Path,
        *,
        python: str = sys.executable,
        sandbox: bool | None = None,
        hidden: tuple[Path, ...] = (),
        ro_binds: tuple[str, ...] = (),
        output_limit_bytes: int = OUTPUT_FILE_LIMIT_BYTES,
        hidden_packages: dict[str, tuple[str, ...]] | None = None,
        weights_cache: str | None = None,
    ):
        self.work_root = Path(work_root)
        self.python = python
        self.bwrap = bwrap_path() if sandbox is not False else None
        if sandbox and self.bwrap is None:
            raise RuntimeError("sandbox requested but bwrap is not installed (apt-get install bubblewrap)")
        if sandbox is None and self.bwrap is None:
            log.warning("sandbox.unavailable", executor="local", reason="bwrap is not installed", jobs="unsandboxed")
        self.required = bool(sandbox)
        self.hidden = tuple(Path(p).resolve() for p in hidden)
        self.weights_cache = local_weights_cache(weights_cache)
        self.ro_binds = (*ro_binds, self.weights_cache) if self.weights_cache else ro_binds
        self.hidden_packages = dict(hidden_packages or {})
        self._facts: dict | None = None
        self.output_limit_bytes = output_limit_bytes
        self._started: dict[str, tuple[float, asyncio.subprocess.Process]] = {}

    @property
    def sandboxed(self) -> bool:
        """Whether jobs run inside bubblewrap."""
        return self.bwrap is not None

    async def prepare(self, spec: JobSpec) -> str:
        """Lay out a fresh job dir with the files and the wrapper; nothing runs yet."""
        job_dir = (self.work_root / job_dir_name(spec.job_id)).absolute()
        shutil.rmtree(job_dir, ignore_errors=True)
        work = job_dir / job_script.WORK
        (work / "submission").mkdir(parents=True)
        for name, text in spec.files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        argv = [self.python if part == "python" else part for part in spec.command]
        inputs = Path(spec.inputs_dir).resolve()
        (work / "input").symlink_to(inputs, target_is_directory=True)
        facts = await self.host_facts()
        sandboxed = self.bwrap is not None and facts["bwrap"] is not None
        if sandboxed:
            argv = self._bwrap_command(work.resolve(), inputs, spec) + argv
        cache = weights_env(self.weights_cache) if self.weights_cache else {}
        env = {**BASE_ENV, **thread_limits(spec.cpus), "HOME": str(work), **cache, **spec.env}
        limits = job_script.Limits(
            memory_mb=spec.memory_mb,
            processes=spec.processes,
            cpus=spec.cpus,
            disk_mb=spec.disk_mb,
            cgroups=facts["cgroups"],
            cgroup_name=job_script.cgroup_name(str(job_dir)),
            owner=sandbox_launch.SANDBOX_UID if sandboxed and facts["as_root"] else None,
        )
        script = job_script.render(argv, timeout_s=spec.timeout_s, env=env, limits=limits)
        (job_dir / job_script.SCRIPT).write_text(script)
        return encode_handle(
            dir=str(job_dir),
            timeout_s=spec.timeout_s,
            outputs=list(spec.outputs),
            memory_limited=bool(spec.memory_mb),
        )

    async def host_facts(self) -> dict:
        """This host's sandbox and cgroup facts (`sandbox_launch.probe`), found once. When bwrap
        cannot make a sandbox here: an error if one was required, else a warning (jobs run plain)."""
        if self._facts is None:
            self._facts = await asyncio.to_thread(
                sandbox_launch.probe,
                self.python,
                str(self.work_root),
                [],
                list(self.ro_binds),
                self.hidden_packages,
            )
            if self._facts["bwrap"] is None and self.bwrap is not None:
                if self.required:
                    raise RuntimeError(f"sandbox = true but {self._facts['problem']}")
                log.warning("sandbox.unavailable", executor="local", reason=self._facts["problem"], jobs="unsandboxed")
                self.bwrap = None
        return self._facts

    async def enforced_limits(self) -> dict[str, str]:
        """What this host lets the executor enforce on each job, limit by limit, in words (for the
        daemon's start-up log and `airad doctor`-style checks)."""
        facts = await self.host_facts()
        cgroups = facts["cgroups"]
        version = cgroups.get("version", 0)
        by_cgroup = f"cgroup v{version}, killed as a unit" if version else None
        sandbox = "bubblewrap" if self.bwrap is not None else f"none: {facts['problem'] or 'sandbox = false'}"
        if self.bwrap is not None:
            inside = f"uid {sandbox_launch.INNER_UID} in its own user namespace"
            sandbox += (
                f", as uid {sandbox_launch.SANDBOX_UID} on the host ({inside})"
                if facts["as_root"]
                else f", as the daemon's uid on the host ({inside})"
            )
        return {
            "sandbox": sandbox,
            "memory": f"all processes and /tmp ({by_cgroup})"
            if by_cgroup
            else "per process only (ulimit -v): " + cgroups.get("problem", ""),
            "processes": f"pids ({by_cgroup})"
            if by_cgroup
            else "per user (ulimit -p over the sandbox user's processes): " + cgroups.get("problem", ""),
            "cpu": f"quota ({by_cgroup})"
            if version == 2 or "cpu" in cgroups.get("base", {})
            else "thread pools only (OMP_NUM_THREADS and friends)",
            "disk": "work dir, stdout and stderr checked every 2 s, each file capped (ulimit -f), /tmp a sized tmpfs",
        }

    def _bwrap_command(self, work: Path, inputs: Path, spec: JobSpec) -> list[str]:
        """bwrap's arguments for a job: the host's facts, with the daemon's hidden dirs and the
        job's own (its task's answers) added to those out of sight."""
        assert self._facts is not None, "host_facts() runs first"
        also = [*self.hidden, *(Path(p).resolve() for p in spec.hidden if Path(p).is_dir())]
        if spec.hide_dataset_packages:
            also += map(Path, self._facts["package_dirs"])
        facts = {**self._facts, "hidden": [*self._facts["hidden"], *map(str, also)]}
        tmp_mb = sandbox_launch.tmp_size_mb(spec.disk_mb, spec.memory_mb)
        return sandbox_launch.bwrap_argv(facts, str(work), str(inputs), gpus=False, tmp_mb=tmp_mb)

    async def start(self, handle: str) -> None:
        """Start the wrapper in its own session, unless the job already started (or is gone)."""
        job_dir = Path(decode_handle(handle, "dir")["dir"])
        if not (job_dir / job_script.SCRIPT).exists() or (job_dir / job_script.STARTED).exists():
            return
        wrapper = await asyncio.create_subprocess_exec(
            "sh",
            str(job_dir / job_script.SCRIPT),
            cwd=job_dir,
            env=BASE_ENV,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        self._started[str(job_dir)] = (time.monotonic(), wrapper)

    async def wait(self, handle: str) -> JobResult:
        """Poll the job dir until the wrapper records an exit status; enforce the deadline as a
        backstop to `timeout`; then collect the result and remove the job dir."""
        info = decode_handle(handle, "dir", "timeout_s", "outputs")
        job_dir = Path(info["dir"])
        if not (job_dir / job_script.SCRIPT).exists():
            raise JobLost(f"local job dir {job_dir} does not exist")
        delay = 0.02
        gone_since: float | None = None
        while not (job_dir / job_script.EXIT_CODE).exists():
            pgid = _read_int(job_dir / job_script.STARTED / "pid")
            if pgid is None:
                self._check_start(job_dir)
            elif _group_alive(pgid):
                gone_since = None
                started_at = job_script.parse_number(_read(job_dir / job_script.STARTED / "at"))
                overdue = started_at and time.time() > started_at + info["timeout_s"] + 3 * job_script.KILL_GRACE_S
                if overdue and _group_runs_in(pgid, job_dir):
                    _kill_group(pgid)
            else:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > LOST_AFTER_EXIT_S:
                    raise JobLost(f"local job in {job_dir} ended without recording its exit status")
            await self._pause(job_dir, delay)
            delay = min(POLL_MAX_S, delay * 1.5)
        result = self._collect(job_dir, info)
        _, wrapper = self._started.pop(str(job_dir), (0.0, None))
        if wrapper is not None:
            await asyncio.wait_for(wrapper.wait(), 10)
        shutil.rmtree(job_dir, ignore_errors=True)
        return result

    async def _pause(self, job_dir: Path, delay: float) -> None:
        """Sleep until the next poll, or until the wrapper exits if this executor started it."""
        _, wrapper = self._started.get(str(job_dir), (None, None))
        if wrapper is None:
            await asyncio.sleep(delay)
            return
        try:
            await asyncio.wait_for(asyncio.shield(wrapper.wait()), delay)
        except TimeoutError:
            pass

    def _check_start(self, job_dir: Path) -> None:
        """Raise JobLost for a job with no process group yet that will never have one: never
        started, or claimed (`started/` made) by a wrapper that died before it ran the script."""
        started, _ = self._started.get(str(job_dir), (None, None))
        try:
            claimed_at = (job_dir / job_script.STARTED).stat().st_mtime
        except FileNotFoundError:
            claimed_at = None
        if started is None and claimed_at is None:
            raise JobLost(f"local job in {job_dir} was never started")
        if started is not None and time.monotonic() - started > START_GRACE_S:
            raise JobLost(f"local job in {job_dir} did not start within {START_GRACE_S:.0f} s")
        if started is None and claimed_at is not None and time.time() - claimed_at > START_GRACE_S:
            raise JobLost(f"local job in {job_dir} was claimed but its script never ran")

    def _collect(self, job_dir: Path, info: dict) -> JobResult:
        work = job_dir / job_script.WORK
        outputs, notes = {}, b""
        for relative in info["outputs"]:
            try:
                outputs[relative] = read_beneath(str(work), relative, self.output_limit_bytes)
            except FileNotFoundError:
                pass
            except OutputRefused as refused:
                notes += refused_output_note(relative, refused.reason)
        return job_script.result_from_files(
            limit_hit=_read(job_dir / job_script.LIMIT_HIT),
            exit_text=_read(job_dir / job_script.EXIT_CODE) or "",
            started_at=job_script.parse_number(_read(job_dir / job_script.STARTED / "at")),
            ended_at=job_script.parse_number(_read(job_dir / "ended_at")),
            timeout_s=info["timeout_s"],
            memory_limited=bool(info.get("memory_limited")),
            cancelled=(job_dir / job_script.CANCELLED).exists(),
            stdout=job_script.read_capped(job_dir / "stdout"),
            stderr=job_script.read_capped(job_dir / "stderr") + notes,
            outputs=outputs,
        )

    async def cancel(self, handle: str) -> None:
        """Mark the job cancelled and kill its process group (also one left by an earlier daemon)."""
        job_dir = Path(decode_handle(handle, "dir")["dir"])
        if not job_dir.exists() or (job_dir / job_script.EXIT_CODE).exists():
            return
        (job_dir / job_script.CANCELLED).touch()
        # The wrapper records the job's pid before `timeout` makes it a process group of its own: until
        # then there is no group to kill, so keep looking until there is one or the job has ended.
        for _ in range(int(START_GRACE_S / 0.05)):
            pgid = _read_int(job_dir / job_script.STARTED / "pid")
            if pgid is None and str(job_dir) not in self._started:
                return
            if (job_dir / job_script.EXIT_CODE).exists():
                return
            if pgid is not None and _group_runs_in(pgid, job_dir):
                _kill_group(pgid)
                return
            await asyncio.sleep(0.05)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    number = job_script.parse_number(_read(path))
    return int(number) if number is not None else None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
