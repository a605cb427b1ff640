"""Streams and buckets as airad needs them, on a single server or a replicated cluster.

A missing stream is created with the replicas asked for (`Settings.nats_replicas`). An existing one is
never weakened: airad adds the subjects it needs, raises its replicas to the number asked for (never
lowers them), turns on direct gets where it reads that way, and leaves every other setting an operator
chose. A stream airad cannot use as it is (another retention policy, memory storage where it needs
files) or a replica count the cluster cannot hold is a `StreamSetupError` that names the stream and the
setting, raised at start-up.
"""

from __future__ import annotations

import dataclasses

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from airad.events.nats_faults import ride_out

STREAM_NAME_IN_USE = 10058
NO_SUITABLE_PEERS = 10005
INSUFFICIENT_RESOURCES = 10023
REPLICAS_UNSUPPORTED = 10074
REPLICA_ERRORS = (NO_SUITABLE_PEERS, INSUFFICIENT_RESOURCES, REPLICAS_UNSUPPORTED)


class StreamSetupError(RuntimeError):
    """A stream or bucket airad needs cannot be made or used as configured; the message says which and why."""


def _check_usable(current: StreamConfig, wanted: StreamConfig) -> None:
    if wanted.retention is not None and current.retention != wanted.retention:
        raise StreamSetupError(
            f"the NATS stream {wanted.name} exists with retention {_value(current.retention)}, but airad needs "
            f"{_value(wanted.retention)}: delete it (nats stream rm {wanted.name}) or use another NATS account"
        )
    if wanted.storage is not None and current.storage != wanted.storage:
        raise StreamSetupError(
            f"the NATS stream {wanted.name} exists with {_value(current.storage)} storage, but airad keeps its "
            f"log on {_value(wanted.storage)} storage: delete it (nats stream rm {wanted.name})"
        )


def _value(setting: object) -> str:
    return str(getattr(setting, "value", setting))


def _strengthened(current: StreamConfig, wanted: StreamConfig) -> dict:
    """The settings to change on `current` so airad can use it, none of them weaker than before."""
    changes: dict = {}
    subjects = list(current.subjects or [])
    missing = [subject for subject in wanted.subjects or [] if subject not in subjects]
    if missing:
        changes["subjects"] = subjects + missing
    if (wanted.num_replicas or 1) > (current.num_replicas or 1):
        changes["num_replicas"] = wanted.num_replicas
    if wanted.allow_direct and not current.allow_direct:
        changes["allow_direct"] = True
    return changes


def _replicas_error(wanted: StreamConfig, exc: nats.js.errors.APIError) -> StreamSetupError:
    return StreamSetupError(
        f"the NATS stream {wanted.name} cannot be kept by {wanted.num_replicas} servers ({exc.description}): "
        "set nats_replicas (AIRAD_NATS_REPLICAS) to at most the number of JetStream servers in the cluster"
    )


async def ensure_stream(js: JetStreamContext, wanted: StreamConfig) -> None:
    """Create the stream `wanted`, or make the existing one usable without weakening it."""
    name = wanted.name
    assert name is not None, "a stream airad needs has a name"
    try:
        current = (await js.stream_info(name)).config
    except nats.js.errors.NotFoundError:
        try:
            await ride_out(lambda: js.add_stream(wanted), within_s=30.0)  # peers of a cluster just started
            return
        except nats.js.errors.APIError as exc:
            if exc.err_code in REPLICA_ERRORS:
                raise _replicas_error(wanted, exc) from None
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
            current = (await js.stream_info(name)).config  # another process created it meanwhile
    _check_usable(current, wanted)
    changes = _strengthened(current, wanted)
    if not changes:
        return
    try:
        await ride_out(lambda: js.update_stream(dataclasses.replace(current, **changes)), within_s=30.0)
    except nats.js.errors.APIError as exc:
        if "num_replicas" in changes and exc.err_code in REPLICA_ERRORS:
            raise _replicas_error(wanted, exc) from None
        raise


async def ensure_replicas(js: JetStreamContext, stream: str, replicas: int) -> None:
    """Raise the replicas of an existing stream (a bucket's `KV_<name>` or `OBJ_<name>`) to `replicas`."""
    current = (await js.stream_info(stream)).config
    await ensure_stream(js, dataclasses.replace(current, num_replicas=max(replicas, current.num_replicas or 1)))
