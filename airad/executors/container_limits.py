"""The limits a container engine does not stop by itself, enforced while the daemon waits on a job:
its disk quota over the container's writable layer and a fork bomb pinned at its pids limit
(`LimitWatch`); the reason is left in the container (`mark_limit`) before the kill, so whichever
daemon collects the job reports it (`limit_hit`, `with_limit`)."""

from __future__ import annotations

import json

import aiodocker
from aiodocker.containers import DockerContainer
from msgspec.structs import replace

from airad.executors.base import JobResult
from airad.executors.container_files import archive, read_file

DISK_LABEL = "airad.disk_bytes"
LIMIT_MARKER = ".airad-limit"
DISK_QUOTA = "disk quota"
TOO_MANY_PROCESSES = "too many processes"
WATCH_INTERVAL_S = 1.0
PIDS_PINNED_ROUNDS = 3  # rounds in a row at the pids limit before a job counts as a fork bomb


class LimitWatch:
    """The limits `wait` enforces on a running job, from its container's inspect data: its disk
    quota (label `DISK_LABEL`) against the engine's size of its writable layer, and its pids limit
    against the processes the engine counts in it. `reason` is set once a limit is past."""

    def __init__(self, info: dict):
        quota = info["Config"]["Labels"].get(DISK_LABEL)
        self.disk_bytes = int(quota) if quota else None
        self.pids_limit = info["HostConfig"].get("PidsLimit") or None
        self.pinned = 0
        self.at_pids_limit = False
        self.reason: str | None = None

    async def check(self, container: DockerContainer, info: dict) -> str | None:
        """A reason to kill the job now ("disk quota", "too many processes"), or None."""
        if over_disk_quota(info, self.disk_bytes):
            self.reason = DISK_QUOTA
        elif self.pids_limit:
            current = await pids_in_use(container)
            if current is not None and current >= self.pids_limit:
                self.at_pids_limit = True
                self.pinned += 1
                if self.pinned >= PIDS_PINNED_ROUNDS:
                    self.reason = TOO_MANY_PROCESSES
            else:
                self.pinned = 0
        return self.reason


def over_disk_quota(info: dict, quota_bytes: int | None) -> bool:
    """Whether the container's writable layer (inspected with `size=True`) holds more than the quota."""
    size = info.get("SizeRw")
    return quota_bytes is not None and isinstance(size, int) and size > quota_bytes


async def pids_in_use(container: DockerContainer) -> int | None:
    """How many processes and threads the engine counts in the running container; None when it
    does not say."""
    try:
        async with container.docker._query(
            f"containers/{container.id}/stats", params={"stream": "false", "one-shot": "true"}
        ) as response:
            stats = json.loads(await response.read())
    except (aiodocker.DockerError, ValueError):
        return None
    current = (stats.get("pids_stats") or {}).get("current")
    return current if isinstance(current, int) else None


async def mark_limit(container: DockerContainer, reason: str) -> None:
    """Leave the reason a limit ended the job in its container (root's, out of the job's reach)."""
    try:
        await container.put_archive("/", archive({LIMIT_MARKER: reason.encode()}))
    except aiodocker.DockerError:
        pass  # this wait still knows the reason; only a restarted daemon would not


async def limit_hit(container: DockerContainer, info: dict, watch: LimitWatch, result: JobResult) -> str | None:
    """The limit that ended the job: the one marked before its kill, else, for a job that failed on
    its own (not at its deadline, not OOM), a disk quota its layer ended over or a pids limit it
    was seen at."""
    marked = await read_file(container, f"/{LIMIT_MARKER}")
    if marked:
        return marked.decode(errors="replace").strip() or None
    if watch.reason is not None:
        return watch.reason
    if result.exit_code in (0, None) or result.killed is not None or result.timed_out or result.oom:
        return None
    if over_disk_quota(info, watch.disk_bytes):
        return DISK_QUOTA
    if watch.at_pids_limit:
        return TOO_MANY_PROCESSES
    return None


def with_limit(result: JobResult, reason: str | None) -> JobResult:
    """The result of a job a limit ended: `killed` says which; neither an OOM nor a timeout then.
    A cancelled job stays cancelled."""
    if reason is None or result.killed is not None:
        return result
    return replace(result, killed=reason, oom=False, timed_out=False)
