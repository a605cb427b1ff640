"""Run jobs in containers on a Docker or Podman engine, through its Docker API (aiodocker).

A job is one container, named after its job id, created by `prepare` and removed once `wait` has
collected its result. The container has no network, capped memory (no swap), CPUs and pids, its
inputs read-only at /work/input, its files copied into /work, and an environment made only of the
job's own variables. Everything a restarted daemon needs lives with the container: its labels hold
the timeout and the outputs to collect, the engine keeps its state and start time, and `cancel`
leaves a marker file in it before killing it. So a handle only names the container.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import aiodocker
from aiodocker.containers import DockerContainer

from airad.executors.base import (
    OUTPUT_FILE_LIMIT_BYTES,
    OUTPUT_HEAD_BYTES,
    OUTPUT_TAIL_BYTES,
    JobLost,
    JobResult,
    JobSpec,
    decode_handle,
    encode_handle,
    output_too_big_note,
    truncation_marker,
)
from airad.executors.config import ContainerBackend
from airad.executors.local import thread_limits

WORK = "/work"
CANCEL_MARKER = ".airad-cancelled"
JOB_LABEL = "airad.job_id"
TIMEOUT_LABEL = "airad.timeout_s"
BACKSTOP_GRACE_S = 10
OUTPUTS_LABEL = "airad.outputs"
BASE_ENV = {"HOME": WORK, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
ENDED = ("exited", "dead", "stopped")
MIB = 1024 * 1024


class ContainerExecutor:
    """Executor on a Docker or Podman engine: one container per job, addressed by its name."""

    name = "container"

    def __init__(self, backend: ContainerBackend, *, output_limit_bytes: int = OUTPUT_FILE_LIMIT_BYTES):
        self.backend = backend
        self.output_limit_bytes = output_limit_bytes

    async def prepare(self, spec: JobSpec) -> str:
        """Create the job's container (not started) with its files in /work; a container left by an
        earlier preparation of the same job is replaced."""
        name = container_name(spec.job_id)
        async with self._engine() as docker:
            try:
                await docker.containers.container(name).delete(force=True, v=True)
            except aiodocker.DockerError as error:
                if error.status != 404:
                    raise
            container = await docker.containers.create(create_config(spec, self.backend), name=name)
            await put_files(container, work_archive(spec.files))
        return encode_handle(container=name, job_id=spec.job_id)

    async def start(self, handle: str) -> None:
        """Start the container unless it has already started (or ended, was cancelled or collected)."""
        try:
            async with self._container(handle) as container:
                state = (await container.show())["State"]
                if state["Status"] == "created" and not await was_cancelled(container):
                    await container.start()
        except JobLost:
            return

    async def wait(self, handle: str) -> JobResult:
        """Wait for the container to end, killing it at its deadline (its start time plus the job's
        timeout, whichever daemon started it); collect its result and remove it."""
        async with self._container(handle) as container:
            info = await container.show()
            timeout_s = float(info["Config"]["Labels"][TIMEOUT_LABEL])
            killed_at_deadline = False
            while info["State"]["Status"] not in ENDED:
                if info["State"]["Status"] == "created":
                    if await was_cancelled(container):
                        break
                    await asyncio.sleep(1.0)
                else:
                    remaining = engine_time(info["State"]["StartedAt"]) + timeout_s - time.time()
                    if remaining <= 0:
                        killed_at_deadline = True
                        await kill(container)
                    try:
                        await asyncio.wait_for(container.wait(), timeout=max(remaining, 0.0) + 0.1)
                    except asyncio.TimeoutError:
                        pass
                info = await container.show()
            result = await collect(container, info, timeout_s, killed_at_deadline, self.output_limit_bytes)
            await container.delete(force=True, v=True)
            return result

    async def cancel(self, handle: str) -> None:
        """Mark the job cancelled inside its container, then kill it; a no-op for an unknown or
        finished job."""
        try:
            async with self._container(handle) as container:
                state = (await container.show())["State"]
                if state["Status"] in ENDED:
                    return
                await container.put_archive("/", archive({CANCEL_MARKER: b"cancelled\n"}))
                if state["Status"] != "created":
                    await kill(container)
        except JobLost:
            return

    @asynccontextmanager
    async def _engine(self) -> AsyncIterator[aiodocker.Docker]:
        async with aiodocker.Docker(url=self.backend.url) as docker:
            yield docker

    @asynccontextmanager
    async def _container(self, handle: str) -> AsyncIterator[DockerContainer]:
        """The handle's container; `JobLost` if it is not there (any more)."""
        name = decode_handle(handle, "container")["container"]
        async with self._engine() as docker:
            try:
                yield await docker.containers.get(name)
            except aiodocker.DockerError as error:
                if error.status == 404:
                    raise JobLost(f"container {name} is gone") from None
                raise


async def put_files(container: DockerContainer, archive: bytes, attempts: int = 5) -> None:
    """Copy the job's files in; retried on an engine error, as podman 4.3 sometimes breaks the pipe
    of one of several concurrent uploads ("passing bulk input to subprocess: broken pipe")."""
    for attempt in range(attempts):
        try:
            await container.put_archive("/", archive)
            return
        except aiodocker.DockerError as error:
            if error.status < 500 or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * 2**attempt)


def container_name(job_id: str) -> str:
    """A valid, unique container name for a job id: its safe characters plus a digest of it."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]+", "-", job_id).strip("-.")[:80]
    return f"airad-{safe}-{hashlib.sha256(job_id.encode()).hexdigest()[:10]}"


def create_config(spec: JobSpec, backend: ContainerBackend) -> dict:
    """The engine's create request for a job: its command in /work, limits, mounts and labels. The
    command runs under coreutils `timeout` a little past the deadline, so a job whose daemon never
    comes back still ends."""
    command = [backend.python if part == "python" else part for part in spec.command]
    command = ["timeout", "--kill-after=5", f"{spec.timeout_s + BACKSTOP_GRACE_S:.0f}", *command]
    env = {**BASE_ENV, **thread_limits(spec.cpus), **spec.env}
    memory = spec.memory_mb * MIB if spec.memory_mb else 0
    host_config = {
        "NetworkMode": "none",
        "Binds": [f"{spec.inputs_dir}:{WORK}/input:ro", *(read_only_bind(bind) for bind in backend.ro_binds)],
        "Memory": memory,
        "MemorySwap": memory,
        "NanoCpus": int(spec.cpus * 1e9),
        "PidsLimit": backend.pids_limit,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
    }
    if spec.gpus > 0:
        host_config["DeviceRequests"] = [{"Driver": "", "Count": spec.gpus, "Capabilities": [["gpu"]]}]
    return {
        "Image": spec.image or backend.image,
        "Entrypoint": command[:1],
        "Cmd": command[1:],
        "WorkingDir": WORK,
        "Env": [f"{key}={value}" for key, value in env.items()],
        "NetworkDisabled": True,
        "Labels": {
            JOB_LABEL: spec.job_id,
            TIMEOUT_LABEL: repr(float(spec.timeout_s)),
            OUTPUTS_LABEL: json.dumps(list(spec.outputs)),
        },
        "HostConfig": host_config,
    }


def read_only_bind(bind: str) -> str:
    """`PATH` or `HOST:CONTAINER` as an engine bind spec, read-only."""
    host, _, target = bind.partition(":")
    return f"{host}:{target or host}:ro"


def archive(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> bytes:
    """A tar of `dirs` (mode 755) and `files` (mode 644), owned by root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in dirs:
            entry = tarfile.TarInfo(path)
            entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            tar.addfile(entry)
        for path, data in files.items():
            entry = tarfile.TarInfo(path)
            entry.size, entry.mode, entry.mtime = len(data), 0o644, int(time.time())
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def work_archive(files: dict[str, str]) -> bytes:
    """The job's /work: its files, an empty submission/ dir, and every parent dir they need."""
    work = WORK.strip("/")
    paths = {f"{work}/{name}": text.encode() for name, text in files.items()}
    dirs = {work, f"{work}/submission"}
    for path in paths:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return archive(paths, tuple(sorted(dirs)))


async def kill(container: DockerContainer) -> None:
    """SIGKILL the container; one that has just ended is left alone."""
    try:
        await container.kill(signal="SIGKILL")
    except aiodocker.DockerError as error:
        if error.status not in (404, 409, 500):
            raise


class FileTooBig(Exception):
    """A file over the size asked for; `size` is its size in bytes."""

    def __init__(self, size: int):
        super().__init__(f"{size} bytes")
        self.size = size


async def read_file(container: DockerContainer, path: str, limit: int | None = None) -> bytes | None:
    """A regular file's bytes from the container (running or not), or None if it is not there.
    Over `limit` bytes (the engine states the size before sending it) it raises `FileTooBig`
    without reading the file."""
    try:
        async with container.docker._query(f"containers/{container.id}/archive", params={"path": path}) as response:
            stat = response.headers.get("X-Docker-Container-Path-Stat")
            size = int(json.loads(base64.b64decode(stat)).get("size", 0)) if stat else None
            if limit is not None and size is not None and size > limit:
                response.close()  # drop the connection: releasing it would drain the whole file first
                raise FileTooBig(size)
            body = await response.read()
    except aiodocker.DockerError as error:
        if error.status == 404:
            return None
        raise
    with tarfile.open(fileobj=io.BytesIO(body), mode="r") as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        extracted = tar.extractfile(member) if member is not None else None
        return extracted.read() if extracted is not None else None


async def was_cancelled(container: DockerContainer) -> bool:
    """Whether `cancel` left its marker in the container."""
    return await read_file(container, f"/{CANCEL_MARKER}") is not None


async def collect(
    container: DockerContainer, info: dict, timeout_s: float, killed_at_deadline: bool,
    output_limit: int = OUTPUT_FILE_LIMIT_BYTES,
) -> JobResult:
    """An ended (or cancelled, never started) container's result: its exit, logs and outputs.

    An OOM is the engine's `OOMKilled`, or a SIGKILL nobody here sent to a memory-limited job
    (podman on cgroup v1 does not always see the kernel's OOM kill)."""
    state = info["State"]
    cancelled = await was_cancelled(container)
    started, ended = engine_time(state.get("StartedAt")), engine_time(state.get("FinishedAt"))
    ran = started is not None and state["Status"] != "created"
    duration = max(0.0, ended - started) if ran and ended is not None else 0.0
    exit_code = state.get("ExitCode") if ran else None
    timed_out = not cancelled and (killed_at_deadline or (exit_code != 0 and duration >= timeout_s))
    memory_limited = bool(info["HostConfig"].get("Memory"))
    outputs, notes = {}, b""
    for relative in json.loads(info["Config"]["Labels"][OUTPUTS_LABEL]):
        try:
            data = await read_file(container, f"{WORK}/{relative}", limit=output_limit)
        except FileTooBig as too_big:
            notes += output_too_big_note(relative, too_big.size, output_limit)
            continue
        if data is not None:
            outputs[relative] = data
    return JobResult(
        exit_code=exit_code,
        duration_s=duration,
        timed_out=timed_out,
        stdout=await logs(container, "stdout") if ran else b"",
        stderr=(await logs(container, "stderr") if ran else b"") + notes,
        outputs=outputs,
        oom=not cancelled and not timed_out and (bool(state.get("OOMKilled")) or (memory_limited and exit_code == 137)),
        killed="cancelled" if cancelled else None,
    )


async def logs(container: DockerContainer, stream: str) -> bytes:
    """One output stream of the container, as the bytes the job wrote (the engine frames each chunk
    with an 8-byte header naming its stream), read as it streams in: whole when small, else its head
    and tail around `truncation_marker`, so gigabytes of output never sit in memory."""
    kept = HeadTail(OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES)
    pending = bytearray()
    async with container.docker._query(
        f"containers/{container.id}/logs", params={stream: True, "follow": False}
    ) as response:
        async for chunk in response.content.iter_chunked(1 << 16):
            pending += chunk
            offset = 0
            while len(pending) - offset >= 8:
                size = int.from_bytes(pending[offset + 4 : offset + 8], "big")
                if len(pending) - offset - 8 < size:
                    break
                kept.add(pending[offset + 8 : offset + 8 + size])
                offset += 8 + size
            del pending[:offset]
    return kept.value()


class HeadTail:
    """The first `head` and the last `tail` bytes of a stream added piece by piece, and its size."""

    def __init__(self, head: int, tail: int):
        self.head, self.tail = head, tail
        self.size = 0
        self._first = bytearray()
        self._last = bytearray()

    def add(self, piece: bytes | bytearray) -> None:
        """Take the next bytes of the stream."""
        self.size += len(piece)
        room = self.head - len(self._first)
        if room > 0:
            self._first += piece[:room]
            piece = piece[room:]
        self._last += piece
        if len(self._last) > 2 * self.tail:
            del self._last[: -self.tail]

    def value(self) -> bytes:
        """The whole stream if it fits in head + tail, else head, truncation marker, tail."""
        if self.size <= self.head + self.tail:
            return bytes(self._first + self._last)
        last = self._last[-self.tail :]
        return bytes(self._first) + truncation_marker(self.size, len(self._first), len(last)) + bytes(last)


def engine_time(text: str | None) -> float | None:
    """An engine timestamp (RFC 3339, nanoseconds) as epoch seconds; None for the zero time."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text or "")
    if match is None or match[1].startswith("0001-"):
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(match[1] + zone).timestamp() + float(match[2] or 0)
