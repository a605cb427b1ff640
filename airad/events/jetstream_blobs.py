"""The blob store on JetStream: content-addressed bytes (prompts, completions, outputs)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig

from airad.events.nats_faults import ride_out
from airad.events.stream_setup import STREAM_NAME_IN_USE, ensure_replicas

BLOBS_BUCKET = "AIRAD_BLOBS"
BLOB_STREAM = "AIRAD_BLOB_MSGS"
BLOB_PREFIX = "airad.blobs."
BLOB_MESSAGE_LIMIT = 512 * 1024


class JetStreamBlobStore:
    """BlobStore on JetStream, blobs named by SHA-256.

    A blob up to `BLOB_MESSAGE_LIMIT` bytes is one message on `airad.blobs.<sha256>` (one publish to
    store, one direct get to read; the stream keeps one message per subject, so storing it again
    changes nothing). Larger blobs, and those written before this layout, live in the object store.
    Blobs this process stored or read lately are served from memory (bounded by `cache_bytes`):
    the harness reads a submission right after the executor's outputs were stored.
    """

    def __init__(self, js: JetStreamContext, store, known_limit: int = 100_000, cache_bytes: int = 32 * 1024 * 1024):
        self.js = js
        self.store = store
        self.known_limit = known_limit
        self._known: set[str] = set()
        self._cache = ByteCache(cache_bytes)

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> JetStreamBlobStore:
        """Bind (creating it, kept by `replicas` servers, if need be) the object store of large blobs."""
        try:
            store = await js.object_store(BLOBS_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            try:
                return cls(js, await js.create_object_store(BLOBS_BUCKET, config=ObjectStoreConfig(replicas=replicas)))
            except nats.js.errors.APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
                store = await js.object_store(BLOBS_BUCKET)
        if replicas > 1:
            await ensure_replicas(js, f"OBJ_{BLOBS_BUCKET}", replicas)
        return cls(js, store)

    async def put(self, data: bytes) -> str:
        """Store once per content."""
        ref = hashlib.sha256(data).hexdigest()
        if ref in self._known:
            return ref
        if len(data) <= BLOB_MESSAGE_LIMIT:
            await ride_out(
                lambda: self.js.publish(BLOB_PREFIX + ref, data, headers={"Nats-Msg-Id": f"blob:{ref}"}, timeout=10.0)
            )
        else:
            try:
                await ride_out(lambda: self.store.get_info(ref))
            except nats.js.errors.ObjectNotFoundError:
                await ride_out(lambda: self.store.put(ref, data))
        if len(self._known) >= self.known_limit:
            self._known.clear()
        self._known.add(ref)
        self._cache.add(ref, data)
        return ref

    async def get(self, ref: str) -> bytes:
        """Fetch a blob by its digest; KeyError when there is none."""
        data = self._cache.get(ref)
        if data is not None:
            return data
        try:
            message = await ride_out(lambda: self.js.get_last_msg(BLOB_STREAM, BLOB_PREFIX + ref, direct=True))
            data = message.data or b""
        except nats.js.errors.NotFoundError:
            try:
                data = (await self.store.get(ref)).data
            except nats.js.errors.ObjectNotFoundError:
                raise KeyError(ref) from None
        self._cache.add(ref, data)
        return data


class ByteCache:
    """The most recently added values, up to a total size in bytes (larger values are not kept)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self._values: OrderedDict[str, bytes] = OrderedDict()

    def add(self, key: str, value: bytes) -> None:
        """Keep `value`, dropping the oldest values past the limit."""
        if len(value) > self.limit // 8 or key in self._values:
            return
        self._values[key] = value
        self.size += len(value)
        while self.size > self.limit:
            self.size -= len(self._values.popitem(last=False)[1])

    def get(self, key: str) -> bytes | None:
        """The value kept under `key`, if any."""
        return self._values.get(key)
