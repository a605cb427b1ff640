"""`airad status`: the daemons serving (from their heartbeats), their runs, the requests and experiments
waiting, and airad's streams with their replicas and leaders. It creates no bucket (its connection, as
every command's, makes sure of the streams)."""

from __future__ import annotations

import argparse
import time

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import ClusterInfo

from airad.cli import output as out
from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK
from airad.daemon.settings import Settings
from airad.events.installation import INSTALLATION_BUCKET
from airad.events.jetstream import (
    BLOB_STREAM,
    BLOBS_BUCKET,
    EXPERIMENTS_SUBJECT,
    INTAKE_CONSUMER,
    REQUESTS_STREAM,
    REQUESTS_SUBJECT,
    RUNS_BUCKET,
    JetStreamRunIndex,
)
from airad.events.jetstream_marks import CANCELS_BUCKET, LEASES_BUCKET
from airad.events.log import ENDED_STATUSES, EXPERIMENT_EVENTS, KNOWLEDGE_EVENTS, RUN_EVENTS
from airad.events.presence import DAEMONS_BUCKET, DaemonInfo, DaemonPresence

AIRAD_STREAMS = (
    REQUESTS_STREAM,
    RUN_EVENTS.stream,
    EXPERIMENT_EVENTS.stream,
    KNOWLEDGE_EVENTS.stream,
    BLOB_STREAM,
    *(f"KV_{name}" for name in (RUNS_BUCKET, LEASES_BUCKET, CANCELS_BUCKET, DAEMONS_BUCKET, INSTALLATION_BUCKET)),
    f"OBJ_{BLOBS_BUCKET}",
)
"""Every stream airad uses, KV and object buckets included (as the server names their streams)."""

IDS_SHOWN = 3


class DaemonStatus(DaemonInfo, frozen=True):
    """A daemon's last heartbeat, with how long it has been up and how long ago it beat."""

    up_s: float = 0.0
    last_seen_s: float = 0.0


class RunsStatus(msgspec.Struct, frozen=True):
    """The run index in short: how many runs in each status, and the unfinished runs that no daemon's
    heartbeat lists (orphans, waiting for a daemon to adopt them)."""

    total: int
    by_status: dict[str, int]
    orphans: tuple[str, ...]


class QueueStatus(msgspec.Struct, frozen=True):
    """The requests on one subject and the daemons' shared consumer of them: `pending` wait to be taken,
    `ack_pending` are being accepted now, `pulls_waiting` are daemons' pulls open on it (daemons serving).
    Without the consumer (no daemon ever served) `pending` counts the subject's messages in the stream."""

    subject: str
    consumer: str
    consumer_exists: bool
    pending: int
    ack_pending: int = 0
    pulls_waiting: int = 0


class ReplicaStatus(msgspec.Struct, frozen=True):
    """One follower of a stream: whether it is current, how many operations it lags, whether it is offline."""

    name: str
    current: bool
    lag: int
    offline: bool


class StreamStatus(msgspec.Struct, frozen=True):
    """One stream: its size, its replica count, its leader and followers; `exists` False: not created yet."""

    name: str
    exists: bool
    messages: int = 0
    bytes: int = 0
    replicas: int = 0
    leader: str = ""
    followers: tuple[ReplicaStatus, ...] = ()


class Status(msgspec.Struct, frozen=True):
    """Everything `airad status` reports (its --json object)."""

    daemons: list[DaemonStatus]
    runs: RunsStatus
    requests: QueueStatus
    experiments: QueueStatus
    streams: list[StreamStatus]


async def read_daemons(js: JetStreamContext, now: float) -> list[DaemonStatus]:
    """The daemons whose heartbeat is live; none when no daemon ever created the bucket."""
    presence = await DaemonPresence.existing(js)
    daemons = await presence.list() if presence is not None else []
    return [
        DaemonStatus(**msgspec.structs.asdict(info), up_s=now - info.started_at, last_seen_s=now - info.seen_at)
        for info in daemons
    ]


async def read_runs(js: JetStreamContext, daemons: list[DaemonStatus]) -> RunsStatus:
    """Runs by status from the run index (bound, not created), and the unfinished ones no daemon drives."""
    try:
        kv = await js.key_value(RUNS_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return RunsStatus(total=0, by_status={}, orphans=())
    summaries = await JetStreamRunIndex(kv, js._nc).list()
    by_status: dict[str, int] = {}
    for summary in summaries:
        by_status[summary.status] = by_status.get(summary.status, 0) + 1
    driven = {run_id for daemon in daemons for run_id in daemon.runs}
    orphans = tuple(s.run_id for s in summaries if s.status not in ENDED_STATUSES and s.run_id not in driven)
    return RunsStatus(total=len(summaries), by_status=by_status, orphans=orphans)


async def read_queue(js: JetStreamContext, subject: str, consumer: str) -> QueueStatus:
    """The requests waiting on `subject`, as the daemons' durable `consumer` sees them."""
    try:
        info = await js.consumer_info(REQUESTS_STREAM, consumer)
    except nats.js.errors.NotFoundError:
        queued = await messages_on(js, REQUESTS_STREAM, subject)
        return QueueStatus(subject, consumer, consumer_exists=False, pending=queued)
    return QueueStatus(
        subject,
        consumer,
        consumer_exists=True,
        pending=info.num_pending or 0,
        ack_pending=info.num_ack_pending or 0,
        pulls_waiting=info.num_waiting or 0,
    )


async def messages_on(js: JetStreamContext, stream: str, subject: str) -> int:
    """How many messages `stream` holds on `subject` (0 when the stream does not exist)."""
    try:
        info = await js.stream_info(stream, subjects_filter=subject)
    except nats.js.errors.NotFoundError:
        return 0
    return (info.state.subjects or {}).get(subject, 0)


async def read_stream(js: JetStreamContext, name: str) -> StreamStatus:
    """A stream's size, replicas, leader and followers' health."""
    try:
        info = await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        return StreamStatus(name, exists=False)
    cluster = info.cluster or ClusterInfo()
    followers = tuple(
        ReplicaStatus(peer.name or "?", bool(peer.current), peer.lag or 0, bool(peer.offline))
        for peer in cluster.replicas or ()
    )
    return StreamStatus(
        name,
        exists=True,
        messages=info.state.messages,
        bytes=info.state.bytes,
        replicas=info.config.num_replicas or 1,
        leader=cluster.leader or "",
        followers=followers,
    )


async def read_status(js: JetStreamContext, now: float) -> Status:
    """What `airad status` reports, read from the server behind `js`."""
    from airad.daemon.daemon import EXPERIMENTS_CONSUMER

    daemons = await read_daemons(js, now)
    return Status(
        daemons=daemons,
        runs=await read_runs(js, daemons),
        requests=await read_queue(js, REQUESTS_SUBJECT, INTAKE_CONSUMER),
        experiments=await read_queue(js, EXPERIMENTS_SUBJECT, EXPERIMENTS_CONSUMER),
        streams=[await read_stream(js, name) for name in AIRAD_STREAMS],
    )


def some_ids(ids: tuple[str, ...] | list[str]) -> str:
    """The first few ids, comma-separated, and how many more."""
    shown = ", ".join(ids[:IDS_SHOWN])
    return shown + (f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else "")


def fmt_bytes(size: int) -> str:
    """A size as people read it: '512 B', '3.4 KiB', '1.2 GiB'."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    power = 0
    while power < len(units) - 1 and size >= 1024 ** (power + 1):
        power += 1
    return f"{size} B" if power == 0 else f"{size / 1024**power:.1f} {units[power]}"


def daemons_section(daemons: list[DaemonStatus]) -> str:
    """DAEMONS: one line per heartbeat, or why there is none."""
    if not daemons:
        return "DAEMONS\nno daemon has announced itself: none is serving (`airad daemon` starts one)"
    rows = [("OWNER", "HOST", "PID", "VERSION", "UP", "SEEN", "MAX RUNS", "RUNS")]
    for daemon in daemons:
        runs = str(len(daemon.runs)) + (f": {', '.join(daemon.runs)}" if 0 < len(daemon.runs) <= IDS_SHOWN else "")
        rows.append(
            (
                daemon.owner,
                daemon.host,
                str(daemon.pid),
                daemon.version or "-",
                out.age(max(daemon.up_s, 0.0)),
                f"{out.age(max(daemon.last_seen_s, 0.0))} ago",
                str(daemon.max_runs) if daemon.max_runs else "no limit",
                runs,
            )
        )
    return "DAEMONS\n" + out.table(rows)


def runs_section(runs: RunsStatus) -> str:
    """RUNS: the count in each status, and the unfinished runs waiting for a daemon."""
    counts = ", ".join(f"{count} {status}" for status, count in sorted(runs.by_status.items()))
    lines = [f"RUNS\n{runs.total} in all" + (f": {counts}" if counts else "")]
    if runs.orphans:
        lines.append(f"{len(runs.orphans)} unfinished and driven by no daemon: {some_ids(runs.orphans)}")
    return "\n".join(lines)


def queue_line(label: str, queue: QueueStatus) -> tuple[str, str]:
    """One REQUESTS row: what waits and who serves it."""
    if not queue.consumer_exists:
        return label, f"{queue.pending} pending; no daemon has ever served these (no consumer {queue.consumer})"
    return (
        label,
        f"{queue.pending} pending, {queue.ack_pending} being accepted, {queue.pulls_waiting} daemon pulls waiting",
    )


def requests_section(requests: QueueStatus, experiments: QueueStatus) -> str:
    """REQUESTS: run and experiment requests waiting."""
    return "REQUESTS\n" + out.table([queue_line("runs", requests), queue_line("experiments", experiments)])


def replicas_health(stream: StreamStatus) -> str:
    """The followers' health: 'n2 current, n3 lag 12 (offline)', '-' when there is none."""
    if not stream.followers:
        return "-"
    return ", ".join(
        f"{peer.name} " + ("current" if peer.current else f"lag {peer.lag}") + (" (offline)" if peer.offline else "")
        for peer in stream.followers
    )


def streams_section(streams: list[StreamStatus]) -> str:
    """STREAMS: size, replicas and leader of each, or 'not created'."""
    rows = [("STREAM", "MESSAGES", "SIZE", "REPLICAS", "LEADER", "FOLLOWERS")]
    for stream in streams:
        if not stream.exists:
            rows.append((stream.name, "not created", "", "", "", ""))
            continue
        rows.append(
            (
                stream.name,
                str(stream.messages),
                fmt_bytes(stream.bytes),
                str(stream.replicas),
                stream.leader or "-",
                replicas_health(stream),
            )
        )
    return "STREAMS\n" + out.table(rows)


def status_text(status: Status) -> str:
    """The human report: DAEMONS, RUNS, REQUESTS, STREAMS."""
    return "\n\n".join(
        (
            daemons_section(status.daemons),
            runs_section(status.runs),
            requests_section(status.requests, status.experiments),
            streams_section(status.streams),
        )
    )


async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """`airad status [--json]`: exit 0 when some daemon is serving, 1 when none is."""
    async with connect(settings, args.environ) as client:
        status = await read_status(client.js, time.time())
    print(out.to_json(status) if args.json else status_text(status))
    return EXIT_OK if status.daemons else EXIT_FAILED


def register(command) -> None:
    """Add status to `airad`'s parser."""
    parser = command("status", cmd_status, "what serves: daemons, their runs, pending requests, streams")
    parser.description = (
        "Show the daemons serving (from their heartbeats), their runs, the run and experiment requests "
        "pending, and airad's streams with their replicas and leaders. Exit status 0 when at least one "
        "daemon is serving, 1 when none is."
    )
