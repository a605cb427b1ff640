"""Turn cancel marks into events for the runs and experiments this daemon drives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import structlog
from anyio.abc import TaskStatus

from airad.events.log import CancelMarks

log = structlog.get_logger("airad.cancels")


async def _nothing() -> AsyncIterator[str]:
    return
    yield


class CancelWatch:
    """One watch of the cancel marks per daemon; each driven run or experiment registers its key and
    gets an `anyio.Event` that is set once its mark exists (already, or later)."""

    def __init__(self, marks: CancelMarks):
        self.marks = marks
        self._events: dict[str, anyio.Event] = {}

    async def run(self, *, task_status: TaskStatus = anyio.TASK_STATUS_IGNORED, retry_s: float = 2.0) -> None:
        """Watch the marks until cancelled; reports started once the watch is live, so a key
        registered afterwards misses no mark (those made before are read by `register`). A watch
        that breaks is started again, and the registered keys are checked for marks made meanwhile."""
        keys = await self.marks.watch()
        task_status.started()
        while True:
            try:
                async for key in keys:
                    event = self._events.get(key)
                    if event is not None:
                        event.set()
            except Exception as exc:
                log.warning("cancels.watch_broken", error=f"{type(exc).__name__}: {exc}")
            await anyio.sleep(retry_s)
            try:
                keys = await self.marks.watch()
                for key in list(self._events):
                    await self.register(key)
            except Exception as exc:
                log.warning("cancels.watch_failed", error=f"{type(exc).__name__}: {exc}")
                keys = _nothing()

    async def register(self, key: str) -> anyio.Event:
        """The event of `key`, set already when its mark exists."""
        event = self._events.setdefault(key, anyio.Event())
        if await self.marks.marked(key):
            event.set()
        return event

    def unregister(self, key: str) -> None:
        """Forget `key` (its run or experiment is no longer driven here)."""
        self._events.pop(key, None)
