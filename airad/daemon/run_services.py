"""What a run's task shares inside the daemon, and the one writer of a run's events."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from airad.daemon.grading import Grader
from airad.daemon.llm import LLM
from airad.daemon.opened_tasks import OpenedTasks
from airad.events.fold import RunState, evolve
from airad.events.knowledge_log import KnowledgeLog
from airad.events.log import BlobStore, EventLog, RunIndex
from airad.reports.summary import summarize
from airad.executors.base import Executor


@dataclass
class RunServices:
    """What every run shares inside one daemon."""

    log: EventLog
    blobs: BlobStore
    index: RunIndex
    llm: LLM
    executors: Mapping[str, Executor]
    limiters: Mapping[str, anyio.CapacityLimiter]
    tasks_root: Path
    owner: str
    generation_attempts: int = 2
    grader: Grader = field(default_factory=Grader)
    tasks: OpenedTasks = field(default_factory=OpenedTasks)
    clock: Callable[[], float] = field(default=time.time)
    knowledge: KnowledgeLog | None = None  # the domains' knowledge; None: runs neither see nor distil any


class RunWriter:
    """Appends a run's next events with gapless seq and daemon timestamps, folding each into `state`."""

    def __init__(self, services: RunServices, state: RunState):
        self.services = services
        self.state = state
        self._lock = anyio.Lock(fast_acquire=True)

    async def append(self, event_type, **fields) -> RunState:
        """Build, append (fenced) and fold one event; concurrent node tasks take turns. The append and
        its fold are shielded from cancellation (a cancelled run's node tasks), so an event that
        reached the log is always folded too."""
        async with self._lock:
            event = event_type(run_id=self.state.run_id, seq=self.state.last_seq + 1, at=self.services.clock(), **fields)
            with anyio.CancelScope(shield=True):
                await self.services.log.append(event)
                self.state = evolve(self.state, event)
            return self.state

    async def publish_summary(self) -> None:
        """Refresh the run's line in the KV index."""
        await self.services.index.put(summarize(self.state, self.services.clock()))
