"""Opening the task of each run inside a daemon: one preparation at a time per (task, seed)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import msgspec

from airad.schemas.request import BundledTask, TaskSpec
from airad.tasks.base import Task
from airad.tasks.registry import open_task


class OpenedTasks:
    """Opens tasks for a daemon's runs.

    Runs on the same task and seed open it one after the other, so a thousand runs submitted at once
    prepare a split once instead of racing to write it a thousand times. A bundled task (its data
    ships with airad and cannot change) is then kept, up to `keep` of them, and shared by every run
    on it; other kinds are opened again for each run, so a user's edited CSV file is read afresh.
    The task's brief is read while opening, also under the lock: runs that open the same task next
    find it read. `prepare`, when given, is awaited first for a bundled task (the daemon's grading
    workers write its split in another process; other kinds read the user's files to open, and
    would read them twice)."""

    def __init__(self, keep: int = 64, prepare: Callable[[TaskSpec, int, Path], Awaitable[None]] | None = None):
        self.keep = keep
        self.prepare = prepare
        self._kept: OrderedDict[tuple[bytes, int, Path], Task] = OrderedDict()
        self._locks: dict[tuple[bytes, int, Path], anyio.Lock] = {}

    async def open(self, spec: TaskSpec, seed: int, tasks_root: Path) -> Task:
        """The task `spec` names, prepared for `seed` under `tasks_root`; `FieldError` if it cannot be."""
        key = (msgspec.json.encode(spec), seed, tasks_root)
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                task = self._kept.get(key)
                if task is not None:
                    self._kept.move_to_end(key)
                    return task
                if self.prepare is not None and isinstance(spec, BundledTask):
                    await self.prepare(spec, seed, tasks_root)
                task = await anyio.to_thread.run_sync(_open_with_brief, spec, seed, tasks_root)
                if isinstance(spec, BundledTask):
                    self._kept[key] = task
                    while len(self._kept) > self.keep:
                        self._kept.popitem(last=False)
                return task
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)


def _open_with_brief(spec: TaskSpec, seed: int, tasks_root: Path) -> Task:
    task = open_task(spec, seed, tasks_root)
    task.brief()
    return task
