"""The experiment supervisor: intake of experiment requests and one task per experiment it owns.

An experiment's task publishes its runs' requests (ordinary run requests with client-chosen ids, on
`airad.requests`, so any daemon may drive them) and records each run's start and result on the
experiment's own stream. Every step is an event first, so a daemon that takes an experiment over
after a crash carries on from its log: a run recorded as started but unknown to the run index is
published again (intake maps the same request under the same run id to the same run), and results
are read from the runs' own logs, never guessed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from functools import partial

import anyio
import structlog

from airad.daemon.cancels import CancelWatch
from airad.daemon.intake import RequestKind, accept_request
from airad.daemon.settle import settle
from airad.daemon.validation import parse_experiment
from airad.events.experiment import ExperimentState, evolve_experiment, fold_experiment
from airad.events.fold import fold
from airad.events.log import CancelMarks, EventLog, RunIndex, experiment_key
from airad.events.writer import StreamWriter
from airad.reports.experiment_report import run_result
from airad.schemas.events import Event
from airad.schemas.experiment import ExperimentRequest, PlannedRun, run_count, run_request
from airad.schemas.experiment_events import (
    TERMINAL_EXPERIMENT_EVENTS,
    ExperimentAccepted,
    ExperimentCancelled,
    ExperimentDone,
    ExperimentEvent,
    ExperimentRejected,
    ExperimentRunFinished,
    ExperimentRunStarted,
)
from airad.schemas.request import RunRequest, derived_experiment_id

log = structlog.get_logger("airad.experiments")


@dataclass
class ExperimentServices:
    """What the experiments of one daemon share: their log, the runs' log and index, the cancel
    marks, and how to publish a run request."""

    log: EventLog[ExperimentEvent]
    runs: EventLog[Event]
    index: RunIndex
    marks: CancelMarks
    publish: Callable[[RunRequest], Awaitable[None]]
    poll_s: float = 30.0
    clock: Callable[[], float] = field(default=time.time)
    waiting: dict[str, anyio.Event] = field(default_factory=dict)

    def wake(self, run_id: str) -> None:
        """A run ended: wake the experiment that waits on it (if this daemon drives one)."""
        event = self.waiting.get(run_id)
        if event is not None:
            event.set()


ExperimentWriter = StreamWriter[ExperimentState, ExperimentEvent]

EXPERIMENTS: RequestKind[ExperimentRequest] = RequestKind(
    noun="experiment",
    key="experiment_id",
    derive=derived_experiment_id,
    parse=parse_experiment,
    accepted=ExperimentAccepted,
    rejected=ExperimentRejected,
    terminal=lambda events: fold_experiment(events).terminal,
    details=lambda request: {"runs": run_count(request)},
)


async def accept_experiment(
    log_: EventLog[ExperimentEvent],
    raw: bytes,
    request_seq: int,
    clock: Callable[[], float] = time.time,
    executors: Collection[str] | None = None,
    failure: str | None = None,
) -> tuple[str, bool]:
    """Record the outcome of one experiment request; returns (experiment id, whether to drive it).
    `failure`: why the request is given up, so it is rejected with that reason (see `accept_request`)."""
    return await accept_request(EXPERIMENTS, log_, raw, request_seq, clock, executors, failure=failure)


async def drive_experiment(
    services: ExperimentServices, experiment_id: str, cancel: anyio.Event | None = None
) -> ExperimentState:
    """Carry an experiment from its log to `experiment.done`: start its runs (at most
    `max_parallel_runs` in flight), record each one's result, and on `cancel` cancel the runs in flight."""
    cancel = cancel or anyio.Event()
    state = fold_experiment(await services.log.read(experiment_id), experiment_id)
    writer = ExperimentWriter(services.log, state, evolve_experiment, "experiment_id", services.clock)
    request = writer.state.request
    if writer.state.terminal or request is None:
        return writer.state
    published: set[str] = set()
    marked: set[str] = set()
    bound = log.bind(experiment_id=experiment_id)
    bound.info("experiment.driving", runs=len(writer.state.runs), ended=writer.state.count("finished"))
    while True:
        if cancel.is_set() and not writer.state.cancelling:
            await writer.append(ExperimentCancelled, reason="cancelled on request")
            bound.info("experiment.cancelling")
        woken = anyio.Event()
        in_flight = [run for run in writer.state.runs if run.progress == "started"]
        _wake_on(services, in_flight, woken)
        try:
            for run in in_flight:
                await _follow(services, writer, request, run.run_id, published)
                if writer.state.cancelling and run.run_id not in marked:
                    await services.marks.mark(run.run_id, f"experiment {experiment_id} was cancelled")
                    marked.add(run.run_id)
            if not writer.state.cancelling:
                await _start_runs(services, writer, request, published)
                _wake_on(services, [run for run in writer.state.runs if run.progress == "started"], woken)
            if writer.state.count("started") == 0 and (writer.state.cancelling or writer.state.count("planned") == 0):
                complete = sum(1 for run in writer.state.runs if run.result is not None and run.result.complete)
                await writer.append(
                    ExperimentDone, runs=len(writer.state.runs), complete=complete, cancelled=writer.state.cancelling
                )
                bound.info("experiment.done", complete=complete, cancelled=writer.state.cancelling)
                return writer.state
            await _wait(services.poll_s, woken, None if writer.state.cancelling else cancel)
        finally:
            for run_id in [run_id for run_id, event in services.waiting.items() if event is woken]:
                del services.waiting[run_id]


def _wake_on(services: ExperimentServices, runs: list, woken: anyio.Event) -> None:
    """Have `woken` set when one of these runs is announced as ended (registered before the index is
    read, so an end between the read and the wait is not missed)."""
    for run in runs:
        services.waiting[run.run_id] = woken


async def _wait(poll_s: float, woken: anyio.Event, cancel: anyio.Event | None) -> None:
    """Until a run this experiment waits on ends, `cancel` is set, or `poll_s` passes (the run index is
    read again then, in case an announcement was missed)."""
    with anyio.move_on_after(poll_s):
        async with anyio.create_task_group() as tg:
            for event in (woken, cancel):
                if event is not None:
                    tg.start_soon(_set_then_stop, event, tg.cancel_scope)


async def _set_then_stop(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _start_runs(
    services: ExperimentServices, writer: ExperimentWriter, request: ExperimentRequest, published: set[str]
) -> None:
    """Start planned runs in order while fewer than `max_parallel_runs` are in flight: record the
    start first, then publish, so a crash in between leaves a started run to publish again."""
    state = writer.state
    limit = request.max_parallel_runs or len(state.runs)
    room = limit - state.count("started")
    for run in [run for run in state.runs if run.progress == "planned"][: max(room, 0)]:
        await writer.append(
            ExperimentRunStarted, run_id=run.run_id, task_index=run.task_index, solver=run.solver, seed=run.seed
        )
        await _publish(services, writer.state, request, run.run_id, published)


async def _publish(
    services: ExperimentServices, state: ExperimentState, request: ExperimentRequest, run_id: str, published: set[str]
) -> None:
    run = state.run(run_id)
    planned = PlannedRun(run.run_id, run.task_index, run.solver, run.seed)
    await services.publish(run_request(state.experiment_id, request, planned))
    published.add(run_id)


async def _follow(
    services: ExperimentServices, writer: ExperimentWriter, request: ExperimentRequest, run_id: str, published: set[str]
) -> None:
    """Record a started run's result once it has ended; publish its request again if the run index
    does not know it and this daemon has not published it yet (a crash right after its start)."""
    summary = await services.index.get(run_id)
    if summary is None:
        if run_id not in published:
            await _publish(services, writer.state, request, run_id, published)
        return
    if summary.status not in ("finished", "rejected"):
        return
    events = await services.runs.read(run_id)
    state = fold(events, run_id)
    if not state.terminal:  # the index ran ahead of what this reader sees; look again next time
        return
    await writer.append(ExperimentRunFinished, run_id=run_id, result=run_result(state, events[-1].at))


class Experiments:
    """A daemon's experiments: consumes `airad.experiments` and drives each experiment it owns as a
    task under a lease of its own key (`experiment.<id>`), taken with the daemon's `own`."""

    def __init__(
        self,
        services: ExperimentServices,
        own: Callable[..., Awaitable[bool]],
        cancels: CancelWatch,
        executors: Collection[str] | None = None,
    ):
        self.services = services
        self.own = own
        self.cancels = cancels
        self.executors = executors

    async def listen(self, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        """Wake the experiments this daemon drives when one of their runs is announced as ended,
        until cancelled. Should listening fail (NATS away), it starts again a second later; the
        experiments' polls cover the gap."""
        import nats.errors

        task_status.started()
        while True:
            try:
                async for run_id in await self.services.index.ended():
                    self.services.wake(run_id)
            except nats.errors.Error as exc:
                log.warning("experiments.listen_failed", error=f"{type(exc).__name__}: {exc}")
            await anyio.sleep(1.0)

    async def consume(self, subscription, batch: int = 16) -> None:
        """Handle experiment requests as they arrive, until cancelled; a NATS fault ends it (the daemon
        subscribes again)."""
        import nats.errors

        while True:
            try:
                messages = await subscription.fetch(batch, timeout=2.0)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                await self.handle(message)

    async def handle(self, message) -> None:
        """Record one request's outcome and ack it (see `settle`)."""
        await settle(message, self._accept, self.start, "experiment")

    async def _accept(self, data: bytes, request_seq: int, failure: str | None = None) -> tuple[str, bool]:
        return await accept_experiment(
            self.services.log, data, request_seq, self.services.clock, self.executors, failure=failure
        )

    async def start(self, experiment_id: str) -> bool:
        """Drive the experiment here unless another daemon holds it."""
        drive = partial(self._drive, experiment_id)
        return await self.own(experiment_key(experiment_id), drive, "experiment", experiment_id)

    async def _drive(self, experiment_id: str) -> None:
        key = experiment_key(experiment_id)
        cancel = await self.cancels.register(key)
        try:
            await drive_experiment(self.services, experiment_id, cancel)
        finally:
            self.cancels.unregister(key)

    async def adopt(self) -> int:
        """Drive every unfinished experiment no live daemon holds; returns how many were taken."""
        taken = 0
        for experiment_id in await self.services.log.ids():
            last = await self.services.log.last(experiment_id)
            if last is not None and not isinstance(last, TERMINAL_EXPERIMENT_EVENTS):
                taken += await self.start(experiment_id)
        if taken:
            log.info("experiments.adopted", count=taken)
        return taken
