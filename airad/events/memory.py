"""In-memory implementations of the log, blob store, run index and leases, for unit tests."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator

from airad.events.log import AppendConflict, RunSummary
from airad.schemas.events import Event


class InMemoryEventLog:
    """An EventLog held in a dict, with the same fencing rule as JetStream; `key_field` names the
    field that picks an event's stream (a domain's knowledge log overrides it)."""

    key_field = "run_id"

    def __init__(self) -> None:
        self.streams: dict[str, list[Event]] = defaultdict(list)
        self._changed = asyncio.Condition()

    async def append(self, event: Event) -> None:
        """Append if `event.seq` follows the stream's last event."""
        key = getattr(event, self.key_field)
        stream = self.streams[key]
        if event.seq != len(stream) + 1:
            raise AppendConflict(f"{key}: seq {event.seq} does not follow {len(stream)}")
        stream.append(event)
        async with self._changed:
            self._changed.notify_all()

    async def read(self, run_id: str) -> list[Event]:
        """A copy of the run's events."""
        return list(self.streams.get(run_id, ()))

    async def watch(self, run_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
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


class InMemoryRunIndex:
    """A RunIndex in a dict."""

    def __init__(self) -> None:
        self.summaries: dict[str, RunSummary] = {}

    async def put(self, summary: RunSummary) -> None:
        """Replace the run's summary."""
        self.summaries[summary.run_id] = summary

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
