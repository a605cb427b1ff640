"""The executor boundary: prepare a job, start it, wait for its result, cancel it, find it again.

A job's life is split so the daemon can record where a job lives *before* it runs:
`prepare` stages the files and returns a handle (a JSON string that goes into `node.dispatched`),
`start` sets it going, `wait` collects the result. `start` and `wait` work on a handle recorded by
an earlier daemon process too: that is how a restarted daemon reattaches to jobs still running
instead of running them again.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from msgspec import Struct

from airad.executors.output_files import too_big_reason


class JobSpec(Struct, frozen=True):
    """What to run: `files` written into a fresh work dir, the read-only `inputs_dir` visible at
    `input/`, and `command` run there (a leading "python" means the executor's own interpreter).
    `image` picks the container image of a container job (None: the backend's default).
    `hidden` names host dirs a sandboxed job must not see (a task's answers kept outside the daemon's
    state); executors that only mount the inputs hide them by construction. `memory_mb` bounds all
    of the job's processes together, `processes` how many it may have at once, `disk_mb` what it
    may write (its work dir, its tmp, its stdout and stderr); None: no such bound.
    `hide_dataset_packages`: the task was drawn from a package's bundled dataset, so the job must
    not see those packages' data files (the executor's `hidden_packages`)."""

    job_id: str
    files: dict[str, str]
    inputs_dir: str
    command: tuple[str, ...] = ("python", "solution.py")
    timeout_s: float = 600.0
    outputs: tuple[str, ...] = ("submission/submission.csv",)
    env: dict[str, str] = {}
    cpus: int = 1
    memory_mb: int | None = None
    gpus: int = 0
    processes: int | None = None
    disk_mb: int | None = None
    hide_dataset_packages: bool = False
    image: str | None = None
    hidden: tuple[str, ...] = ()


def job_resources(resources: object) -> dict:
    """A request's executor resources (`schemas.request.ExecutorSpec`) as `JobSpec` fields: CPUs,
    memory, processes, disk, and the GPUs and image of the executors that have them."""
    return {
        "cpus": getattr(resources, "cpus", 1),
        "memory_mb": getattr(resources, "memory_mb", None),
        "processes": getattr(resources, "processes", None),
        "disk_mb": getattr(resources, "disk_mb", None),
        "gpus": getattr(resources, "gpus", 0),
        "image": getattr(resources, "image", None),
    }


class JobResult(Struct, frozen=True):
    """How the job ended and what it wrote; `outputs` maps a relative path to its bytes.

    `timed_out`: it ran past its time limit. `oom`: it ran out of its memory limit. `killed`: why
    something other than the script ended it ("cancelled", "preempted", "node failure", ...).
    Every executor bounds what it hands back the same way: stdout and stderr past
    `OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES` keep their ends around a `truncation_marker`; an output
    file over the executor's limit, or one that is not a regular file reached without following a
    link (`output_files`), is left out, with a `refused_output_note` ending stderr.
    """

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    stdout: bytes = b""
    stderr: bytes = b""
    outputs: dict[str, bytes] = {}
    oom: bool = False
    killed: str | None = None


OUTPUT_HEAD_BYTES = 1 << 20
OUTPUT_TAIL_BYTES = 1 << 20
OUTPUT_FILE_LIMIT_BYTES = 256 << 20  # the default of the daemon's `max_output_file_mb`


def truncation_marker(size: int, head: int, tail: int) -> bytes:
    """The line put between the kept head and tail of an output that was too big to keep whole."""
    return f"\n[airad: output truncated: {size} bytes written; the first {head} and the last {tail} kept]\n".encode()


def refused_output_note(name: str, reason: str) -> bytes:
    """The line that ends a job's stderr for an output file that was not collected, and why."""
    return f"\n[airad: {name} not collected: {reason}]\n".encode()


def output_too_big_note(name: str, size: int, limit: int) -> bytes:
    """The line that ends a job's stderr for an output file too big to collect."""
    return refused_output_note(name, too_big_reason(size, limit))


def uncollected_reason(stderr: str, name: str) -> str | None:
    """Why the output `name` was not collected, when the job's stderr carries a
    `refused_output_note` for it (the last one, as notes are added after the job's own output);
    None otherwise."""
    found = re.findall(rf"\[airad: {re.escape(name)} not collected: ([^\n]*)\](?:\n|$)", stderr)
    return f"{name} was not collected: {found[-1]}" if found else None


class JobLost(RuntimeError):
    """The job cannot be found or followed any more (its files are gone, its host is unreachable)."""


class Executor(Protocol):
    """Runs jobs in isolation, addressed by handles that survive the daemon's restarts."""

    name: str

    async def prepare(self, spec: JobSpec) -> str:
        """Stage the job (work dir, files) without running it; return its handle."""
        ...

    async def start(self, handle: str) -> None:
        """Start the job. Idempotent: a job that already started (or ended) is left alone."""
        ...

    async def wait(self, handle: str) -> JobResult:
        """Wait for the job to end and collect its result; raises `JobLost` if it cannot be found."""
        ...

    async def cancel(self, handle: str) -> None:
        """Stop the job if it is still running; a no-op for an unknown or finished job."""
        ...


def encode_handle(**fields) -> str:
    """A handle: compact JSON with sorted keys, so equal jobs give equal strings."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def decode_handle(handle: str, *required: str) -> dict:
    """The fields of a handle; `JobLost` if it is not one of this executor's."""
    try:
        fields = json.loads(handle)
    except (TypeError, ValueError):
        raise JobLost(f"not a job handle: {handle!r:.200}") from None
    missing = [name for name in required if not isinstance(fields, dict) or name not in fields]
    if missing:
        raise JobLost(f"job handle {handle!r:.200} lacks {', '.join(missing)}")
    return fields
