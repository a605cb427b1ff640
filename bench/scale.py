"""Many concurrent runs in one daemon on a real nats-server:

    python bench/scale.py --runs 1000 --model-delay 0.5 --job-delay 1.0 [--max-nodes 3] [--grading-processes 1]

An in-process `Daemon` with a model that answers after `--model-delay` seconds (a good plan + script)
and an executor that finishes after `--job-delay` seconds with the task's sample submission
(tests/fakes.SleepingExecutor), on a private nats-server. The executor has a slot for every run, so
nothing queues on it. `--runs` requests are published at once (pipelined), then the daemon drives them
all to the end (`--max-nodes` nodes each, greedy, one node in flight per run). Prints:

- raw JetStream publish rate of this machine: pipelined nats-py `publish_async` of 300-byte messages
  to a stream of its own (the ceiling for any writer), and one awaited `publish` at a time;
- the daemon's event-log capacity: `--runs` runs appending `--log-nodes` node lifecycles each, all
  at once, with no model, executor or harness between the events: through `JetStreamEventLog.append`
  (fenced, de-duplicated) and through the daemon's `RunWriter` (that append plus its lock,
  cancellation shield and fold); each as a ratio of the raw pipelined rate;
- the most runs in flight at once (started and not yet finished);
- events appended per second and nodes finished per second, from the first request published to the
  last run finished; the event rate as a ratio of the raw pipelined rate;
- append latency (one `EventLog.append`, p50/p99) and the latency from an action becoming possible to
  its event being appended: from a job finishing (the executor's `wait` returning) to its
  `node.executed` event acknowledged by JetStream (collecting the outputs into the blob store, building
  the event, waiting for the run's writer, the fenced publish), p50/p99;
- event-loop lag: how late a 10 ms sleep wakes (p50/p99/max), sampled all through the runs;
- RSS of this process (daemon + bench client; the nats-server apart) at its peak, and per run;
- CPU of this process, of the nats-server and of the grading workers, in % of one core; and the
  events appended per CPU-second of all three, as a ratio of the raw pipelined publishes per
  CPU-second of their publisher and the nats-server (the event rate per core, not per machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import anyio
import msgspec
import nats
import structlog
from nats.js.api import StreamConfig, StorageType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airad.daemon.daemon import Daemon  # noqa: E402
from airad.daemon.llm import Completion  # noqa: E402
from airad.daemon.nats_server import EmbeddedNats  # noqa: E402
from airad.daemon.settings import Settings  # noqa: E402
from airad.daemon.run_services import RunServices, RunWriter  # noqa: E402
from airad.events.fold import RunState  # noqa: E402
from airad.events.jetstream import JetStreamEventLog  # noqa: E402
from airad.events import request_tokens  # noqa: E402
from airad.events.jetstream import REQUESTS_SUBJECT, ensure_streams  # noqa: E402
from airad.schemas.events import NodeExecuted, NodeFailed, NodeTested, RunFinished, RunStarted, event_tag  # noqa: E402
from tests.factories import History  # noqa: E402
from tests.fakes import SleepingExecutor  # noqa: E402

ANSWER = """Plan: a shallow decision tree on all features.

```python
import os
import pandas as pd
from sklearn.tree import DecisionTreeClassifier
train = pd.read_csv("input/train.csv")
test = pd.read_csv("input/test.csv")
model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(train.drop(columns=["id", "target"]), train["target"])
os.makedirs("submission", exist_ok=True)
pd.DataFrame({"id": test["id"], "target": model.predict_proba(test.drop(columns=["id"]))[:, 1]}).to_csv(
    "submission/submission.csv", index=False)
```
"""
REVIEW = '{"is_bug": false, "summary": "ran", "metric": 0.9, "lower_is_better": false}'


class DelayedLLM:
    """A model that answers every call after `seconds`: the plan + script above, or a review for the analyze step."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.calls = 0

    async def check_model(self, model):
        return None

    async def context_window(self, model):
        return model.context_tokens

    def count_tokens(self, model, messages):
        return sum(len(m.content) for m in messages) // 4

    async def complete(self, model, messages, tools=None, context=None):
        self.calls += 1
        await anyio.sleep(self.seconds)
        if tools:
            return Completion(text="", model=model.name, tool_arguments=REVIEW, prompt_tokens=10, completion_tokens=5)
        return Completion(text=ANSWER, model=model.name, prompt_tokens=100, completion_tokens=50)


class TimedExecutor(SleepingExecutor):
    """SleepingExecutor that notes when each job finished."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.finished: dict[str, float] = {}

    async def wait(self, handle: str):
        result = await super().wait(handle)
        self.finished[handle] = time.perf_counter()
        return result


class CountingLog:
    """Wraps the daemon's EventLog: counts appends, times them, and times job-finished → node.executed."""

    def __init__(self, inner, executor: TimedExecutor):
        self.inner = inner
        self.executor = executor
        self.events = 0
        self.nodes = 0
        self.finished_runs = 0
        self.started_runs: set[str] = set()
        self.peak_in_flight = 0
        self.append_s: list[float] = []
        self.executed_s: list[float] = []
        self.by_type: dict[str, int] = {}
        self.all_done = asyncio.Event()
        self.expected_runs = 0

    async def append(self, event) -> None:
        start = time.perf_counter()
        await self.inner.append(event)
        end = time.perf_counter()
        self.events += 1
        self.append_s.append(end - start)
        tag = event_tag(event)
        self.by_type[tag] = self.by_type.get(tag, 0) + 1
        if isinstance(event, NodeExecuted):
            done = self.executor.finished.pop(f"{event.run_id}/{event.node_id}", None)
            if done is not None:
                self.executed_s.append(end - done)
        elif isinstance(event, (NodeTested, NodeFailed)):
            self.nodes += 1
        elif isinstance(event, RunStarted):
            self.started_runs.add(event.run_id)
            self.peak_in_flight = max(self.peak_in_flight, len(self.started_runs) - self.finished_runs)
        elif isinstance(event, RunFinished):
            self.finished_runs += 1
            if self.finished_runs >= self.expected_runs:
                self.all_done.set()

    def __getattr__(self, name):
        return getattr(self.inner, name)


class LoopLag:
    """How late a 10 ms sleep wakes up, sampled continuously."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.samples: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - start - self.interval)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s(but: int) -> float:
    """CPU seconds used so far by this process's live child processes but `but` (the nats-server):
    the grading workers."""
    total = 0.0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            if int(pid) == but:
                continue
            try:
                total += cpu_s(int(pid))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def raw_publish_rates(url: str, nats_pid: int, count: int = 50_000, size: int = 300) -> tuple[float, float, float]:
    """(pipelined, one-at-a-time) JetStream publishes per second on a stream of its own, with the
    daemon's nats-py set-up (its cheaper request tokens: airad/events/request_tokens.py), and the
    pipelined publishes per CPU-second of the publisher and the nats-server together."""
    request_tokens.install()
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_RAW", subjects=["bench.raw.>"], storage=StorageType.FILE))
    payload = b"x" * size
    start, cpu0 = time.perf_counter(), self_cpu_s() + cpu_s(nats_pid)
    futures = [await js.publish_async(f"bench.raw.{i % 1000}", payload, headers={"Nats-Msg-Id": f"p{i}"}) for i in range(count)]
    await asyncio.gather(*futures)
    pipelined = count / (time.perf_counter() - start)
    per_cpu_s = count / (self_cpu_s() + cpu_s(nats_pid) - cpu0)
    serial_count = count // 10
    start = time.perf_counter()
    for i in range(serial_count):
        await js.publish(f"bench.raw.{i % 1000}", payload, headers={"Nats-Msg-Id": f"s{i}"})
    serial = serial_count / (time.perf_counter() - start)
    await js.delete_stream("BENCH_RAW")
    await nc.close()
    return pipelined, serial, per_cpu_s


async def log_capacity(url: str, runs: int, nodes: int, tmp: Path) -> tuple[float, float]:
    """Events per second appended by `runs` runs at once, with nothing between their events:
    (through `JetStreamEventLog.append` alone, through the daemon's `RunWriter`: the fenced append
    plus its lock, cancellation shield and fold)."""
    request_tokens.install()
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    history = History("template")
    for node_id in range(nodes):
        history.node(node_id, "draft" if node_id == 0 else "improve", () if node_id == 0 else (node_id - 1,))
    steps = [(type(event), {k: v for k, v in msgspec.structs.asdict(event).items() if k not in ("run_id", "seq", "at")})
             for event in history.events]
    log = JetStreamEventLog(js)
    services = RunServices(log=log, blobs=None, index=None, llm=None, executors={}, limiters={}, tasks_root=tmp, owner="bench")

    async def through_log(run_id: str) -> None:
        for seq, (event_type, fields) in enumerate(steps, 1):
            await log.append(event_type(run_id=run_id, seq=seq, at=time.time(), **fields))

    async def through_writer(run_id: str) -> None:
        writer = RunWriter(services, RunState(run_id))
        for event_type, fields in steps:
            await writer.append(event_type, **fields)

    rates = []
    for name, one_run in (("log", through_log), ("writer", through_writer)):
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(runs):
                tg.start_soon(one_run, f"capacity-{name}-{i:05d}")
        rates.append(runs * len(steps) / (time.perf_counter() - start))
    await nc.close()
    return rates[0], rates[1]


def request(i: int, max_nodes: int, seeds: int = 0) -> bytes:
    return json.dumps({
        "run_id": f"scale-{i:05d}",
        "task": {"kind": "bundled", "name": "breast-cancer"},
        "policy": {"kind": "greedy", "num_drafts": 2, "debug_prob": 1.0},
        "budget": {"max_nodes": max_nodes, "wall_seconds": 3600},
        "seed": i % seeds if seeds else i,
    }).encode()


async def main(args) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        try:
            pipelined, serial, raw_per_cpu_s = await raw_publish_rates(url, server.process.pid)
            print(f"raw JetStream publishes: pipelined {pipelined:,.0f} msg/s ({raw_per_cpu_s:,.0f} per CPU-second of "
                  f"publisher + nats-server), one at a time {serial:,.0f} msg/s")
            if args.log_nodes:
                log_rate, writer_rate = await log_capacity(url, args.runs, args.log_nodes, Path(tmp))
                print(f"event-log capacity ({args.runs:,} runs appending at once, {args.log_nodes} nodes each): "
                      f"fenced appends {log_rate:,.0f} events/s ({log_rate / pipelined:.0%} of the raw pipelined rate); "
                      f"through the run writer (+ lock, shield, fold) {writer_rate:,.0f} events/s ({writer_rate / pipelined:.0%})")
            await run_daemon(args, url, Path(tmp), server.process.pid, pipelined, raw_per_cpu_s)
        finally:
            server.stop()


async def run_daemon(args, url: str, tmp: Path, nats_pid: int, raw_rate: float, raw_per_cpu_s: float) -> None:
    settings = Settings(state_dir=str(tmp / "state"), local_slots=args.runs, lease_ttl_s=args.lease_ttl,
                        grading_processes=args.grading_processes)
    executor = TimedExecutor(args.job_delay)
    daemon = Daemon(settings, llm=DelayedLLM(args.model_delay), executors={"local": executor}, owner="bench")
    lag = LoopLag()
    rss_before = rss_mib()
    peak_rss = rss_before
    async with anyio.create_task_group() as tg:
        await tg.start(daemon.serve, url)
        log = CountingLog(daemon.services.log, executor)
        log.expected_runs = args.runs
        daemon.services.log = log
        tg.start_soon(lag.run)

        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js)
        cpu0, nats_cpu0, workers_cpu0, wall0 = self_cpu_s(), cpu_s(nats_pid), children_cpu_s(nats_pid), time.perf_counter()
        futures = [await js.publish_async(REQUESTS_SUBJECT, request(i, args.max_nodes, args.seeds)) for i in range(args.runs)]
        await asyncio.gather(*futures)
        published = time.perf_counter() - wall0
        last_report = wall0
        while not log.all_done.is_set():
            with anyio.move_on_after(1.0):
                await log.all_done.wait()
            peak_rss = max(peak_rss, rss_mib())
            now = time.perf_counter()
            if now - last_report >= args.progress:
                last_report = now
                print(f"  {now - wall0:6.1f} s: {log.events:,} events, {log.nodes:,} nodes, {log.finished_runs:,}/{args.runs} runs "
                      f"finished, RSS {rss_mib():.0f} MiB, loop lag p99 so far {pct(lag.samples, 0.99) * 1000:.0f} ms", flush=True)
            if now - wall0 > args.timeout:
                print(f"  gave up after {args.timeout:.0f} s")
                break
        wall = time.perf_counter() - wall0
        cpu1, nats_cpu1, workers_cpu1 = self_cpu_s(), cpu_s(nats_pid), children_cpu_s(nats_pid)
        await nc.close()
        tg.cancel_scope.cancel()

    cpu = (cpu1 - cpu0) / wall * 100
    nats_cpu = (nats_cpu1 - nats_cpu0) / wall * 100
    workers_cpu = (workers_cpu1 - workers_cpu0) / wall * 100
    per_cpu_s = log.events / ((cpu + nats_cpu + workers_cpu) / 100 * wall)
    event_rate = log.events / wall
    print(f"{args.runs:,} runs x {args.max_nodes} nodes, model {args.model_delay:g} s, job {args.job_delay:g} s: "
          f"{log.finished_runs:,} runs finished in {wall:.1f} s (requests published in {published:.2f} s); "
          f"at most {log.peak_in_flight:,} runs in flight at once")
    print(f"events appended: {log.events:,} = {event_rate:,.0f} events/s "
          f"({event_rate / raw_rate:.1%} of the raw pipelined publish rate); nodes: {log.nodes:,} = {log.nodes / wall:,.1f} nodes/s")
    print(f"append latency: p50 {pct(log.append_s, 0.5) * 1000:.1f} ms, p99 {pct(log.append_s, 0.99) * 1000:.1f} ms")
    print(f"job finished -> node.executed appended: p50 {pct(log.executed_s, 0.5) * 1000:.1f} ms, "
          f"p99 {pct(log.executed_s, 0.99) * 1000:.1f} ms ({len(log.executed_s):,} nodes)")
    print(f"event-loop lag (10 ms ticker): p50 {pct(lag.samples, 0.5) * 1000:.1f} ms, p99 {pct(lag.samples, 0.99) * 1000:.1f} ms, "
          f"max {max(lag.samples, default=0) * 1000:.0f} ms")
    print(f"RSS: {rss_before:.0f} MiB before, peak {peak_rss:.0f} MiB, {(peak_rss - rss_before) * 1024 / args.runs:.0f} KiB per run")
    print(f"CPU: this process {cpu:.0f}% of a core, nats-server {nats_cpu:.0f}%, grading workers {workers_cpu:.0f}%")
    print(f"events per CPU-second (this process + nats-server + grading workers): {per_cpu_s:,.0f} "
          f"= {per_cpu_s / raw_per_cpu_s:.1%} of the raw pipelined publishes per CPU-second")
    print(f"events by type: {json.dumps(dict(sorted(log.by_type.items())))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--model-delay", type=float, default=0.5)
    parser.add_argument("--job-delay", type=float, default=1.0)
    parser.add_argument("--max-nodes", type=int, default=3)
    parser.add_argument("--lease-ttl", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=0, help="runs use seeds 0..N-1 in turn (default: a seed per run, so a prepared task split per run)")
    parser.add_argument("--grading-processes", type=int, default=0, help="the daemon's grading_processes setting")
    parser.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--log-nodes", type=int, default=3, help="node lifecycles each run writer appends in the event-log capacity phase (0: skip it)")
    asyncio.run(main(parser.parse_args()))
