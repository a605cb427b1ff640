"""The event log on NATS JetStream: streams, fenced appends, a KV run index, leases, an object store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

from airad.events.log import AppendConflict, RunSummary
from airad.schemas.events import Event, decode_event, encode_event

REQUESTS_STREAM = "AIRAD_REQUESTS"
REQUESTS_SUBJECT = "airad.requests"
EVENTS_STREAM = "AIRAD_EVENTS"
EVENTS_PREFIX = "airad.events."
KNOWLEDGE_STREAM = "AIRAD_KNOWLEDGE"
KNOWLEDGE_PREFIX = "airad.knowledge."
RUNS_BUCKET = "AIRAD_RUNS"
LEASES_BUCKET = "AIRAD_LEASES"
BLOBS_BUCKET = "AIRAD_BLOBS"
WRONG_LAST_SEQUENCE = 10071


def events_subject(run_id: str) -> str:
    """The subject that holds one run's events."""
    return EVENTS_PREFIX + run_id


async def ensure_streams(js: JetStreamContext, *, duplicate_window_s: float = 120.0) -> None:
    """Create (or update) the streams airad uses; safe to call from every process."""
    for config in (
        StreamConfig(
            name=REQUESTS_STREAM, subjects=[REQUESTS_SUBJECT], retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE, duplicate_window=duplicate_window_s,
        ),
        StreamConfig(
            name=EVENTS_STREAM, subjects=[EVENTS_PREFIX + ">"], storage=StorageType.FILE,
            duplicate_window=duplicate_window_s,
        ),
        StreamConfig(
            name=KNOWLEDGE_STREAM, subjects=[KNOWLEDGE_PREFIX + ">"], storage=StorageType.FILE,
            duplicate_window=duplicate_window_s,
        ),
    ):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)


class JetStreamEventLog:
    """EventLog over the AIRAD_EVENTS stream.

    Each append carries `Nats-Msg-Id = <run_id>:<seq>` (a retried publish is de-duplicated) and
    `Nats-Expected-Last-Subject-Sequence` (a second writer of the same run fails instead of forking it).

    The class attributes name the stream, its subject prefix, the field that picks an event's subject
    and the wire codec, so another per-key stream of fenced events (a domain's knowledge) reuses
    this machinery by overriding them.
    """

    stream = EVENTS_STREAM
    prefix = EVENTS_PREFIX
    key_field = "run_id"
    kind = "run"
    decode = staticmethod(decode_event)
    encode = staticmethod(encode_event)

    def __init__(self, js: JetStreamContext):
        self.js = js
        self._tail: dict[str, tuple[int, int]] = {}

    def _subject(self, key: str) -> str:
        return self.prefix + key

    async def _last(self, key: str) -> tuple[int, int]:
        """(last seq, its stream sequence) of the key's events, (0, 0) for none."""
        try:
            message = await self.js.get_last_msg(self.stream, self._subject(key))
        except nats.js.errors.NotFoundError:
            return 0, 0
        return self.decode(message.data).seq, message.seq

    async def append(self, event: Event) -> None:
        """Publish one event, fenced on the run's last stream sequence."""
        key = getattr(event, self.key_field)
        run_seq, stream_seq = self._tail.get(key, (-1, 0))
        if run_seq != event.seq - 1:
            run_seq, stream_seq = await self._last(key)
            if run_seq != event.seq - 1:
                raise AppendConflict(f"{self.kind} {key}: seq {event.seq} does not follow {run_seq}")
        headers = {
            "Nats-Msg-Id": f"{key}:{event.seq}",
            "Nats-Expected-Last-Subject-Sequence": str(stream_seq),
        }
        try:
            ack = await self._publish(self._subject(key), self.encode(event), headers)
        except nats.js.errors.APIError as exc:
            self._tail.pop(key, None)
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
            if not await self._already_appended(event):
                raise AppendConflict(f"{self.kind} {key}: another writer appended before seq {event.seq}") from exc
            return
        self._tail[key] = (event.seq, ack.seq)

    async def _already_appended(self, event: Event) -> bool:
        """True when the key's last event is exactly `event`: an earlier try landed but its ack was lost."""
        key = getattr(event, self.key_field)
        try:
            message = await self.js.get_last_msg(self.stream, self._subject(key))
        except nats.js.errors.NotFoundError:
            return False
        if self.decode(message.data) != event:
            return False
        self._tail[key] = (event.seq, message.seq)
        return True

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str], attempts: int = 3):
        """Publish, retrying a lost ack with the same Nats-Msg-Id: the server de-duplicates a retry that landed."""
        for attempt in range(attempts):
            try:
                return await self.js.publish(subject, payload, headers=headers, timeout=5.0)
            except nats.errors.TimeoutError:
                if attempt == attempts - 1:
                    raise

    async def read(self, run_id: str) -> list[Event]:
        """All of the run's events, read with an ordered consumer up to the last one present now.

        An empty run, or one whose only event is its first (a run just submitted), is read from the
        last message alone: no consumer to create, and the next append knows its fence already."""
        try:
            message = await self.js.get_last_msg(self.stream, self._subject(run_id))
        except nats.js.errors.NotFoundError:
            self._tail[run_id] = (0, 0)
            return []
        last = self.decode(message.data)
        last_stream_seq = message.seq
        if last.seq == 1:
            self._tail[run_id] = (1, last_stream_seq)
            return [last]
        events: list[Event] = []
        async for event, stream_seq in self._consume(run_id):
            events.append(event)
            if stream_seq >= last_stream_seq:
                break
        return events

    async def watch(self, run_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
        """Events after `after_seq`, live."""
        async for event, _ in self._consume(run_id):
            if event.seq > after_seq:
                yield event

    async def _consume(self, run_id: str) -> AsyncIterator[tuple[Event, int]]:
        sub = await self.js.subscribe(
            self._subject(run_id), ordered_consumer=True, deliver_policy=DeliverPolicy.ALL,
            idle_heartbeat=5.0, inactive_threshold=60.0,
        )
        try:
            while True:
                try:
                    message = await sub.next_msg(timeout=3600)
                except nats.errors.TimeoutError:
                    continue
                yield self.decode(message.data), message.metadata.sequence.stream
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass


class JetStreamBlobStore:
    """BlobStore over a JetStream object store, objects named by SHA-256."""

    def __init__(self, store, known_limit: int = 100_000):
        self.store = store
        self.known_limit = known_limit
        self._known: set[str] = set()

    @classmethod
    async def open(cls, js: JetStreamContext) -> "JetStreamBlobStore":
        """Create or bind the blob bucket."""
        try:
            return cls(await js.object_store(BLOBS_BUCKET))
        except nats.js.errors.BucketNotFoundError:
            return cls(await js.create_object_store(BLOBS_BUCKET))

    async def put(self, data: bytes) -> str:
        """Store once per content."""
        ref = hashlib.sha256(data).hexdigest()
        if ref in self._known:
            return ref
        try:
            await self.store.get_info(ref)
        except nats.js.errors.ObjectNotFoundError:
            await self.store.put(ref, data)
        if len(self._known) >= self.known_limit:
            self._known.clear()
        self._known.add(ref)
        return ref

    async def get(self, ref: str) -> bytes:
        """Fetch a blob by its digest."""
        try:
            return (await self.store.get(ref)).data
        except nats.js.errors.ObjectNotFoundError:
            raise KeyError(ref) from None


async def _bucket(js: JetStreamContext, name: str, **config):
    try:
        return await js.key_value(name)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(bucket=name, **config)


class JetStreamRunIndex:
    """RunIndex over a KV bucket, one key per run."""

    def __init__(self, kv):
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> "JetStreamRunIndex":
        """Create or bind the summaries bucket."""
        return cls(await _bucket(js, RUNS_BUCKET, history=1))

    async def put(self, summary: RunSummary) -> None:
        """Replace the run's summary."""
        await self.kv.put(summary.run_id, msgspec.json.encode(summary))

    async def get(self, run_id: str) -> RunSummary | None:
        """The run's summary, if any."""
        try:
            entry = await self.kv.get(run_id)
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value, type=RunSummary) if entry.value else None

    async def list(self) -> list[RunSummary]:
        """Every run's summary, by submission time."""
        try:
            keys = await self.kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        summaries = [s for s in [await self.get(key) for key in keys] if s is not None]
        return sorted(summaries, key=lambda s: (s.submitted_at or 0.0, s.run_id))


class JetStreamLeases:
    """Leases in a KV bucket whose entries expire after `ttl_s` unless renewed."""

    def __init__(self, kv, owner: str):
        self.kv = kv
        self.owner = owner
        self._revisions: dict[str, int] = {}

    @classmethod
    async def open(cls, js: JetStreamContext, owner: str, ttl_s: float) -> "JetStreamLeases":
        """Create or bind the leases bucket (the TTL is fixed when the bucket is created)."""
        return cls(await _bucket(js, LEASES_BUCKET, history=1, ttl=ttl_s), owner)

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
        """Rewrite the key at the revision we last wrote; False if someone else wrote since."""
        revision = self._revisions.get(run_id)
        if revision is None:
            return False
        try:
            self._revisions[run_id] = await self.kv.update(run_id, self.owner.encode(), last=revision)
            return True
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            self._revisions.pop(run_id, None)
            return False

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
