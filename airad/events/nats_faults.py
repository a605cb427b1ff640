"""Sorting NATS faults, and riding out the ones that pass: a server restarting, a stream or consumer
leader moving, an ack lost.

`is_transient` says which faults pass by themselves (timeouts, no responders, a 503 while a leader is
elected, a connection reconnecting); everything else NATS raises is a real fault, reported where it
belongs. `ride_out` repeats one call through transient faults; `keep_going` keeps one of the daemon's
long-lived loops alive through any NATS fault. Every call wrapped by `ride_out` must be safe to repeat
(reads, and publishes that carry a Nats-Msg-Id and a fence)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import nats.errors
import nats.js.errors
import structlog

T = TypeVar("T")
log = structlog.get_logger("airad.nats")

TRANSIENT: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,
    ConnectionError,
)
# JetStream API errors that a leader election or a server catching up answers with
LEADERLESS_CODES = frozenset({503})
LEADERLESS_ERR_CODES = frozenset(
    {
        10005,  # no suitable peers for placement (a peer still starting or offline)
        10008,  # JetStream cluster not available
        10118,  # stream offline
        10119,  # consumer offline
    }
)
# Any fault of the NATS connection or of JetStream: what a long-lived loop outlives.
NATS_FAULTS: tuple[type[BaseException], ...] = (nats.errors.Error, OSError)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a NATS fault that passes by itself (so the call may simply be tried again)."""
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, nats.js.errors.APIError):
        # nats-py raises some (KeyNotFoundError, ...) without a code
        return getattr(exc, "code", None) in LEADERLESS_CODES or getattr(exc, "err_code", None) in LEADERLESS_ERR_CODES
    return False


def describe(exc: BaseException) -> str:
    """`Type: message` of a fault, for logs and recorded reasons."""
    return f"{type(exc).__name__}: {exc}"


async def ride_out(
    call: Callable[[], Awaitable[T]], within_s: float = 60.0, first_pause_s: float = 0.25, max_pause_s: float = 1.0
) -> T:
    """`await call()`, tried again on a transient NATS fault until `within_s` seconds have passed. The
    pause between tries stays short (`max_pause_s`): a leader election ends at a random moment within
    seconds, and the call should land soon after it, not at the next of a doubling series of pauses."""
    deadline = time.monotonic() + within_s
    pause = first_pause_s
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            await anyio.sleep(pause)
            pause = min(pause * 2, max_pause_s)


async def keep_going(name: str, loop: Callable[[], Awaitable[object]], max_pause_s: float = 5.0) -> None:
    """Run `loop()` until cancelled: whenever a NATS fault ends it, log it and start it again after a
    pause that grows to `max_pause_s` (reset once it ran a while). Other errors are bugs and propagate."""
    pause = 0.25
    while True:
        started = time.monotonic()
        try:
            await loop()
            return
        except NATS_FAULTS as exc:
            if time.monotonic() - started > 30.0:
                pause = 0.25
            log.warning(f"{name}.nats_fault", error=describe(exc), retry_in_s=pause)
            await anyio.sleep(pause)
            pause = min(pause * 2, max_pause_s)
