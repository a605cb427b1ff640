"""Turn a message of a request stream into the first event of a run or an experiment: accepted
(`run.submitted`, `experiment.accepted`), or rejected with the field at fault and the reason."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import structlog

from airad.daemon.validation import parse_request
from airad.events.fold import fold
from airad.events.log import EventLog, RunIndex
from airad.reports.summary import summarize
from airad.schemas.errors import FieldError
from airad.schemas.events import MAX_EXCERPT_CHARS, Event, RunRejected, RunSubmitted
from airad.schemas.request import MAX_REQUEST_BYTES, RunId, RunRequest, derived_run_id, is_derived_run_id

R = TypeVar("R")


@dataclass(frozen=True)
class RequestKind(Generic[R]):
    """One kind of request and the stream it starts: `key` names the stream's id in the request and in
    its events, `derive` gives the id of a request that names none, `parse(raw, executors=...)` checks a
    request (raising FieldError), and the stream's first event is `accepted` (with `details(request)`)
    or `rejected`; `terminal(events)` says whether a stream has ended."""

    noun: str
    key: str
    derive: Callable[[int], str]
    parse: Callable[..., R]
    accepted: type[Any]
    rejected: type[Any]
    terminal: Callable[[list[Any]], bool]
    details: Callable[[R], dict[str, Any]] = lambda request: {}


RUNS: RequestKind[RunRequest] = RequestKind(
    noun="run",
    key="run_id",
    derive=derived_run_id,
    parse=parse_request,
    accepted=RunSubmitted,
    rejected=RunRejected,
    terminal=lambda events: fold(events).terminal,
)


log_intake = structlog.get_logger("airad.intake")


async def accept(
    log: EventLog[Event],
    index: RunIndex,
    raw: bytes,
    request_seq: int,
    executors: Collection[str] | None = None,
    failure: str | None = None,
) -> tuple[str, bool]:
    """Record the outcome of one run request, and the run's line in the run index; returns (run_id, whether
    a run should be driven). `executors`: the executor kinds this daemon can run (None: don't check);
    `failure`: why the request is given up (it failed every delivery), so it is rejected with that reason."""

    async def announce(event: Event) -> None:
        await index.put(summarize(fold([event]), time.time()))

    return await accept_request(RUNS, log, raw, request_seq, time.time, executors, announce, failure)


async def accept_request(
    kind: RequestKind[R],
    log: EventLog[Any],
    raw: bytes,
    request_seq: int,
    clock: Callable[[], float],
    executors: Collection[str] | None = None,
    announce: Callable[[Any], Awaitable[None]] | None = None,
    failure: str | None = None,
) -> tuple[str, bool]:
    """Record the outcome of one request as the first event of its stream, then `announce` that event;
    returns (the stream's id, whether to drive it). A redelivered request, or the same request published
    again under its client-chosen id (an experiment re-publishing its runs after a crash), is the stream
    that exists; a rejection is recorded under the id asked for (when free) or the derived one, once.
    With `failure`, the request is rejected with that reason (field `$`) without being read."""
    if failure is not None:
        given_up = FieldError("$", failure)
        return await _reject(kind, log, _asked_id(kind.key, raw), raw, request_seq, given_up, clock, announce)
    try:
        if len(raw) > MAX_REQUEST_BYTES:
            raise FieldError("$", f"the request is {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES} bytes")
        request = kind.parse(raw, executors=executors)
    except FieldError as exc:
        return await _reject(kind, log, _asked_id(kind.key, raw), raw, request_seq, exc, clock, announce)
    ident = getattr(request, kind.key) or kind.derive(request_seq)
    existing = await log.read(ident)
    if existing:
        first = existing[0]
        if isinstance(first, kind.accepted) and first.request == request:  # a redelivery, or the same request again
            return ident, not kind.terminal(existing)
        taken = FieldError(f"$.{kind.key}", f"{kind.noun} id {ident!r} is already taken")
        return await _reject(kind, log, None, raw, request_seq, taken, clock, announce)
    event = kind.accepted(
        **{kind.key: ident}, seq=1, at=clock(), request=request, request_seq=request_seq, **kind.details(request)
    )
    await _record(log, event, announce)
    return ident, True


def _asked_id(key: str, raw: bytes) -> str | None:
    """The id a malformed request asked for, when usable, so its client finds the rejection there (never
    one of the form intake gives, `req-N`: that stream belongs to another request)."""
    try:
        asked = msgspec.convert(msgspec.json.decode(raw, type=dict[str, Any]).get(key), RunId | None)
    except (msgspec.MsgspecError, ValueError):  # UnicodeDecodeError too: bytes that are not UTF-8
        return None
    return None if asked is None or is_derived_run_id(asked) else asked


async def _reject(
    kind: RequestKind[R],
    log: EventLog[Any],
    wanted: str | None,
    raw: bytes,
    request_seq: int,
    error: FieldError,
    clock: Callable[[], float],
    announce: Callable[[Any], Awaitable[None]] | None,
) -> tuple[str, bool]:
    for ident in (wanted, kind.derive(request_seq)):
        if not ident:
            continue
        events = await log.read(ident)
        if events and getattr(events[0], "request_seq", None) == request_seq:
            return ident, False
        if not events:
            event = kind.rejected(
                **{kind.key: ident},
                seq=1,
                at=clock(),
                field=error.field,
                reason=error.reason,
                request_seq=request_seq,
                excerpt=raw[:MAX_EXCERPT_CHARS].decode("utf-8", errors="replace"),
            )
            await _record(log, event, announce)
            return ident, False
    log_intake.error(f"{kind.noun}.rejection_unrecorded", request_seq=request_seq, field=error.field)
    return kind.derive(request_seq), False


async def _record(log: EventLog[Any], event: Any, announce: Callable[[Any], Awaitable[None]] | None) -> None:
    await log.append(event)
    if announce is not None:
        await announce(event)
