"""How long appends stall when a JetStream leader dies, and how long a dead daemon's runs wait for another daemon:

    python bench/nats_failover.py --part stall [--writers 4 --kills 5 --interval 0.02]
    python bench/nats_failover.py --part takeover [--lease-ttl 30 --runs 4 --rounds 3]
    python bench/nats_failover.py --part takeover --lease-ttl 5

`--part stall`: a 3-node JetStream cluster on loopback (tests/infra/nats_cluster.py), airad's streams
with 3 replicas (`ensure_streams(js, replicas=3)`; a stream that still comes out R1 is raised to R3
here, and the bench says so). `--writers` writers, each on its own connection (`connect_nats` with
every node's URL, reconnecting forever, as a daemon does; so a kill finds some writers connected to
the dying server and some not), each append its own run's events through `JetStreamEventLog.append`
(fenced, de-duplicated, riding out transient faults), one every `--interval` seconds. First
`--baseline` seconds without faults: append latency p50/p99 and the longest gap between two appends
of a writer. Then `--kills` times: SIGKILL the server leading AIRAD_EVENTS, wait until every writer
has appended again, restart it and wait until every replica is current; then once more for the
JetStream meta leader (the stream's leader is first asked to step down until another server leads
the stream, so that kill is of the meta leader alone). Per kill: the longest gap between two
consecutive successful appends of any writer from the kill until the restart (the stall), split by
writers connected to the killed server or not; the time from the kill until every writer had
appended again; the time until the stream took a plain publish again and until the meta API (the
stream-names lookup that `js.subscribe` makes) answered again, both probed every 50 ms without
back-off from a surviving server (the elections alone); the publish attempts that failed meanwhile,
by error; appends that failed for good (there must be none); and the longest gap while the killed
server rejoined. At the end every run's log is read back and must be gapless (seq 1..n, n = appends
made).

`--part takeover`: one private nats-server (EmbeddedNats) and two `airad daemon` processes
(tests/integration/daemon_process.py, a state dir each, `--lease-ttl`, default the daemon's default
30 s; one local executor slot each and no reference baselines, to spare the CPU). `--runs` runs of
`--max-nodes` nodes (offline coder, bwrap-sandboxed local executor) are submitted; once every run has
started, the daemon owning most runs is SIGKILLed (its process group) and, per run it owned, the
bench notes the time from the kill until the other daemon appends the run's `run.started` with
`resumed=True`. The killed daemon is restarted and, after a random pause (so neither daemon's
TTL/3 rhythm keeps one phase to the kill), the next round kills the one that now owns every run;
`--rounds` rounds. Per run it also prints when the server stored the dead daemon's lease entry last
(its last renewal), when the entry was gone from the AIRAD_LEASES bucket, and how long after that
the run was adopted. The lease was last renewed up to TTL/3 before the kill, so it expires 2/3 TTL
to TTL after it; the survivor adopts orphans once every TTL/3 (`Daemon._keep_leases`): a takeover
takes from about 2/3 TTL to TTL + TTL/3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

import nats.js.errors
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airad.daemon.settings import Settings  # noqa: E402
from airad.events.connect import connect_nats  # noqa: E402
from airad.events.jetstream import EVENTS_STREAM, JetStreamEventLog, ensure_streams  # noqa: E402
from airad.events.jetstream_marks import LEASES_BUCKET  # noqa: E402
from airad.schemas.events import NodeSelected, RunSubmitted  # noqa: E402
from airad.schemas.request import BundledTask, RunRequest  # noqa: E402
from bench.scale import pct  # noqa: E402


def fmt(values: list[float]) -> str:
    """min / median / max of seconds."""
    if not values:
        return "n/a"
    return f"min {min(values):.2f} s, median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def fmt1(value: float | None, missing: str = "never") -> str:
    """Seconds, or `missing`."""
    return missing if value is None else f"{value:.2f} s"


# ---------------------------------------------------------------------------------------------------
# Part 1: append stall at a leader change


class CountingJetStream:
    """A writer's JetStream context, with every publish attempt noted (start, end, outcome) in a list
    shared by all writers: the tries that `ride_out` makes inside one `JetStreamEventLog.append`."""

    def __init__(self, js, attempts: list):
        self._js = js
        self.attempts = attempts

    async def publish(self, *args, **kwargs):
        start = time.monotonic()
        try:
            ack = await self._js.publish(*args, **kwargs)
        except BaseException as exc:
            self.attempts.append((start, time.monotonic(), type(exc).__name__))
            raise
        self.attempts.append((start, time.monotonic(), "ok"))
        return ack

    def __getattr__(self, name):
        return getattr(self._js, name)


def gaps(points: list[float], start: float, end: float) -> list[tuple[float, float]]:
    """(start, end) of the spans between consecutive `points` (sorted) that end in (start, end],
    counting from the last point at or before `start` (or `start` itself)."""
    before = [p for p in points if p <= start]
    inside = ([before[-1]] if before else [start]) + [p for p in points if start < p <= end]
    return list(zip(inside, inside[1:], strict=False))


class Writer:
    """Appends one run's events over its own connection, one every `interval` seconds, and notes when
    each append ended."""

    def __init__(self, nc, attempts: list, run_id: str, interval: float):
        self.nc = nc
        self.log = JetStreamEventLog(CountingJetStream(nc.jetstream(), attempts))
        self.run_id = run_id
        self.interval = interval
        self.seq = 0  # the last seq appended
        self.done: list[float] = []  # monotonic end of every successful append
        self.latency: list[tuple[float, float]] = []  # (start, seconds)
        self.failures: list[tuple[float, int, str]] = []  # (when, seq, error): appends that failed for good
        self.stopping = False

    def server_port(self) -> int | None:
        url = self.nc.connected_url
        return url.port if url is not None and self.nc.is_connected else None

    def event(self, seq: int):
        if seq == 1:
            return RunSubmitted(
                run_id=self.run_id, seq=1, at=time.time(), request=RunRequest(task=BundledTask(name="wine"))
            )
        return NodeSelected(run_id=self.run_id, seq=seq, at=time.time(), node_id=seq - 2, operator="draft")

    async def run(self) -> None:
        while not self.stopping:
            start = time.monotonic()
            try:
                await self.log.append(self.event(self.seq + 1))
            except Exception as exc:  # a failure for good: note it, then carry on from the log's tail
                self.failures.append((time.monotonic(), self.seq + 1, f"{type(exc).__name__}: {exc}"))
                await self.resync()
                continue
            end = time.monotonic()
            self.seq += 1
            self.done.append(end)
            self.latency.append((start, end - start))
            await asyncio.sleep(max(0.0, self.interval - (end - start)))

    async def resync(self) -> None:
        while True:
            try:
                last = await self.log.last(self.run_id)
                self.seq = 0 if last is None else last.seq
                return
            except Exception:
                await asyncio.sleep(0.5)

    def first_after(self, t: float) -> float | None:
        return next((d for d in self.done if d > t), None)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time between consecutive appends ending in (start, end], counting from the last
        append before `start`."""
        return max((b - a for a, b in gaps(self.done, start, end)), default=0.0)


async def stream_whole(js, timeout_s: float = 90.0) -> float:
    """Wait until AIRAD_EVENTS has a leader and every replica is current; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            info = await js.stream_info(EVENTS_STREAM)
            cluster = info.cluster
            replicas = (cluster.replicas or []) if cluster else []
            if (
                cluster
                and cluster.leader
                and len(replicas) + 1 == info.config.num_replicas
                and all(r.current and not r.offline for r in replicas)
            ):
                return time.monotonic() - start
        except Exception:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{EVENTS_STREAM} was not whole again within {timeout_s:g} s")


async def probe(call, stop: asyncio.Event, answered: list[float], errors: Counter, every_s: float = 0.05) -> None:
    """`call()` every `every_s` seconds until `stop` is set, with no back-off; notes when its answers
    came, and its errors by kind."""
    while not stop.is_set():
        try:
            await call()
            answered.append(time.monotonic())
        except Exception as exc:
            errors[type(exc).__name__] += 1
        await asyncio.sleep(every_s)


async def read_back(js, run_id: str) -> tuple[list, list[str]]:
    """`JetStreamEventLog.read`, tried again (for up to a minute) when it fails; returns the events and
    the errors of the failed tries."""
    errors: list[str] = []
    deadline = time.monotonic() + 60
    while True:
        try:
            return await JetStreamEventLog(js).read(run_id), errors
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def apart(nc, js, cluster, tries: int = 5) -> None:
    """Ask the stream's leader to step down until another server than the meta leader leads it, so
    the meta-leader kill shows the meta group's own election (a stream API call any client may make)."""
    for _ in range(tries):
        stream_leader = await asyncio.to_thread(cluster.stream_leader, EVENTS_STREAM)
        if stream_leader != await asyncio.to_thread(cluster.meta_leader):
            return
        await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{EVENTS_STREAM}", b"", timeout=5)
        await asyncio.sleep(1.0)
        await stream_whole(js)


async def kill_round(
    args, number: int, target: str, cluster, js, writers: list[Writer], attempts: list, tag: str
) -> dict:
    """SIGKILL the stream's (or the meta group's) leader, wait until every writer is back, restart it,
    wait until every replica is current; print the figures and return them."""
    stream_leader = await asyncio.to_thread(cluster.stream_leader, EVENTS_STREAM)
    meta_leader = await asyncio.to_thread(cluster.meta_leader)
    name = stream_leader if target == "stream" else meta_leader
    node = cluster.node(name)
    witness = next(n for n in cluster.nodes if n is not node and n.alive())
    probe_nc = await connect_nats(witness.url, name="bench-probe", max_reconnect_attempts=-1)
    probe_js = probe_nc.jetstream(timeout=0.5)
    on_victim = [w.server_port() == node.port for w in writers]
    killed_at = time.monotonic()
    await asyncio.to_thread(node.kill)
    stop = asyncio.Event()
    published: list[float] = []
    answered: list[float] = []
    probes = [
        asyncio.create_task(
            probe(partial(probe_js.publish, f"airad.events.probe-{tag}", b"x"), stop, published, Counter())
        ),
        asyncio.create_task(
            probe(partial(probe_js.find_stream_name_by_subject, "airad.events.x"), stop, answered, Counter())
        ),
    ]
    while any(w.first_after(killed_at) is None for w in writers) and time.monotonic() < killed_at + args.timeout:
        await asyncio.sleep(0.01)
    back = [w.first_after(killed_at) for w in writers]
    await asyncio.sleep(args.hold)
    new_leader = await asyncio.to_thread(cluster.stream_leader, EVENTS_STREAM)
    restart_at = time.monotonic()
    await asyncio.to_thread(cluster.restart, node)
    await stream_whole(js)
    rejoined = time.monotonic() - restart_at
    while not any(a > restart_at for a in answered) and time.monotonic() < restart_at + args.timeout:
        await asyncio.sleep(0.05)  # the next round starts with the meta group whole
    await asyncio.sleep(args.hold)
    end = time.monotonic()
    stop.set()
    await asyncio.gather(*probes)
    await probe_nc.close()

    election = next((p - killed_at for p in published if p > killed_at), None)
    meta_back = next((a - killed_at for a in answered if a > killed_at), None)
    meta_gaps = [(a - killed_at, b - a) for a, b in gaps(answered + [end], killed_at, end) if b - a > 0.5]
    stall_of = {id(w): w.longest_gap(killed_at, restart_at) for w in writers}
    stall = max(stall_of.values())
    near = max((stall_of[id(w)] for w, on in zip(writers, on_victim, strict=True) if on), default=None)
    far = max((stall_of[id(w)] for w, on in zip(writers, on_victim, strict=True) if not on), default=None)
    rejoin_gap = max(w.longest_gap(restart_at, end) for w in writers)
    all_back = None if any(b is None for b in back) else max(back) - killed_at
    errors = Counter(outcome for _, ended, outcome in attempts if killed_at <= ended < end and outcome != "ok")
    failed = [f for w in writers for f in w.failures if killed_at <= f[0] < end]
    if target == "stream":
        what = f"stream leader {name}" + (" (also meta leader)" if name == meta_leader else "")
    else:
        what = f"meta leader {name}" + (
            " (also stream leader)" if name == stream_leader else f" (stream leader {stream_leader})"
        )
    silent = ", ".join(f"{length:.2f} s from kill+{at:.2f} s" for at, length in meta_gaps) or "never"
    print(
        f"kill {number}: SIGKILL {what}; {sum(on_victim)} of {len(writers)} writers connected to it; "
        f"stream leader now {new_leader}"
    )
    print(
        f"  stall {stall:.2f} s (writers on the killed server {fmt1(near, 'none')}, "
        f"on the others {fmt1(far, 'none')}); "
        f"every writer appended again after {fmt1(all_back)}"
    )
    print(
        f"  probes from {witness.name}, every 50 ms without back-off: the stream took a publish again after "
        f"{fmt1(election)}, the meta API (stream names) answered again after {fmt1(meta_back)}; "
        f"meta API silent over 0.5 s: {silent} (restart at kill+{restart_at - killed_at:.2f} s)"
    )
    print(
        f"  failed publish tries {dict(errors) or 'none'}; appends failed for good {len(failed)}; "
        f"restart until every replica current {rejoined:.1f} s, longest gap meanwhile {rejoin_gap * 1000:.0f} ms"
    )
    for when, seq, error in failed:
        print(f"  FAILED FOR GOOD at kill+{when - killed_at:.2f} s, seq {seq}: {error}")
    return dict(
        target=target, stall=stall, near=near, far=far, back=all_back, failed=failed, election=election, meta=meta_back
    )


async def part_stall(args) -> None:
    from tests.infra.nats_cluster import NatsCluster

    with tempfile.TemporaryDirectory() as tmp:
        cluster = NatsCluster(Path(tmp)).start()
        try:
            await stall_rounds(args, cluster)
        finally:
            cluster.stop()


async def stall_rounds(args, cluster) -> None:
    nc = await connect_nats(cluster.url, name="bench-admin", max_reconnect_attempts=-1)
    connections = []
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas=3)
        info = await js.stream_info(EVENTS_STREAM)
        print(
            f"cluster of {len(cluster.nodes)} nats-servers; {EVENTS_STREAM} created with "
            f"num_replicas={info.config.num_replicas} by ensure_streams(js, replicas=3)"
        )
        if info.config.num_replicas < 3:
            info.config.num_replicas = 3
            await js.update_stream(info.config)
            print(f"  raised {EVENTS_STREAM} to num_replicas=3 with js.update_stream (ensure_streams did not)")
        await stream_whole(js)

        attempts: list[tuple[float, float, str]] = []
        tag = uuid.uuid4().hex[:6]
        for i in range(args.writers):
            connections.append(await connect_nats(cluster.url, name=f"bench-writer-{i}", max_reconnect_attempts=-1))
        writers = [Writer(c, attempts, f"stall-{tag}-w{i}", args.interval) for i, c in enumerate(connections)]
        tasks = [asyncio.create_task(w.run()) for w in writers]

        await asyncio.sleep(1.0)  # warm up: every run exists and its tail is known
        base_start = time.monotonic()
        await asyncio.sleep(args.baseline)
        base_end = time.monotonic()
        latencies = [s for w in writers for start, s in w.latency if base_start <= start < base_end]
        base_gap = max(w.longest_gap(base_start, base_end) for w in writers)
        print(
            f"no faults, {args.baseline:g} s, {args.writers} writers (a connection each), one append each every "
            f"{args.interval * 1000:g} ms: {len(latencies):,} appends, "
            f"latency p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms; "
            f"longest gap between two appends of a writer {base_gap * 1000:.0f} ms"
        )

        rows = []
        targets = ["stream"] * args.kills + (["meta"] if args.meta else [])
        for number, target in enumerate(targets, 1):
            if target == "meta":
                await apart(nc, js, cluster)
            await asyncio.sleep(args.settle)
            rows.append(await kill_round(args, number, target, cluster, js, writers, attempts, tag))

        for w in writers:
            w.stopping = True
        await asyncio.gather(*tasks)
        stream_rows = [r for r in rows if r["target"] == "stream"]
        if stream_rows:
            stalls = [r["stall"] for r in stream_rows]
            near = [r["near"] for r in stream_rows if r["near"] is not None]
            far = [r["far"] for r in stream_rows if r["far"] is not None]
            elections = [r["election"] for r in stream_rows if r["election"] is not None]
            print(
                f"stream-leader kills: {len(stalls)}; stall (longest gap of any writer) "
                f"median {statistics.median(stalls):.2f} s, max {max(stalls):.2f} s"
            )
            print(f"  writers on the killed server: {fmt(near)}; on the others: {fmt(far)}")
            print(f"  the stream took a probe again after {fmt(elections)}")
        for r in rows:
            if r["target"] == "meta":
                print(
                    f"meta-leader kill: stall {r['stall']:.2f} s, every writer back after {fmt1(r['back'])}, "
                    f"meta API answering again after {fmt1(r['meta'])}"
                )
        failed_total = sum(len(w.failures) for w in writers)
        print(f"appends failed for good: {failed_total}")
        for w in writers:
            events, errors = await read_back(js, w.run_id)
            for error in errors:
                print(f"  reading {w.run_id} back failed, tried again: {error}")
            seqs = [e.seq for e in events]
            gapless = seqs == list(range(1, len(seqs) + 1))
            print(
                f"  {w.run_id}: {w.seq:,} appends, log holds {len(seqs):,} events, "
                f"{'gapless' if gapless and len(seqs) == w.seq else 'NOT GAPLESS OR COUNT DIFFERS'}"
            )
    finally:
        for c in connections:
            await c.close()
        await nc.close()


# ---------------------------------------------------------------------------------------------------
# Part 2: takeover time at the lease TTL


def owner_pid(owner: str) -> int:
    """The process id inside an owner id (`host-pid-hex`)."""
    return int(owner.rsplit("-", 2)[1])


def wait_started(daemon, timeout_s: float = 120.0) -> None:
    """Until the daemon's latest start logs `daemon.ready` (DaemonProcess.wait_ready also reads the
    logs of its earlier, killed starts, which said it already)."""
    path = daemon.state_dir / f"daemon-{os.getpid()}-{id(daemon)}-{daemon.starts}.log"
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and "daemon.ready" in path.read_text(errors="replace")):
        if not daemon.alive():
            raise RuntimeError(f"daemon died at start:\n{path.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon was not ready within {timeout_s:g} s")
        time.sleep(0.1)


async def holds(leases, run_id: str, owner: str) -> bool:
    """Whether the leases bucket still names `owner` for the run."""
    try:
        entry = await leases.get(run_id)
    except nats.js.errors.KeyNotFoundError:
        return False
    return bool(entry.value) and entry.value.decode() == owner


async def lease_written(js, run_id: str) -> float:
    """When (wall clock) the server stored the run's lease entry as it is now."""
    message = await js.get_last_msg(f"KV_{LEASES_BUCKET}", f"$KV.{LEASES_BUCKET}.{run_id}")
    return message.time.timestamp()


async def part_takeover(args) -> None:
    from airad.daemon.nats_server import EmbeddedNats
    from tests.integration.daemon_process import DaemonProcess, publish_raw, stop_all
    from tests.resilience.helpers import request

    ttl = args.lease_ttl
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        nc = await connect_nats(url, name="bench", max_reconnect_attempts=-1)
        env = {"AIRAD_LOCAL_SLOTS": "1", "AIRAD_REFERENCE_BASELINES": "false"}
        daemons = [DaemonProcess(url, Path(tmp) / f"daemon-{i}", lease_ttl_s=ttl, env=env) for i in range(2)]
        started: dict[str, list[tuple[float, str, bool]]] = {}  # run -> (seen at, owner, resumed)
        ended: set[str] = set()

        async def on_event(message) -> None:
            if message.data.startswith(b'{"type":"run.started"'):
                event = json.loads(message.data)
                started.setdefault(event["run_id"], []).append((time.monotonic(), event["owner"], event["resumed"]))
            elif message.data.startswith((b'{"type":"run.finished"', b'{"type":"run.rejected"')):
                ended.add(message.subject.rsplit(".", 1)[1])

        try:
            await ensure_streams(nc.jetstream())
            await nc.subscribe("airad.events.>", cb=on_event)
            for daemon in daemons:
                daemon.start()
            for daemon in daemons:
                await asyncio.to_thread(wait_started, daemon)
            tag = uuid.uuid4().hex[:6]
            run_ids = [f"takeover-{tag}-{i}" for i in range(args.runs)]
            for run_id in run_ids:
                await publish_raw(url, request(run_id, "wine", max_nodes=args.max_nodes))
            leases = await nc.jetstream().key_value(LEASES_BUCKET)
            deadline = time.monotonic() + 180
            while not all(run_id in started for run_id in run_ids):
                if time.monotonic() > deadline:
                    for daemon in daemons:
                        print(f"daemon pid {daemon.process.pid} log:\n{daemon.log_text()[-3000:]}")
                    raise TimeoutError(f"not every run started within 180 s: {sorted(started)}")
                await asyncio.sleep(0.1)
            print(
                f"lease TTL {ttl:g} s (renewed and orphans adopted every {ttl / 3:.2f} s); "
                f"2 daemons; {args.runs} runs of up to {args.max_nodes} nodes"
            )
            samples: list[float] = []
            after_expiry: list[float] = []
            for number in range(1, args.rounds + 1):
                # a random pause, so that neither the dead daemon's renewals nor the survivor's adoption
                # rounds (every TTL/3 from its start) keep one phase to the kill from round to round
                pause = random.uniform(args.settle_takeover, args.settle_takeover + ttl / 3)
                await asyncio.sleep(pause)
                owner_of = {run_id: started[run_id][-1][1] for run_id in run_ids if run_id not in ended}
                by_pid = Counter(owner_pid(owner) for owner in owner_of.values())
                victim = max(daemons, key=lambda d: by_pid.get(d.process.pid, 0))
                survivor = next(d for d in daemons if d is not victim)
                victim_runs = [r for r, owner in owner_of.items() if owner_pid(owner) == victim.process.pid]
                victim_owner = {r: owner_of[r] for r in victim_runs}
                if not victim_runs:
                    raise RuntimeError("no unfinished run left to take over; raise --max-nodes")
                killed_at = time.monotonic()
                victim.kill()
                killed_wall = time.time()
                stored = {r: killed_wall - await lease_written(nc.jetstream(), r) for r in victim_runs}
                seen_before = {r: len(started[r]) for r in victim_runs}
                deadline = killed_at + 2 * ttl + 60
                took: dict[str, float] = {}
                gone: dict[str, float] = {}  # when the dead daemon's lease was no longer in the bucket
                while len(took) < len(victim_runs) and time.monotonic() < deadline:
                    for r in victim_runs:
                        if r not in gone and not await holds(leases, r, victim_owner[r]):
                            gone[r] = time.monotonic() - killed_at
                        if r in took:
                            continue
                        for seen, owner, resumed in started[r][seen_before[r] :]:
                            if resumed and owner_pid(owner) == survivor.process.pid:
                                took[r] = seen - killed_at
                                break
                    await asyncio.sleep(0.05)
                print(
                    f"round {number}: {pause:.1f} s after the last start, SIGKILL daemon pid {victim.process.pid} "
                    f"owning {len(victim_runs)} runs; "
                    f"taken over by pid {survivor.process.pid}: {len(took)} of {len(victim_runs)}"
                )
                for r in victim_runs:
                    if r in took:
                        samples.append(took[r])
                        line = (
                            f"  {r}: run.started resumed=True {took[r]:.2f} s after the kill; its lease last "
                            f"written at kill-{stored[r]:.2f} s, due to expire at kill+{ttl - stored[r]:.2f} s"
                        )
                        if r in gone:
                            after_expiry.append(took[r] - gone[r])
                            line += f", gone at kill+{gone[r]:.2f} s; adopted {took[r] - gone[r]:.2f} s later"
                        print(line)
                    else:
                        print(f"  {r}: NOT TAKEN OVER within {deadline - killed_at:.0f} s")
                if not survivor.alive():
                    print(f"  SURVIVOR DIED:\n{survivor.log_text()[-3000:]}")
                victim.start()
                await asyncio.to_thread(wait_started, victim)
            print(f"takeover, kill to run.started(resumed) by the other daemon: {len(samples)} runs, {fmt(samples)}")
            print(
                f"  adopted after the dead lease was gone from the bucket: {fmt(after_expiry)} "
                f"(the adoption round comes every {ttl / 3:.2f} s)"
            )
            print(
                f"  expected: between 2/3 TTL = {2 * ttl / 3:.1f} s and TTL + TTL/3 = {4 * ttl / 3:.1f} s, "
                "plus the adoption itself"
            )
            for daemon in daemons:
                for line in daemon.log_text().splitlines():
                    if "[warning" in line or "[error" in line or "[critical" in line or "Traceback" in line:
                        print(f"  daemon log: {line[:400]}")
        finally:
            stop_all(daemons)
            await nc.close()
            server.stop()


async def main(args) -> None:
    # the connections' reconnect warnings (nats.error) would come by the dozen: the figures say it
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    if args.part in ("stall", "both"):
        await part_stall(args)
    if args.part in ("takeover", "both"):
        await part_takeover(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["stall", "takeover", "both"], default="both")
    stall = parser.add_argument_group("stall")
    stall.add_argument("--writers", type=int, default=4)
    stall.add_argument("--kills", type=int, default=5, help="SIGKILLs of the stream leader")
    stall.add_argument("--no-meta", dest="meta", action="store_false", help="skip the SIGKILL of the meta leader")
    stall.add_argument("--interval", type=float, default=0.02, help="seconds between the starts of a writer's appends")
    stall.add_argument("--baseline", type=float, default=10.0, help="seconds of appends without faults")
    stall.add_argument("--settle", type=float, default=3.0, help="seconds of appends before each kill")
    stall.add_argument("--hold", type=float, default=2.0, help="seconds after every writer is back before the restart")
    stall.add_argument("--timeout", type=float, default=90.0)
    takeover = parser.add_argument_group("takeover")
    takeover.add_argument(
        "--lease-ttl",
        type=float,
        default=Settings().lease_ttl_s,
        help="the daemons' lease_ttl_s (default: its default)",
    )
    takeover.add_argument("--runs", type=int, default=4)
    takeover.add_argument("--rounds", type=int, default=3)
    takeover.add_argument("--max-nodes", type=int, default=1000, help="enough that no run ends during the bench")
    takeover.add_argument("--settle-takeover", dest="settle_takeover", type=float, default=2.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments))
