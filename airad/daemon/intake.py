"""Turn a message on `airad.requests` into a run: `run.submitted`, or `run.rejected` with a reason."""

from __future__ import annotations

import time
from collections.abc import Collection

import msgspec

from airad.daemon.validation import RequestError, parse_request
from airad.events.fold import fold
from airad.events.log import EventLog, RunIndex
from airad.reports.summary import summarize
from airad.schemas.events import RunRejected, RunSubmitted
from airad.schemas.request import RunId

EXCERPT_CHARS = 500
MAX_REQUEST_BYTES = 256 * 1024


def derived_run_id(request_seq: int) -> str:
    """The run id of a request that names none: from its stream sequence, so redelivery maps to it."""
    return f"req-{request_seq}"


class _RunIdOnly(msgspec.Struct):
    run_id: RunId | None = None


def _client_run_id(raw: bytes) -> str | None:
    """The run_id a malformed request asked for, when usable, so its client finds the rejection there."""
    try:
        return msgspec.json.decode(raw, type=_RunIdOnly).run_id
    except msgspec.MsgspecError:
        return None


async def accept(
    log: EventLog, index: RunIndex, raw: bytes, request_seq: int, executors: Collection[str] | None = None
) -> tuple[str, bool]:
    """Record the outcome of one request; returns (run_id, whether a run should be driven).
    `executors`: the executor kinds this daemon can run (None: don't check)."""
    try:
        if len(raw) > MAX_REQUEST_BYTES:
            raise RequestError("$", f"the request is {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES} bytes")
        request = parse_request(raw, executors=executors)
    except RequestError as exc:
        run_id = await _free_id(log, _client_run_id(raw), request_seq)
        if run_id is None:
            return derived_run_id(request_seq), False
        await _reject(log, index, run_id, request_seq, exc.field, exc.reason, raw)
        return run_id, False
    run_id = request.run_id or derived_run_id(request_seq)
    existing = await log.read(run_id)
    if existing:
        first = existing[0]
        if isinstance(first, RunSubmitted) and (first.request_seq == request_seq or first.request == request):
            # A redelivery, or the same request published again under its client-chosen run id (an
            # experiment re-publishing its runs after a crash): both are the run that exists.
            return run_id, not fold(existing).terminal
        other = derived_run_id(request_seq)
        if run_id != other and not await log.read(other):
            await _reject(log, index, other, request_seq, "$.run_id", f"run id {run_id!r} is already taken", raw)
        return other, False
    event = RunSubmitted(run_id=run_id, seq=1, at=time.time(), request=request, request_seq=request_seq)
    await log.append(event)
    await index.put(summarize(fold([event]), time.time()))
    return run_id, True


async def _free_id(log: EventLog, wanted: str | None, request_seq: int) -> str | None:
    """A run id with no history for this rejection; None when this request was already rejected."""
    for run_id in (wanted, derived_run_id(request_seq)):
        if not run_id:
            continue
        events = await log.read(run_id)
        if not events:
            return run_id
        if getattr(events[0], "request_seq", None) == request_seq:
            return None
    return None


async def _reject(log: EventLog, index: RunIndex, run_id: str, request_seq: int, field: str, reason: str, raw: bytes) -> None:
    excerpt = raw[:EXCERPT_CHARS].decode("utf-8", errors="replace")
    event = RunRejected(
        run_id=run_id, seq=1, at=time.time(), field=field, reason=reason, request_seq=request_seq, excerpt=excerpt
    )
    await log.append(event)
    await index.put(summarize(fold([event]), time.time()))
