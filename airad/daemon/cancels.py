"""Turn cancel marks into events for the runs and experiments this daemon drives."""

from __future__ import annotations

import anyio
from anyio.abc import TaskStatus

from airad.events.log import CancelMarks


class CancelWatch:
    """One watch of the cancel marks per daemon; each driven run or experiment registers its key and
    gets an `anyio.Event` that is set once its mark exists (already, or later)."""

    def __init__(self, marks: CancelMarks):
        self.marks = marks
        self._events: dict[str, anyio.Event] = {}

    async def run(self, *, task_status: TaskStatus = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch the marks until cancelled; reports started once the watch is live, so a key
        registered afterwards misses no mark (those made before are read by `register`)."""
        keys = await self.marks.watch()
        task_status.started()
        async for key in keys:
            event = self._events.get(key)
            if event is not None:
                event.set()

    async def register(self, key: str) -> anyio.Event:
        """The event of `key`, set already when its mark exists."""
        event = self._events.setdefault(key, anyio.Event())
        if await self.marks.marked(key):
            event.set()
        return event

    def unregister(self, key: str) -> None:
        """Forget `key` (its run or experiment is no longer driven here)."""
        self._events.pop(key, None)
