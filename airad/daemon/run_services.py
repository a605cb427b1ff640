"""What a run's task shares inside the daemon, and the writer of a run's events."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from airad.daemon.environments import Environments
from airad.daemon.grading import Grader
from airad.daemon.llm import LLM
from airad.daemon.opened_tasks import OpenedTasks
from airad.daemon.plugins import Plugins, installed_plugins
from airad.events.fold import RunState, evolve
from airad.events.knowledge_log import KnowledgeLog
from airad.events.log import BlobStore, EventLog, RunIndex
from airad.events.writer import StreamWriter
from airad.executors.base import Executor
from airad.reports.summary import summarize
from airad.schemas.events import Event


@dataclass
class RunServices:
    """What every run shares inside one daemon."""

    log: EventLog[Event]
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
    plugins: Plugins = field(default_factory=installed_plugins)  # policies, operators and task kinds from packages
    reference_baselines: bool = False  # record the harness's baselines at a run's start (the daemon: its setting)
    environments: Environments | None = None  # probed once per executor environment; None: prompts name no packages


class RunWriter(StreamWriter[RunState, Event]):
    """The writer of a run's events (a `StreamWriter` with the daemon's clock), beside its run's services."""

    def __init__(self, services: RunServices, state: RunState):
        super().__init__(services.log, state, evolve, "run_id", services.clock)
        self.services = services

    async def publish_summary(self) -> None:
        """Refresh the run's line in the KV index."""
        await self.services.index.put(summarize(self.state, self.services.clock()))
