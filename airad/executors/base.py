"""The executor boundary: submit a job, wait for its result, cancel it."""

from __future__ import annotations

from typing import Protocol

from msgspec import Struct


class JobSpec(Struct, frozen=True):
    """What to run: files written into a fresh work dir, read-only inputs mounted at `input/`."""

    job_id: str
    files: dict[str, str]
    inputs_dir: str
    command: tuple[str, ...] = ("python", "solution.py")
    timeout_s: float = 600.0
    outputs: tuple[str, ...] = ("submission/submission.csv",)
    env: dict[str, str] = {}
    cpus: int = 1


class JobResult(Struct, frozen=True):
    """How the job ended and what it wrote; `outputs` maps a relative path to its bytes."""

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    stdout: bytes = b""
    stderr: bytes = b""
    outputs: dict[str, bytes] = {}


class JobLost(RuntimeError):
    """The executor does not know the job any more (e.g. it was started by a daemon that died)."""


class Executor(Protocol):
    """Runs jobs in isolation. A handle is a string that can be recorded in an event."""

    name: str

    async def submit(self, spec: JobSpec) -> str:
        """Start the job and return its handle."""
        ...

    async def wait(self, handle: str) -> JobResult:
        """Wait for the job to end (enforcing its timeout) and collect its result."""
        ...

    async def cancel(self, handle: str) -> None:
        """Stop the job if it is still running; a no-op for an unknown or finished job."""
        ...
