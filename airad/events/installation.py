"""Values every daemon on one NATS shares, whoever started first: the `airad_installation` KV
bucket (today the split secret of `tasks.split_secret`)."""

from __future__ import annotations

import nats.js.errors
from nats.js import JetStreamContext

INSTALLATION_BUCKET = "airad_installation"


async def first_value(js: JetStreamContext, key: str, candidate: bytes) -> bytes:
    """The value every daemon on this NATS agrees on for `key`: the first candidate ever put there
    (later candidates lose the atomic create and read it)."""
    try:
        bucket = await js.key_value(INSTALLATION_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        bucket = await js.create_key_value(bucket=INSTALLATION_BUCKET, history=1)
    try:
        await bucket.create(key, candidate)
    except nats.js.errors.KeyWrongLastSequenceError:
        pass
    value = (await bucket.get(key)).value
    assert value is not None, "a key created with a value keeps it"
    return value
