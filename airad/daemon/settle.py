"""Settling one message of a request stream (runs' or experiments'): record its outcome, start what
it made, then ack it; or hand it back for redelivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog

from airad.events.log import AppendConflict

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
    failure; one in hand when the daemon stops is handed back at once, for another daemon or the next start."""
    request_seq = message.metadata.sequence.stream
    try:
        ident, drive = await accept(message.data, request_seq)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await message.nak()
        raise
    except AppendConflict:
        log.info(f"{kind}.request_raced", request_seq=request_seq)
        await message.nak(delay=0.5)
        return
    except Exception as exc:
        log.exception(f"{kind}.request_failed", request_seq=request_seq)
        deliveries = message.metadata.num_delivered or 1
        if deliveries < MAX_DELIVERIES:
            await message.nak(delay=5.0)
            return
        reason = f"the request failed {deliveries} times and is given up: {type(exc).__name__}: {exc}"[:1000]
        try:
            ident, _ = await accept(message.data, request_seq, failure=reason)
        except Exception:
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
