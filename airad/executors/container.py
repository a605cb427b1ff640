"""Run jobs in containers on a Docker or Podman engine, through its Docker API (aiodocker).

A job is one container, named after its job id, created by `prepare` (from `container_config`) and
removed once `wait` has collected its result. The container runs as an unprivileged uid (`JOB_USER`)
with every capability dropped and `no-new-privileges`, no network, capped memory (no swap), CPUs
and pids, its inputs read-only at /work/input, its files copied into /work (owned by the job's uid),
and an environment made only of the job's own variables. The only host paths mounted are its
inputs, the backend's `ro_binds` and the weights cache, all read-only, and those may not reach an
engine socket (`check_ro_binds`). GPUs are asked of the engine as it takes them (`container_gpus`:
which engine it is comes from its `/version`, asked once). As the job's uid owns
nothing in the image, all it can write is /work, /tmp and /var/tmp: all in its container's own
writable layer, thrown away with the container.

Its disk quota covers that whole layer (work dir and /tmp together) and is watched by `wait`: the
engine's size of the layer, every `WATCH_INTERVAL_S` (`LimitWatch`); a job past it is killed and
ends `killed="disk quota"`; one whose processes sit at its pids limit round after round (a fork
bomb) is killed as `killed="too many processes"`. The reason is left in the container before the
kill, as `cancel` leaves its marker, so whichever daemon collects the job reports it. Not enforced
here: a quota between two rounds (a job may write about a second's worth past it before it is
killed; the engine's own `StorageOpt` size needs overlay on xfs with pquota), a job's stdout and
stderr (the engine's log files), and podman's default seccomp profile lets a job make a user
namespace (docker's does not); the root filesystem is not read-only, as Docker refuses to copy the
job's files into a container that has one (the job's uid cannot write the image's files anyway).

Everything a restarted daemon needs lives with the container: its labels hold the timeout, the disk
quota and the outputs to collect, the engine keeps its state and start time, and `cancel` leaves a
marker file in it before killing it. So a handle only names the container.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
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
    refused_output_note,
    truncation_marker,
)
from airad.executors.config import ContainerBackend
from airad.executors.container_config import (
    OUTPUTS_LABEL,
    TIMEOUT_LABEL,
    create_config,
    probe_config,
    weights_bind,
    work_archive,
)
from airad.executors.container_files import archive, read_file, read_output
from airad.executors.container_gpus import Engine, engine_of
from airad.executors.container_limits import WATCH_INTERVAL_S, LimitWatch, limit_hit, mark_limit, with_limit
from airad.executors.container_mounts import check_ro_binds
from airad.executors.output_files import OutputRefused
from airad.executors.sandbox_launch import PACKAGE_FINDER

CANCEL_MARKER = ".airad-cancelled"
ENDED = ("exited", "dead", "stopped")


class ContainerExecutor:
    """Executor on a Docker or Podman engine: one container per job, addressed by its name.
    `weights_cache`: a host folder every job sees read-only at /weights, the libraries set offline."""

    name = "container"

    def __init__(
        self,
        backend: ContainerBackend,
        *,
        output_limit_bytes: int = OUTPUT_FILE_LIMIT_BYTES,
        hidden_packages: dict[str, tuple[str, ...]] | None = None,
        weights_cache: str | None = None,
    ):
        check_ro_binds(backend, extra=[weights_bind(weights_cache)] if weights_cache else [])
        self.backend = backend
        self.output_limit_bytes = output_limit_bytes
        self.hidden_packages = {name: list(dirs) for name, dirs in (hidden_packages or {}).items()}
        self.weights_cache = weights_cache
        self._hidden: dict[str, list[str]] = {}
        self._engine_kind: Engine | None = None

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
            hidden = (
                await self._hidden_dirs(docker, spec.image or self.backend.image) if spec.hide_dataset_packages else []
            )
            if self._engine_kind is None:
                self._engine_kind = engine_of(await docker.version())
            config = create_config(
                spec, self.backend, hidden, engine=self._engine_kind, weights_cache=self.weights_cache
            )
            container = await docker.containers.create(config, name=name)
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
        timeout, whichever daemon started it) or past a limit the engine does not stop by itself
        (`LimitWatch`, checked every `WATCH_INTERVAL_S`); collect its result and remove it."""
        async with self._container(handle) as container:
            info = await container.show(size=True)
            timeout_s = float(info["Config"]["Labels"][TIMEOUT_LABEL])
            watch = LimitWatch(info)
            killed_at_deadline = False
            while info["State"]["Status"] not in ENDED:
                if info["State"]["Status"] == "created":
                    if await was_cancelled(container):
                        break
                    await asyncio.sleep(1.0)
                else:
                    started = engine_time(info["State"]["StartedAt"])
                    assert started is not None, "a container past `created` has a start time"
                    remaining = started + timeout_s - time.time()
                    if watch.reason is None and (hit := await watch.check(container, info)) is not None:
                        await mark_limit(container, hit)
                        await kill(container)
                    elif remaining <= 0:
                        killed_at_deadline = True
                        await kill(container)
                    try:
                        await asyncio.wait_for(
                            container.wait(), timeout=min(max(remaining, 0.0) + 0.1, WATCH_INTERVAL_S)
                        )
                    except TimeoutError:
                        pass
                info = await container.show(size=True)
            result = await collect(container, info, timeout_s, killed_at_deadline, self.output_limit_bytes)
            reason = await limit_hit(container, info, watch, result)
            await container.delete(force=True, v=True)
            return with_limit(result, reason)

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

    async def _hidden_dirs(self, docker: aiodocker.Docker, image: str) -> list[str]:
        """The bundled datasets' dirs inside `image` (with the `ro_binds`), found once per image by a
        short container run with no network; every job gets an empty tmpfs over each."""
        if not self.hidden_packages:
            return []
        if image not in self._hidden:
            command = [self.backend.python, "-I", "-c", PACKAGE_FINDER, json.dumps(self.hidden_packages)]
            probe = await docker.containers.create(probe_config(image, self.backend, command))
            try:
                await probe.start()
                await asyncio.wait_for(probe.wait(), 120)
                lines = "".join(await probe.log(stdout=True, stderr=False)).strip().splitlines()
                found = json.loads(lines[-1]) if lines else []
            except (TimeoutError, aiodocker.DockerError, ValueError) as error:
                raise RuntimeError(f"cannot find the bundled datasets' files in image {image}: {error}") from error
            finally:
                await probe.delete(force=True, v=True)
            self._hidden[image] = sorted(found)
        return self._hidden[image]

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


async def kill(container: DockerContainer) -> None:
    """SIGKILL the container; one that has just ended is left alone."""
    try:
        await container.kill(signal="SIGKILL")
    except aiodocker.DockerError as error:
        if error.status not in (404, 409, 500):
            raise


async def was_cancelled(container: DockerContainer) -> bool:
    """Whether `cancel` left its marker in the container."""
    return await read_file(container, f"/{CANCEL_MARKER}") is not None


async def collect(
    container: DockerContainer,
    info: dict,
    timeout_s: float,
    killed_at_deadline: bool,
    output_limit: int = OUTPUT_FILE_LIMIT_BYTES,
) -> JobResult:
    """An ended (or cancelled, never started) container's result: its exit, logs and outputs.

    An OOM is the engine's `OOMKilled`, or a SIGKILL nobody here sent to a memory-limited job
    (podman on cgroup v1 does not always see the kernel's OOM kill)."""
    state = info["State"]
    cancelled = await was_cancelled(container)
    started, ended = engine_time(state.get("StartedAt")), engine_time(state.get("FinishedAt"))
    ran = started is not None and state["Status"] != "created"
    duration = max(0.0, ended - started) if ran and started is not None and ended is not None else 0.0
    exit_code = state.get("ExitCode") if ran else None
    timed_out = not cancelled and (killed_at_deadline or (exit_code != 0 and duration >= timeout_s))
    memory_limited = bool(info["HostConfig"].get("Memory"))
    outputs, notes = {}, b""
    for relative in json.loads(info["Config"]["Labels"][OUTPUTS_LABEL]):
        try:
            data = await read_output(container, relative, output_limit)
        except OutputRefused as refused:
            notes += refused_output_note(relative, refused.reason)
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
