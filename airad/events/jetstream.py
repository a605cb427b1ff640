"""The event log on NATS JetStream: streams, fenced appends, a KV run index, leases and cancel marks (the blobs are
in jetstream_blobs)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

from airad.events.jetstream_blobs import (  # noqa: F401 (re-exported)
    BLOB_PREFIX,
    BLOB_STREAM,
    BLOBS_BUCKET,
    JetStreamBlobStore,
)
from airad.events.log import (
    ENDED_STATUSES,
    EXPERIMENT_EVENTS,
    KNOWLEDGE_EVENTS,
    RUN_EVENTS,
    AppendConflict,
    EventFamily,
    RunSummary,
)
from airad.events.nats_faults import ride_out
from airad.events.stream_setup import STREAM_NAME_IN_USE, ensure_replicas, ensure_stream

REQUESTS_STREAM = "AIRAD_REQUESTS"
REQUESTS_SUBJECT = "airad.requests"
INTAKE_CONSUMER = "airad-intake"  # the daemons' shared pull consumer of run requests
EXPERIMENTS_SUBJECT = "airad.experiments"
RUN_ENDED_PREFIX = "airad.run-ended."
EVENTS_STREAM = RUN_EVENTS.stream
EVENTS_PREFIX = RUN_EVENTS.prefix
KNOWLEDGE_STREAM = KNOWLEDGE_EVENTS.stream
KNOWLEDGE_PREFIX = KNOWLEDGE_EVENTS.prefix
RUNS_BUCKET = "AIRAD_RUNS"
WRONG_LAST_SEQUENCE = 10071
# How long an append waits for its ack before trying again (same Nats-Msg-Id, de-duplicated): a
# publish in flight to a server that died waits this long before going to another.
PUBLISH_ACK_S = 2.0


def events_subject(run_id: str) -> str:
    """The subject that holds one run's events."""
    return EVENTS_PREFIX + run_id


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1, duplicate_window_s: float = 120.0) -> None:
    """Create the streams airad uses, kept by `replicas` servers, or make existing ones usable without
    weakening them (`stream_setup`); safe to call from every process."""
    for config in (
        StreamConfig(
            name=REQUESTS_STREAM,
            subjects=[REQUESTS_SUBJECT, EXPERIMENTS_SUBJECT],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=duplicate_window_s,
            num_replicas=replicas,
        ),
        *(
            StreamConfig(
                name=family.stream,
                subjects=[family.prefix + ">"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=duplicate_window_s,
                num_replicas=replicas,
            )
            for family in (RUN_EVENTS, EXPERIMENT_EVENTS, KNOWLEDGE_EVENTS)
        ),
        StreamConfig(
            name=BLOB_STREAM,
            subjects=[BLOB_PREFIX + "*"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_msgs_per_subject=1,
            duplicate_window=duplicate_window_s,
            allow_direct=True,
            num_replicas=replicas,
        ),
    ):
        await ensure_stream(js, config)


class JetStreamEventLog:
    """EventLog over the AIRAD_EVENTS stream (or another `EventFamily`'s: experiments', domains' knowledge).

    Each append carries `Nats-Msg-Id = <run_id>:<seq>` (a retried publish is de-duplicated) and
    `Nats-Expected-Last-Subject-Sequence` (a second writer of the same run fails instead of forking it).
    """

    def __init__(
        self,
        js: JetStreamContext,
        family: EventFamily = RUN_EVENTS,
        readers_at_once: int = 64,
        tails_kept: int = 20_000,
    ):
        self.js = js
        self.family = family
        # (run seq, stream seq) last seen per stream; a miss asks the server
        self._tail: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._tails_kept = tails_kept
        # a resumed daemon reads many logs at once: bound the consumers
        self._readers = asyncio.Semaphore(readers_at_once)

    def _subject(self, run_id: str) -> str:
        return self.family.prefix + run_id

    def _remember(self, run_id: str, tail: tuple[int, int]) -> None:
        """Keep the stream's tail for its next append; only the `tails_kept` most recent (a daemon that
        lives for millions of runs must not keep one per run)."""
        self._tail[run_id] = tail
        self._tail.move_to_end(run_id)
        if len(self._tail) > self._tails_kept:
            self._tail.popitem(last=False)

    async def _last_message(self, run_id: str):
        """The run's last message, None for an empty run."""
        try:
            return await ride_out(lambda: self.js.get_last_msg(self.family.stream, self._subject(run_id)))
        except nats.js.errors.NotFoundError:
            return None

    async def _last(self, run_id: str) -> tuple[int, int]:
        """(last run seq, its stream sequence) of the run, (0, 0) for an empty run."""
        message = await self._last_message(run_id)
        return (0, 0) if message is None else (self.family.decode(message.data).seq, message.seq)

    async def last(self, run_id: str):
        """The run's last event, None for an empty run."""
        message = await self._last_message(run_id)
        return None if message is None else self.family.decode(message.data)

    async def ids(self) -> list[str]:
        """The ids of every stream in this log (every run, or every experiment), sorted."""
        info = await self.js.stream_info(self.family.stream, subjects_filter=self.family.prefix + ">")
        return sorted(subject[len(self.family.prefix) :] for subject in (info.state.subjects or {}))

    async def append(self, event) -> None:
        """Publish one event, fenced on the run's last stream sequence."""
        run_id = self.family.key(event)
        run_seq, stream_seq = self._tail.get(run_id, (-1, 0))
        if run_seq != event.seq - 1:
            run_seq, stream_seq = await self._last(run_id)
            if run_seq != event.seq - 1:
                raise AppendConflict(f"run {run_id}: seq {event.seq} does not follow {run_seq}")
        headers = {
            "Nats-Msg-Id": f"{run_id}:{event.seq}",
            "Nats-Expected-Last-Subject-Sequence": str(stream_seq),
        }
        try:
            ack = await self._publish(self._subject(run_id), self.family.encode(event), headers)
        except nats.js.errors.APIError as exc:
            self._tail.pop(run_id, None)
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
            if not await self._already_appended(event):
                raise AppendConflict(f"run {run_id}: another writer appended before seq {event.seq}") from exc
            return
        if ack.duplicate and not await self._stored_at(ack.seq, event):
            # The server de-duplicates by Nats-Msg-Id before it checks the fence: another writer's event
            # of the same seq made this one a "duplicate" (seen when a lost lease and a leader change met).
            self._tail.pop(run_id, None)
            raise AppendConflict(f"run {run_id}: another writer appended seq {event.seq}")
        self._remember(run_id, (event.seq, ack.seq))

    async def _stored_at(self, stream_seq: int, event) -> bool:
        """Whether the stream's message `stream_seq` is exactly `event`."""
        message = await ride_out(lambda: self.js.get_msg(self.family.stream, stream_seq))
        return message.data is not None and self.family.decode(message.data) == event

    async def _already_appended(self, event) -> bool:
        """True when the run's last event is exactly `event`: an earlier try landed but its ack was lost."""
        message = await self._last_message(self.family.key(event))
        if message is None or self.family.decode(message.data) != event:
            return False
        self._remember(self.family.key(event), (event.seq, message.seq))
        return True

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str]):
        """Publish, riding out a restart or a lost ack with the same Nats-Msg-Id and fence: the server
        de-duplicates a try that landed, and the fence refuses one that another writer overtook."""
        return await ride_out(lambda: self.js.publish(subject, payload, headers=headers, timeout=PUBLISH_ACK_S))

    async def read(self, run_id: str) -> list:
        """All of the run's events, read with an ordered consumer up to the last one present now.

        An empty run, or one whose only event is its first (a run just submitted), is read from the
        last message alone: no consumer to create, and the next append knows its fence already."""
        message = await self._last_message(run_id)
        if message is None:
            self._remember(run_id, (0, 0))
            return []
        last = self.family.decode(message.data)
        last_stream_seq = message.seq
        if last.seq == 1:
            self._remember(run_id, (1, last_stream_seq))
            return [last]
        events: list = []
        async with self._readers:
            async for event, stream_seq in self._consume(run_id):
                events.append(event)
                if stream_seq >= last_stream_seq:
                    break
        return events

    async def watch(self, run_id: str, after_seq: int = 0) -> AsyncIterator:
        """Events after `after_seq`, live."""
        async for event, _ in self._consume(run_id):
            if event.seq > after_seq:
                yield event

    async def _consume(self, run_id: str) -> AsyncIterator[tuple]:
        sub = await ride_out(  # the stream named: no lookup by the meta leader, which may be electing
            lambda: self.js.subscribe(
                self._subject(run_id),
                stream=self.family.stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
                idle_heartbeat=5.0,
                inactive_threshold=60.0,
            )
        )
        async for message in messages(sub):
            yield self.family.decode(message.data), message.metadata.sequence.stream


async def messages(sub) -> AsyncIterator:
    """A subscription's messages as they come, for as long as the caller iterates; then it unsubscribes."""
    try:
        while True:
            try:
                yield await sub.next_msg(timeout=3600)
            except nats.errors.TimeoutError:
                continue
    finally:
        try:
            await sub.unsubscribe()
        except nats.errors.Error:
            pass


async def bucket(js: JetStreamContext, name: str, replicas: int = 1, **config):
    """The KV bucket `name`, created with `config` and kept by `replicas` servers if it does not exist
    yet; an existing one kept by fewer servers is raised to `replicas`."""
    try:
        kv = await ride_out(lambda: js.key_value(name), within_s=30.0)
    except nats.js.errors.BucketNotFoundError:
        try:  # the peers of a cluster just started may not take it yet: tried again for a while
            return await ride_out(lambda: js.create_key_value(bucket=name, replicas=replicas, **config), within_s=30.0)
        except nats.js.errors.APIError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
            kv = await js.key_value(name)  # another process created it meanwhile
    if replicas > 1:
        await ensure_replicas(js, f"KV_{name}", replicas)
    return kv


class JetStreamRunIndex:
    """RunIndex over a KV bucket, one key per run; a run's end is also announced on the core-NATS
    subject `airad.run-ended.<run id>` (no stream keeps it), so listeners need not poll the bucket."""

    def __init__(self, kv, nc):
        self.kv = kv
        self.nc = nc

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> JetStreamRunIndex:
        """Create or bind the summaries bucket."""
        return cls(await bucket(js, RUNS_BUCKET, replicas, history=1), js._nc)

    async def put(self, summary: RunSummary) -> None:
        """Replace the run's summary; announce it when it says the run ended."""
        data = msgspec.json.encode(summary)
        await ride_out(lambda: self.kv.put(summary.run_id, data))
        if summary.status in ENDED_STATUSES:
            await self.nc.publish(RUN_ENDED_PREFIX + summary.run_id)

    async def watch(self) -> AsyncIterator[RunSummary]:
        """Subscribe now; the iterator yields each summary written from then on (an ordered consumer of
        the bucket's subjects, which recovers from a NATS restart by itself)."""
        sub = await self.nc.jetstream().subscribe(
            f"$KV.{RUNS_BUCKET}.>",
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=5.0,
            inactive_threshold=60.0,
        )

        async def summaries() -> AsyncIterator[RunSummary]:
            async for message in messages(sub):
                if message.data:
                    yield msgspec.json.decode(message.data, type=RunSummary)

        return summaries()

    async def ended(self) -> AsyncIterator[str]:
        """Subscribe now; the iterator yields the runs announced as ended from then on (the client
        subscribes again by itself after a reconnect; what was announced meanwhile is missed)."""
        sub = await self.nc.subscribe(RUN_ENDED_PREFIX + ">")

        async def run_ids() -> AsyncIterator[str]:
            async for message in messages(sub):
                yield message.subject[len(RUN_ENDED_PREFIX) :]

        return run_ids()

    async def get(self, run_id: str) -> RunSummary | None:
        """The run's summary, if any."""
        try:
            entry = await ride_out(lambda: self.kv.get(run_id))
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value, type=RunSummary) if entry.value else None

    async def list(self) -> list[RunSummary]:
        """Every run's summary, by submission time (read through one consumer, not a request per key)."""
        summaries = [msgspec.json.decode(value, type=RunSummary) for value in await latest_values(self.kv)]
        return sorted(summaries, key=lambda s: (s.submitted_at or 0.0, s.run_id))


async def latest_values(kv, batch: int = 1000) -> list[bytes]:
    """The current value of every live key of a KV bucket.

    Read through an ephemeral pull consumer delivering the last message per subject: its pending
    count is exact before anything is fetched. nats-py's own `watchall`/`keys` may report "no more
    entries" before the first one arrives when the server pushed it early (seen as an empty run
    list in CI), so they are not used here."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=60.0,
    )
    sub = await kv._js.pull_subscribe(f"{kv._pre}>", stream=kv._stream, config=config)
    values: list[bytes] = []
    try:
        pending = (await sub.consumer_info()).num_pending
        while pending > 0:
            try:
                msgs = await sub.fetch(min(pending, batch), timeout=10)
            except nats.errors.TimeoutError:
                break  # keys deleted since the count was taken
            for msg in msgs:
                pending = msg.metadata.num_pending
                operation = msg.headers.get("KV-Operation") if msg.headers else None
                if operation not in ("DEL", "PURGE") and msg.data:
                    values.append(msg.data)
    finally:
        await sub.unsubscribe()
    return values
