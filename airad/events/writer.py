"""`StreamWriter`: the one writer of a fenced, folded stream (a run's, an experiment's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio

from airad.events.log import E, EventLog
from airad.events.stream import Folded

S = TypeVar("S", bound=Folded)


class StreamWriter(Generic[S, E]):
    """Appends a stream's next events (gapless `seq`, timestamps from `clock`), each fenced on the stream's
    last event, and folds each into `state` with `evolve`. `key` is the field that holds the stream's id,
    in the state and in its events (`run_id`, `experiment_id`)."""

    def __init__(self, log: EventLog[E], state: S, evolve: Callable[[S, E], S], key: str, clock: Callable[[], float]):
        self.log = log
        self.state = state
        self.evolve = evolve
        self.key = key
        self.clock = clock
        self._lock = anyio.Lock(fast_acquire=True)

    async def append(self, event_type: Callable[..., E], **fields: Any) -> S:
        """Build, append (fenced) and fold one event; concurrent tasks take turns. The append and its fold
        are shielded from cancellation (a cancelled run's node tasks), so an event that reached the log is
        always folded too."""
        async with self._lock:
            stream_id = getattr(self.state, self.key)
            event = event_type(**{self.key: stream_id}, seq=self.state.last_seq + 1, at=self.clock(), **fields)
            with anyio.CancelScope(shield=True):
                await self.log.append(event)
                self.state = self.evolve(self.state, event)
            return self.state
