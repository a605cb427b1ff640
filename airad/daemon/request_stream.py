"""The daemons' side of the request stream: consuming it through a shared durable pull consumer, and
publishing the run requests an experiment expands to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import msgspec
from nats.js.api import AckPolicy, ConsumerConfig

from airad.events.jetstream import REQUESTS_STREAM, REQUESTS_SUBJECT
from airad.events.nats_faults import NATS_FAULTS
from airad.schemas.request import RunRequest


async def pulled(js, subject: str, durable: str, consume: Callable[..., Awaitable[None]]) -> None:
    """`consume(subscription)` over the shared durable pull consumer `durable` of the request stream."""
    subscription = await js.pull_subscribe(
        subject,
        durable=durable,
        stream=REQUESTS_STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60.0),
    )
    try:
        await consume(subscription)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                await subscription.unsubscribe()
            except NATS_FAULTS:
                pass


async def publish_run(js, request: RunRequest) -> None:
    """Publish a run request of an experiment; its Nats-Msg-Id lets the server drop a repeat at once."""
    await js.publish(REQUESTS_SUBJECT, msgspec.json.encode(request), headers={"Nats-Msg-Id": f"run:{request.run_id}"})
