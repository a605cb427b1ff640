"""What the workers do: read a run's events or the run index and post them as batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from airad.events.log import EventLog, RunIndex, RunSummary
from airad.schemas.events import Event
from airad.tui.messages import EventsArrived, RunsArrived

BATCH_EVENTS = 5000
BATCH_PAUSE_S = 0.05


async def tail_events(log: EventLog, run_id: str, post: Callable[[Message], object], after_seq: int = 0) -> None:
    """Post the run's events after `after_seq` as they come, never ends: whatever arrived while the
    last batch was posted goes out as one batch (at most `BATCH_EVENTS`), at most every `BATCH_PAUSE_S`."""
    queue: asyncio.Queue[Event] = asyncio.Queue()

    async def read() -> None:
        async for event in log.watch(run_id, after_seq):
            queue.put_nowait(event)
            if queue.qsize() % BATCH_EVENTS == 0:
                await asyncio.sleep(0)

    async with asyncio.TaskGroup() as group:
        group.create_task(read())
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < BATCH_EVENTS:
                batch.append(queue.get_nowait())
            post(EventsArrived(batch))
            await asyncio.sleep(BATCH_PAUSE_S)


async def follow_runs(index: RunIndex, post: Callable[[Message], object], interval_s: float) -> None:
    """Post every run's summary, then again whenever summaries changed, at most every `interval_s`:
    the index is listed once and then watched (a summary older than the one shown is ignored, since
    the watch starts before the listing), never polled."""
    changes = await index.watch()
    runs = {summary.run_id: summary for summary in await index.list()}
    post(RunsArrived(list(runs.values())))
    pending: dict[str, RunSummary] = {}

    async def read() -> None:
        async for summary in changes:
            pending[summary.run_id] = summary

    async with asyncio.TaskGroup() as group:
        group.create_task(read())
        while True:
            await asyncio.sleep(interval_s)
            fresh = [s for s in pending.values() if s.run_id not in runs or s.updated_at >= runs[s.run_id].updated_at]
            pending.clear()
            if fresh:
                runs.update((summary.run_id, summary) for summary in fresh)
                post(RunsArrived(list(runs.values())))


def report_failure(node: Widget, event: Worker.StateChanged) -> None:
    """Tell the user that a feed stopped (its connection went away) rather than closing the app."""
    if event.state == WorkerState.ERROR:
        node.notify(f"{event.worker.name} stopped: {event.worker.error}", severity="error", timeout=30)
