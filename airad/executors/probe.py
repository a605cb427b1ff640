"""Measure an executor's environment with an ordinary job: a stdlib-only script that writes what it finds
(interpreter, packages, visible GPUs, CPUs, memory limit) to `environment.json`. Being a job like any
node's, it runs unchanged through every executor (local sandbox, container, ssh, Slurm)."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from msgspec import Meta, Struct

from airad.executors.base import Executor, JobResult, JobSpec, job_resources, uncollected_reason
from airad.schemas.environment import ExecutionEnvironment, measured_environment
from airad.schemas.request import ExecutorSpec

PROBE_TIMEOUT_S = 120.0
PROBE_OUTPUT = "environment.json"
STDERR_TAIL_CHARS = 2000

PROBE_SCRIPT = r'''"""Write environment.json: the interpreter, its packages, the GPUs, CPUs and memory limit it sees."""
import json
import math
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata

UNLIMITED = 1 << 60


def packages():
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and dist.version:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return sorted(name + "==" + version for name, version in found.items())


def gpus():
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,uuid,name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[cell.strip() for cell in line.split(",", 2)] for line in out.splitlines() if line.count(",") >= 2]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [name for _, _, name in rows]
    wanted = [item.strip() for item in visible.split(",") if item.strip()]
    chosen = []
    for item in wanted:
        match = [name for index, uuid, name in rows if item == index or (len(item) > 4 and uuid.startswith(item))]
        if not match:
            break
        chosen.append(match[0])
    if not chosen and len(wanted) == len(rows) and wanted[0] not in ("-1", "NoDevFiles"):
        return [name for _, _, name in rows]  # only the job's own devices are visible, numbered by the host
    return chosen


def cgroup_dirs():
    """Each cgroup dir of this process, from its own up to its hierarchy's mount point."""
    try:
        own = [line.rstrip("\n").split(":", 2) for line in open("/proc/self/cgroup")]
        mounts = [line.split() for line in open("/proc/self/mountinfo")]
    except OSError:
        return []
    dirs = []
    for fields in mounts:
        if "-" not in fields or fields[fields.index("-") + 1] not in ("cgroup", "cgroup2"):
            continue
        unified = fields[fields.index("-") + 1] == "cgroup2"
        root, point, options = fields[3], fields[4], set(fields[-1].split(","))
        for _, controllers, path in own:
            if unified != (controllers == "") or (controllers and not set(controllers.split(",")) & options):
                continue
            inside = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
            current = os.path.normpath(os.path.join(point, inside))
            while current.startswith(point):
                dirs.append(current)
                if current == point:
                    break
                current = os.path.dirname(current)
    return dirs


def numbers(path):
    try:
        return [int(word) for word in open(path).read().split() if word != "max"]
    except (OSError, ValueError):
        return []


def cpus():
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for directory in cgroup_dirs():
        quota_period = numbers(os.path.join(directory, "cpu.max"))
        if len(quota_period) != 2:
            quota_period = numbers(os.path.join(directory, "cpu.cfs_quota_us"))
            quota_period += numbers(os.path.join(directory, "cpu.cfs_period_us"))
        if len(quota_period) == 2 and quota_period[0] > 0 and quota_period[1] > 0:
            count = min(count, max(1, math.ceil(quota_period[0] / quota_period[1])))
    return count


def memory_mb():
    limits = []
    for directory in cgroup_dirs():
        for name in ("memory.max", "memory.limit_in_bytes"):
            limits += [value for value in numbers(os.path.join(directory, name))[:1] if 0 < value < UNLIMITED]
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and 0 < soft < UNLIMITED:
            limits.append(soft)  # where no cgroup is in sight, the wrapper bounds each process (`ulimit -v`)
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) >> 20 if limits else None


report = {"python": platform.python_version(), "packages": packages(), "gpus": gpus(), "cpus": cpus()}
report["memory_mb"] = memory_mb()
with open("environment.json", "w") as out:
    json.dump(report, out)
'''
"""The probe job's script: stdlib only, any Python from 3.8; writes `environment.json` in its work dir."""


class ProbeReport(Struct, frozen=True, forbid_unknown_fields=True):
    """`environment.json` as the probe script writes it."""

    python: Annotated[str, Meta(min_length=1)]
    packages: tuple[str, ...]
    gpus: tuple[str, ...]
    cpus: Annotated[int, Meta(ge=1)]
    memory_mb: Annotated[int, Meta(ge=0)] | None


class ProbeError(RuntimeError):
    """The probe job could not be run, failed, or wrote no valid `environment.json`; the message says which."""


def probe_spec(job_id: str, inputs_dir: str, resources: ExecutorSpec) -> JobSpec:
    """The probe job under a request's executor resources (CPUs, memory, processes, disk, GPUs, image);
    `inputs_dir` is an empty dir, as the probe reads no task inputs."""
    return JobSpec(
        job_id=job_id,
        files={"probe.py": PROBE_SCRIPT},
        inputs_dir=inputs_dir,
        command=("python", "probe.py"),
        timeout_s=PROBE_TIMEOUT_S,
        outputs=(PROBE_OUTPUT,),
        **job_resources(resources),
    )


async def probe_environment(executor: Executor, spec: JobSpec) -> ExecutionEnvironment:
    """Run the probe job `spec` on `executor` and return the environment it measured; `ProbeError` when
    the job cannot run, fails, or writes no valid `environment.json`. A cancelled probe's job is cancelled."""
    result = await _run(executor, spec)
    data = result.outputs.get(PROBE_OUTPUT)
    if result.exit_code != 0 or result.timed_out or result.killed or data is None:
        raise ProbeError(f"the environment probe on {executor.name} {_failure(result)}")
    try:
        report = msgspec.json.decode(data, type=ProbeReport)
    except msgspec.ValidationError as exc:
        raise ProbeError(f"the environment probe on {executor.name} wrote an invalid {PROBE_OUTPUT}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProbeError(
            f"the environment probe on {executor.name} wrote {PROBE_OUTPUT} that is not JSON: {exc}"
        ) from None
    return measured_environment(report.python, report.packages, report.gpus, report.cpus, report.memory_mb)


async def _run(executor: Executor, spec: JobSpec) -> JobResult:
    try:
        handle = await executor.prepare(spec)
    except Exception as exc:
        raise ProbeError(f"the environment probe could not be staged on {executor.name}: {exc}") from exc
    try:
        with anyio.CancelScope(shield=True):
            await executor.start(handle)
        return await executor.wait(handle)
    except Exception as exc:
        raise ProbeError(f"the environment probe on {executor.name} did not finish: {exc}") from exc
    except BaseException:
        with anyio.CancelScope(shield=True), anyio.move_on_after(30):
            await executor.cancel(handle)
        raise


def _failure(result: JobResult) -> str:
    """What went wrong with a finished probe job, in words: how it ended and the tail of its stderr."""
    stderr = result.stderr.decode(errors="replace")
    if result.timed_out:
        how = f"timed out after {result.duration_s:.0f} s"
    elif result.killed:
        how = f"was killed ({result.killed})"
    elif result.exit_code != 0:
        how = f"exited with code {result.exit_code}" + (" (out of memory)" if result.oom else "")
    else:
        how = "exited with code 0 but " + (uncollected_reason(stderr, PROBE_OUTPUT) or f"wrote no {PROBE_OUTPUT}")
    tail = stderr.strip()[-STDERR_TAIL_CHARS:]
    return f"{how}; stderr: {tail}" if tail else f"{how}; stderr was empty"
