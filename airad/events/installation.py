"""Values every daemon on one NATS shares, whoever started first: the `airad_installation` KV
bucket (today the split secret of `tasks.split_secret`)."""

from __future__ import annotations

import nats.js.errors
from nats.js import JetStreamContext

from airad.events.jetstream import bucket as kv_bucket
from airad.events.nats_faults import ride_out

INSTALLATION_BUCKET = "airad_installation"


async def first_value(js: JetStreamContext, key: str, candidate: bytes, replicas: int = 1) -> bytes:
    """The value every daemon on this NATS agrees on for `key`: the first candidate ever put there
    (later candidates lose the atomic create and read it)."""
    bucket = await kv_bucket(js, INSTALLATION_BUCKET, replicas, history=1)
    try:  # a new replicated bucket may have no leader for a moment; a retried create that landed is found below
        await ride_out(lambda: bucket.create(key, candidate), within_s=30.0)
    except nats.js.errors.KeyWrongLastSequenceError:
        pass
    value = (await ride_out(lambda: bucket.get(key), within_s=30.0)).value
    assert value is not None, "a key created with a value keeps it"
    return value
