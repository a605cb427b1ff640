"""Run ownership and cancel requests in JetStream KV buckets: leases that expire unless renewed, and
the cancel marks a client sets for a run or an experiment."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from airad.events.jetstream import WRONG_LAST_SEQUENCE, bucket, messages
from airad.events.nats_faults import ride_out

LEASES_BUCKET = "AIRAD_LEASES"
CANCELS_BUCKET = "AIRAD_CANCELS"
_CANCELS_PREFIX = f"$KV.{CANCELS_BUCKET}."


class JetStreamLeases:
    """Leases in a KV bucket whose entries expire after `ttl_s` unless renewed."""

    def __init__(self, kv, owner: str):
        self.kv = kv
        self.owner = owner
        self._revisions: dict[str, int] = {}

    @classmethod
    async def open(cls, js: JetStreamContext, owner: str, ttl_s: float, replicas: int = 1) -> JetStreamLeases:
        """Create or bind the leases bucket (the TTL is fixed when the bucket is created)."""
        return cls(await bucket(js, LEASES_BUCKET, replicas, history=1, ttl=ttl_s), owner)

    async def acquire(self, run_id: str) -> bool:
        """Create the key; an existing key is ours only if it names this owner."""
        try:
            self._revisions[run_id] = await self.kv.create(run_id, self.owner.encode())
            return True
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        try:
            entry = await self.kv.get(run_id)
        except nats.js.errors.KeyNotFoundError:
            return await self.acquire(run_id)
        if entry.value and entry.value.decode() != self.owner:
            return False
        try:
            self._revisions[run_id] = await self.kv.update(run_id, self.owner.encode(), last=entry.revision)
            return True
        except nats.js.errors.KeyWrongLastSequenceError:
            return False

    async def renew(self, run_id: str) -> bool:
        """Rewrite the key at the revision we last wrote; False if someone else wrote since. A key that
        moved on but still names this owner was our own write whose ack was lost (a leader change), so
        the lease holds."""
        revision = self._revisions.get(run_id)
        if revision is None:
            return False
        try:
            self._revisions[run_id] = await self.kv.update(run_id, self.owner.encode(), last=revision)
            return True
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            pass
        try:
            entry = await self.kv.get(run_id)
        except nats.js.errors.KeyNotFoundError:
            entry = None
        if entry is None or entry.value != self.owner.encode() or entry.revision is None:
            self._revisions.pop(run_id, None)
            return False
        self._revisions[run_id] = entry.revision
        return True

    async def release(self, run_id: str) -> None:
        """Delete the key if we still hold it."""
        revision = self._revisions.pop(run_id, None)
        if revision is not None:
            try:
                await self.kv.delete(run_id, last=revision)
            except nats.js.errors.APIError as exc:
                # kv.delete reports a stale revision as a plain BadRequestError (10071): the key was
                # rewritten since (a renewal racing the run's end, or another owner); leave it be.
                if exc.err_code != WRONG_LAST_SEQUENCE:
                    raise


class JetStreamCancelMarks:
    """CancelMarks in a KV bucket: one key per run (its id) or experiment (`experiment.<id>`), kept
    after the run ends, so a run adopted later by another daemon still sees its mark."""

    def __init__(self, kv, js: JetStreamContext):
        self.kv = kv
        self.js = js

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> JetStreamCancelMarks:
        """Create or bind the cancel-marks bucket."""
        return cls(await bucket(js, CANCELS_BUCKET, replicas, history=1), js)

    async def mark(self, key: str, reason: str = "") -> None:
        """Write the mark (a second mark only rewrites it)."""
        await self.kv.put(key, json.dumps({"at": time.time(), "reason": reason}).encode())

    async def marked(self, key: str) -> bool:
        """Whether the key holds a mark."""
        try:
            entry = await ride_out(lambda: self.kv.get(key))
        except nats.js.errors.KeyNotFoundError:
            return False
        return bool(entry.value)

    async def watch(self) -> AsyncIterator[str]:
        """Subscribe now; the iterator returned yields the keys marked from then on (an ordered consumer
        of the bucket's subjects, which recovers from a NATS restart by itself). Marks already present
        are for `marked` to find."""
        sub = await self.js.subscribe(
            _CANCELS_PREFIX + ">",
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=5.0,
            inactive_threshold=60.0,
        )
        return self._keys(sub)

    async def _keys(self, sub) -> AsyncIterator[str]:
        async for message in messages(sub):
            if message.data:
                yield message.subject[len(_CANCELS_PREFIX) :]
