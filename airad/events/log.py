"""The event-log boundary: fenced appends, reads and live watches of one run's (or experiment's) events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from msgspec import Struct

from airad.schemas.events import decode_event, encode_event
from airad.schemas.experiment_events import decode_experiment_event, encode_experiment_event
from airad.schemas.knowledge_events import decode_knowledge_event, encode_knowledge_event


@dataclass(frozen=True)
class EventFamily:
    """One kind of per-id event stream: where it lives (stream, subject prefix), how its events are
    serialised, and which field names the stream an event belongs to."""

    stream: str
    prefix: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    key: Callable[[Any], str]


RUN_EVENTS = EventFamily("AIRAD_EVENTS", "airad.events.", encode_event, decode_event, attrgetter("run_id"))
EXPERIMENT_EVENTS = EventFamily(
    "AIRAD_EXPERIMENTS",
    "airad.experiment-events.",
    encode_experiment_event,
    decode_experiment_event,
    attrgetter("experiment_id"),
)
KNOWLEDGE_EVENTS = EventFamily(
    "AIRAD_KNOWLEDGE",
    "airad.knowledge.",
    encode_knowledge_event,
    decode_knowledge_event,
    attrgetter("domain"),
)


class Sequenced(Protocol):
    """An event of a stream: `seq` is its place in the stream, from 1 without gaps."""

    @property
    def seq(self) -> int: ...


E = TypeVar("E", bound=Sequenced)


class AppendConflict(RuntimeError):
    """Another writer appended to the run first: this writer no longer owns it."""


class EventLog(Protocol[E]):
    """Per-run streams of events `E` with a gapless `seq`; an append must follow the last event exactly.
    The same log holds experiments' streams, keyed by experiment id (`EXPERIMENT_EVENTS`), and domains'
    knowledge (`KNOWLEDGE_EVENTS`)."""

    async def append(self, event: E) -> None:
        """Append `event`, whose `seq` must be the run's last seq + 1, else raise AppendConflict."""
        ...

    async def read(self, run_id: str) -> list[E]:
        """Every event of the run so far, in `seq` order."""
        ...

    def watch(self, run_id: str, after_seq: int = 0) -> AsyncIterator[E]:
        """Events with seq > after_seq as they are appended; never ends by itself."""
        ...

    async def last(self, run_id: str) -> E | None:
        """The run's last event, None for an empty run (cheaper than `read`)."""
        ...

    async def ids(self) -> list[str]:
        """The id of every stream in the log, sorted."""
        ...


class BlobStore(Protocol):
    """Content-addressed bytes: prompts, completions, full outputs, artifacts."""

    async def put(self, data: bytes) -> str:
        """Store `data` and return its SHA-256 hex digest."""
        ...

    async def get(self, ref: str) -> bytes:
        """The bytes stored under `ref`; KeyError when absent."""
        ...


ENDED_STATUSES = ("finished", "rejected")


class RunSummary(Struct, frozen=True):
    """One line about a run, kept in a KV bucket for fast listing; the events stay the truth."""

    run_id: str
    status: str
    task: str = ""
    policy: str = ""
    model: str = ""
    nodes: int = 0
    buggy: int = 0
    cancelled: int = 0
    metric: str = ""
    best_node_id: int | None = None
    best_score: float | None = None
    best_test_score: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    cost_by_operator: dict[str, float] = {}
    draft_families: int = 0
    draft_plan_distance: float = 0.0
    submitted_at: float | None = None
    updated_at: float = 0.0
    owner: str = ""
    finish_reason: str = ""
    last_seq: int = 0
    in_flight: int = 0
    domain: str = ""


class RunIndex(Protocol):
    """The KV of run summaries."""

    async def put(self, summary: RunSummary) -> None:
        """Write (replace) a run's summary."""
        ...

    async def get(self, run_id: str) -> RunSummary | None:
        """A run's summary, if any."""
        ...

    async def list(self) -> Sequence[RunSummary]:
        """Every run's summary."""
        ...

    async def watch(self) -> AsyncIterator[RunSummary]:
        """Start listening now; the iterator yields each summary written from then on (what was written
        before is for `list`)."""
        ...

    async def ended(self) -> AsyncIterator[str]:
        """Start listening now; the iterator yields the id of each run whose summary is then written as
        ended (finished or rejected). A notice, not a record: one missed (a reconnect) is for `get` to find."""
        ...


class Leases(Protocol):
    """Ownership of runs by daemons, each lease expiring unless renewed."""

    owner: str

    async def acquire(self, run_id: str) -> bool:
        """Take the run unless a live lease of another owner holds it."""
        ...

    async def renew(self, run_id: str) -> bool:
        """Extend this owner's lease; False when it was lost."""
        ...

    async def release(self, run_id: str) -> None:
        """Give the run up."""
        ...


class CancelMarks(Protocol):
    """Durable requests to cancel a run (key: its run id) or an experiment (key: `experiment.<id>`)."""

    async def mark(self, key: str, reason: str = "") -> None:
        """Record that `key` is to be cancelled (idempotent)."""
        ...

    async def marked(self, key: str) -> bool:
        """Whether `key` was ever marked."""
        ...

    async def watch(self) -> AsyncIterator[str]:
        """Start watching now; the iterator returned yields keys as they are marked from then on and
        never ends by itself."""
        ...


def experiment_key(experiment_id: str) -> str:
    """The lease and cancel-mark key of an experiment; a '.' keeps it apart from every run id."""
    return f"experiment.{experiment_id}"
