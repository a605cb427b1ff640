"""In-memory implementations of the log, blob store, run index, leases and cancel marks, for unit tests."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Generic

from airad.events.log import ENDED_STATUSES, RUN_EVENTS, AppendConflict, E, EventFamily, RunSummary


class InMemoryEventLog(Generic[E]):
    """An EventLog held in a dict, with the same fencing rule as JetStream; `family` says which field
    keys an event's stream (runs' `run_id` by default, experiments' `experiment_id`)."""

    def __init__(self, family: EventFamily = RUN_EVENTS) -> None:
        self.family = family
        self.streams: dict[str, list[E]] = defaultdict(list)
        self._changed = asyncio.Condition()

    async def append(self, event: E) -> None:
        """Append if `event.seq` follows the run's last event."""
        run_id = self.family.key(event)
        stream = self.streams[run_id]
        if event.seq != len(stream) + 1:
            raise AppendConflict(f"run {run_id}: seq {event.seq} does not follow {len(stream)}")
        stream.append(event)
        async with self._changed:
            self._changed.notify_all()

    async def read(self, run_id: str) -> list[E]:
        """A copy of the run's events."""
        return list(self.streams.get(run_id, ()))

    async def last(self, run_id: str) -> E | None:
        """The run's last event, None for an empty run."""
        stream = self.streams.get(run_id)
        return stream[-1] if stream else None

    async def ids(self) -> list[str]:
        """Every run id with events, sorted."""
        return sorted(run_id for run_id, stream in self.streams.items() if stream)

    async def watch(self, run_id: str, after_seq: int = 0) -> AsyncIterator[E]:
        """Yield events after `after_seq`, waiting for new ones."""
        position = after_seq
        while True:
            stream = self.streams.get(run_id, [])
            while position < len(stream):
                position += 1
                yield stream[position - 1]
            async with self._changed:
                await self._changed.wait()


class InMemoryBlobStore:
    """A BlobStore in a dict."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        """Store and return the SHA-256 hex digest."""
        ref = hashlib.sha256(data).hexdigest()
        self.blobs[ref] = data
        return ref

    async def get(self, ref: str) -> bytes:
        """The stored bytes."""
        return self.blobs[ref]


class Listeners:
    """Whoever started listening, each told every item from then on (a queue apiece)."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue] = []

    def tell(self, item) -> None:
        """Hand `item` to every listener."""
        for queue in self._queues:
            queue.put_nowait(item)

    def listen(self) -> AsyncIterator:
        """Start listening now; the iterator yields what is told from then on."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.append(queue)

        async def items() -> AsyncIterator:
            while True:
                yield await queue.get()

        return items()


class InMemoryRunIndex:
    """A RunIndex in a dict; `watch` and `ended` iterators see what is written after they started."""

    def __init__(self) -> None:
        self.summaries: dict[str, RunSummary] = {}
        self._watchers = Listeners()
        self._ended = Listeners()

    async def put(self, summary: RunSummary) -> None:
        """Replace the run's summary; tell every watcher, and every listener when it says the run ended."""
        self.summaries[summary.run_id] = summary
        self._watchers.tell(summary)
        if summary.status in ENDED_STATUSES:
            self._ended.tell(summary.run_id)

    async def watch(self) -> AsyncIterator[RunSummary]:
        """Start watching now; the iterator yields the summaries written from then on."""
        return self._watchers.listen()

    async def ended(self) -> AsyncIterator[str]:
        """Start listening now; the iterator yields the runs that end from then on."""
        return self._ended.listen()

    async def get(self, run_id: str) -> RunSummary | None:
        """The run's summary."""
        return self.summaries.get(run_id)

    async def list(self) -> list[RunSummary]:
        """All summaries."""
        return list(self.summaries.values())


class InMemoryLeases:
    """Leases that never expire by themselves; `expire(run_id)` simulates a dead owner."""

    def __init__(self, owner: str, table: dict[str, str] | None = None):
        self.owner = owner
        self.table = table if table is not None else {}

    async def acquire(self, run_id: str) -> bool:
        """Take the run if free or already ours."""
        holder = self.table.setdefault(run_id, self.owner)
        return holder == self.owner

    async def renew(self, run_id: str) -> bool:
        """True while we hold the run."""
        return self.table.get(run_id) == self.owner

    async def release(self, run_id: str) -> None:
        """Free the run if ours."""
        if self.table.get(run_id) == self.owner:
            del self.table[run_id]

    def expire(self, run_id: str) -> None:
        """Drop a lease as if its owner had died."""
        self.table.pop(run_id, None)


class InMemoryCancelMarks:
    """CancelMarks in a dict; `watch` iterators see the marks made after they started."""

    def __init__(self) -> None:
        self.marks: dict[str, str] = {}
        self._watchers = Listeners()

    async def mark(self, key: str, reason: str = "") -> None:
        """Record the mark and tell every watcher."""
        self.marks[key] = reason
        self._watchers.tell(key)

    async def marked(self, key: str) -> bool:
        """Whether the key was marked."""
        return key in self.marks

    async def watch(self) -> AsyncIterator[str]:
        """Start watching now; the iterator yields keys marked from then on."""
        return self._watchers.listen()
