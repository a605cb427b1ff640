"""Settling one message of a request stream (runs' or experiments'): record its outcome, start what
it made, then ack it; or hand it back for redelivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog

from airad.events.log import AppendConflict

log = structlog.get_logger("airad.daemon")


async def settle(
    message,
    accept: Callable[[bytes, int], Awaitable[tuple[str, bool]]],
    start: Callable[[str], Awaitable[bool]],
    kind: str,
) -> None:
    """`accept(data, request_seq)` records the request's outcome and returns (id, whether to drive it);
    `start(id)` drives it. A request that lost a first-append race is redelivered at once (it then sees
    the winner), one that failed unexpectedly after a pause, and one in hand when the daemon stops is
    handed back at once, for another daemon or the next start."""
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
    except Exception:
        log.exception(f"{kind}.request_failed", request_seq=request_seq)
        await message.nak(delay=5.0)
        return
    if drive:
        await start(ident)
    await message.ack()
    log.info(f"{kind}.accepted" if drive else f"{kind}.handled", request_seq=request_seq, **{f"{kind}_id": ident})
