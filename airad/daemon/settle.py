"""Settling one message of a request stream (runs' or experiments'): record its outcome, start what
it made, then ack it; or hand it back for redelivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog

from airad.events.log import AppendConflict
from airad.events.nats_faults import NATS_FAULTS, describe, is_transient

log = structlog.get_logger("airad.daemon")

# A request that fails unexpectedly this many times is rejected with the reason, and never redelivered.
MAX_DELIVERIES = 5


async def settle(
    message,
    accept: Callable[..., Awaitable[tuple[str, bool]]],
    start: Callable[[str], Awaitable[bool]],
    kind: str,
) -> None:
    """`accept(data, request_seq)` records the request's outcome and returns (id, whether to drive it);
    `accept(data, request_seq, failure=reason)` rejects it with the reason; `start(id)` drives it. A
    request that lost a first-append race is redelivered at once (it then sees the winner); one that
    failed unexpectedly after a pause, until its MAX_DELIVERIES-th delivery, which rejects it naming the
    failure; one in hand when the daemon stops is handed back at once, for another daemon or the next
    start. A NATS fault that passes (a leader election, a reconnect) hands it back for later and never
    counts as its failure; no NATS fault escapes."""
    request_seq = message.metadata.sequence.stream
    try:
        await _settle(message, accept, start, kind, request_seq)
    except NATS_FAULTS as exc:
        log.warning(f"{kind}.request_deferred", request_seq=request_seq, error=describe(exc))
        await _hand_back(message, delay=2.0)


async def _hand_back(message, delay: float | None = None) -> None:
    """Nak the message, if NATS takes it: otherwise it comes back once its ack wait has passed."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(2):
        try:
            await message.nak(delay=delay)
        except NATS_FAULTS:
            pass


async def _settle(message, accept, start, kind: str, request_seq: int) -> None:
    try:
        ident, drive = await accept(message.data, request_seq)
    except anyio.get_cancelled_exc_class():
        await _hand_back(message)
        raise
    except AppendConflict:
        log.info(f"{kind}.request_raced", request_seq=request_seq)
        await message.nak(delay=0.5)
        return
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception(f"{kind}.request_failed", request_seq=request_seq)
        deliveries = message.metadata.num_delivered or 1
        if deliveries < MAX_DELIVERIES:
            await message.nak(delay=5.0)
            return
        reason = f"the request failed {deliveries} times and is given up: {type(exc).__name__}: {exc}"[:1000]
        try:
            ident, _ = await accept(message.data, request_seq, failure=reason)
        except Exception as rejecting:
            if is_transient(rejecting):
                raise
            log.exception(f"{kind}.request_not_rejected", request_seq=request_seq)
            await message.nak(delay=5.0)
            return
        await message.ack()
        log.warning(f"{kind}.request_given_up", request_seq=request_seq, reason=reason, **{f"{kind}_id": ident})
        return
    if drive:
        await start(ident)
    await message.ack()
    log.info(f"{kind}.accepted" if drive else f"{kind}.handled", request_seq=request_seq, **{f"{kind}_id": ident})
