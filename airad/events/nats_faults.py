"""Riding out the NATS faults that pass: a server restarting, a stream leader moving, an ack lost.

A call that meets one of these is tried again, with a growing pause, until `within_s` is spent; only then
does the fault reach the caller. Every call wrapped here must be safe to repeat (reads, and publishes that
carry a Nats-Msg-Id and a fence)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import nats.errors
import nats.js.errors

T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


async def ride_out(call: Callable[[], Awaitable[T]], within_s: float = 60.0, first_pause_s: float = 0.25) -> T:
    """`await call()`, tried again on a transient NATS fault until `within_s` seconds have passed."""
    deadline = time.monotonic() + within_s
    pause = first_pause_s
    while True:
        try:
            return await call()
        except TRANSIENT:
            if time.monotonic() + pause > deadline:
                raise
            await anyio.sleep(pause)
            pause = min(pause * 2, 5.0)
