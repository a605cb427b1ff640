"""Follow every run's events on `airad.events.>` and hand them, folded, to a sink in batches."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import nats.errors
import structlog
from msgspec import Struct
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from airad.events.fold import RunState, evolve
from airad.events.jetstream import EVENTS_PREFIX, EVENTS_STREAM
from airad.schemas.events import Event, decode_event

Apply = Callable[[RunState, list[Event]], Awaitable[int]]

log = structlog.get_logger("airad.tracking")


class RunTail:
    """Folds the runs of the event stream and batches each run's new events until `flush`;
    `apply(state, events)` mirrors a batch and returns how many of its events it wrote.

    A batch that `apply` fails on stays pending and is handed over again at the next flush, so a
    tracking store that is down delays the mirror without losing it."""

    def __init__(self, apply: Apply):
        self.apply = apply
        self.states: dict[str, RunState] = {}
        self.pending: dict[str, list[Event]] = {}
        self.ended: set[str] = set()
        self.written = 0

    def add(self, event: Event) -> None:
        """Fold one event into its run and keep it for the next flush; a run whose history does not
        fold (a gap, an event out of order) is left out of the mirror, with a warning."""
        if event.run_id in self.ended:
            return
        state = self.states.get(event.run_id) or RunState(event.run_id)
        try:
            self.states[event.run_id] = evolve(state, event)
        except (ValueError, TypeError, IndexError) as exc:
            log.warning("run left out of the mirror: its events do not fold", run_id=event.run_id, error=str(exc))
            self.states.pop(event.run_id, None)
            self.pending.pop(event.run_id, None)
            self.ended.add(event.run_id)
            return
        self.pending.setdefault(event.run_id, []).append(event)

    async def flush(self) -> None:
        """Hand each run's pending events to `apply`; forget runs that have ended."""
        for run_id in list(self.pending):
            state = self.states[run_id]
            try:
                self.written += await self.apply(state, self.pending[run_id])
            except Exception as exc:
                log.warning("tracking sync failed; will retry", run_id=run_id, error=repr(exc))
                continue
            del self.pending[run_id]
            if state.terminal:
                del self.states[run_id]
                self.ended.add(run_id)


class TailResult(Struct, frozen=True):
    """What a tail that stopped did: events read, events the sink wrote (not written before), runs
    seen, and runs whose last batch failed."""

    read: int
    written: int
    runs: int
    failed: tuple[str, ...] = ()


async def tail_runs(
    js: JetStreamContext, apply: Apply, *, follow: bool = True, flush_every_s: float = 1.0
) -> TailResult:
    """Read the event stream from its start, folding each run, and `apply(state, new_events)` to
    every run with new events once the stream is quiet for `flush_every_s`, and at least that often.
    Without `follow`, stop once the events present at the start are handed over."""
    end = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    if not follow and end == 0:
        return TailResult(0, 0, 0)
    tail = RunTail(apply)
    sub = await js.subscribe(
        EVENTS_PREFIX + ">",
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
        idle_heartbeat=5.0,
        inactive_threshold=60.0,
    )
    read, runs, reached, last_flush = 0, set(), False, time.monotonic()
    try:
        while True:
            try:
                message = await sub.next_msg(timeout=flush_every_s)
            except nats.errors.TimeoutError:
                message = None
            if message is not None:
                event = decode_event(message.data)
                tail.add(event)
                read += 1
                runs.add(event.run_id)
                reached = reached or message.metadata.sequence.stream >= end
            stop = reached and not follow
            if stop or message is None or time.monotonic() - last_flush >= flush_every_s:
                await tail.flush()
                last_flush = time.monotonic()
            if stop:
                return TailResult(read, tail.written, len(runs), tuple(tail.pending))
    finally:
        try:
            await sub.unsubscribe()
        except nats.errors.Error:
            pass
