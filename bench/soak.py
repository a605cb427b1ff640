"""Does the daemon leak over a long life? Waves of runs through one daemon on a real nats-server:

    python bench/soak.py --waves 6 --runs 500 --max-nodes 2 --model-delay 0.2 --job-delay 0.5 --seeds 20 [--grading-processes 1]

The set-up of bench/scale.py (an in-process `Daemon`, a model that answers after `--model-delay`
seconds, tests/fakes.SleepingExecutor finishing each job after `--job-delay` seconds, a private
nats-server), but the runs come in `--waves` waves of `--runs` each (run ids never repeat): a wave is
published, every run of it is driven to its end (and its task and lease are gone), then the bench
runs `gc.collect()` and notes, for this process (daemon + bench client; the nats-server apart):

- RSS now (VmRSS, not the peak), in MiB;
- live objects the garbage collector tracks (`len(gc.get_objects())`: containers, not strs or ints);
- memory blocks allocated by Python's allocator (`sys.getallocatedblocks()`: every object, tracked or not);
- the object count of each type (the 15 most common are printed with `--top`).

Prints a line per wave (wave, runs so far, RSS, objects, blocks, seconds), then the growth per
finished run from the end of wave 2 to the end of the last wave (wave 1 fills the caches and pools
that are meant to stay: tasks kept, lru caches, worker processes), and the types whose counts grew
most over the same span. A daemon that keeps no per-run state after a run ends grows by ~0 objects
and ~0 blocks a run there; RSS is noisier (the allocator keeps freed arenas).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio
import nats
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airad.daemon.daemon import Daemon  # noqa: E402
from airad.daemon.nats_server import EmbeddedNats  # noqa: E402
from airad.daemon.settings import Settings  # noqa: E402
from airad.events.jetstream import REQUESTS_SUBJECT, ensure_streams  # noqa: E402
from airad.schemas.events import RunFinished  # noqa: E402
from bench.scale import DelayedLLM, request, rss_mib  # noqa: E402
from tests.fakes import SleepingExecutor  # noqa: E402


class FinishedRuns:
    """Wraps the daemon's EventLog and counts `run.finished` events; keeps nothing per run."""

    def __init__(self, inner):
        self.inner = inner
        self.finished = 0
        self.target = 0
        self.reached = asyncio.Event()

    async def append(self, event) -> None:
        await self.inner.append(event)
        if isinstance(event, RunFinished):
            self.finished += 1
            if self.finished >= self.target:
                self.reached.set()

    def __getattr__(self, name):
        return getattr(self.inner, name)


@functools.cache  # one string per type, not one per census
def type_name(t: type) -> str:
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def census() -> tuple[int, Counter]:
    """(live gc-tracked objects, their count by type), after a full collection."""
    gc.collect()
    objects = gc.get_objects()
    counts = Counter(type_name(type(o)) for o in objects)
    del objects
    return sum(counts.values()), counts


async def soak(args, after_wave=None) -> list[dict]:
    """Drive the waves; returns one record a wave. `after_wave(record, daemon)`, when given, is
    called after each wave's census (a hook for looking at what a grown daemon holds)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        try:
            settings = Settings(state_dir=str(Path(tmp) / "state"), local_slots=args.runs, lease_ttl_s=args.lease_ttl,
                                grading_processes=args.grading_processes)
            daemon = Daemon(settings, llm=DelayedLLM(args.model_delay), executors={"local": SleepingExecutor(args.job_delay)},
                            owner="soak")
            async with anyio.create_task_group() as tg:
                await tg.start(daemon.serve, url)
                log = FinishedRuns(daemon.services.log)
                daemon.services.log = log
                nc = await nats.connect(url)
                js = nc.jetstream()
                await ensure_streams(js)
                objects, counts = census()
                records.append({"wave": 0, "runs": 0, "rss": rss_mib(), "objects": objects, "blocks": sys.getallocatedblocks(),
                                "seconds": 0.0, "counts": counts})
                for wave in range(1, args.waves + 1):
                    start = time.perf_counter()
                    log.target, log.reached = wave * args.runs, asyncio.Event()
                    futures = [await js.publish_async(REQUESTS_SUBJECT, request(i, args.max_nodes, args.seeds))
                               for i in range((wave - 1) * args.runs, wave * args.runs)]
                    await asyncio.gather(*futures)
                    del futures
                    with anyio.fail_after(args.timeout):
                        await log.reached.wait()
                        while daemon._runs or daemon._owned:  # the run tasks end (and release their leases) just after
                            await anyio.sleep(0.1)
                    seconds = time.perf_counter() - start
                    objects, counts = census()
                    record = {"wave": wave, "runs": log.finished, "rss": rss_mib(), "objects": objects,
                              "blocks": sys.getallocatedblocks(), "seconds": seconds, "counts": counts}
                    records.append(record)
                    print(f"wave {wave}: {record['runs']:6,} runs, RSS {record['rss']:7.1f} MiB, {objects:9,} objects, "
                          f"{record['blocks']:10,} blocks, {seconds:5.1f} s", flush=True)
                    if args.top:
                        print("  " + ", ".join(f"{name} {n:,}" for name, n in counts.most_common(15)), flush=True)
                    if after_wave is not None:
                        after_wave(record, daemon)
                await nc.close()
                tg.cancel_scope.cancel()
        finally:
            server.stop()
    return records


def report(records: list[dict], base_wave: int = 2) -> None:
    if len(records) <= base_wave + 1:
        print(f"(growth needs more than {base_wave} waves)")
        return
    base, last = records[base_wave], records[-1]
    runs = last["runs"] - base["runs"]
    print(f"growth from wave {base_wave} to wave {last['wave']} ({runs:,} runs): "
          f"RSS {(last['rss'] - base['rss']) * 1024 / runs:.2f} KiB/run, "
          f"objects {(last['objects'] - base['objects']) / runs:.2f}/run, "
          f"blocks {(last['blocks'] - base['blocks']) / runs:.2f}/run")
    grown = Counter(last["counts"])
    grown.subtract(base["counts"])
    print("types grown most (count, per run):")
    for name, n in grown.most_common(15):
        if n <= 0:
            break
        print(f"  {name}: +{n:,} ({n / runs:.2f}/run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument("--runs", type=int, default=500, help="runs a wave")
    parser.add_argument("--model-delay", type=float, default=0.2)
    parser.add_argument("--job-delay", type=float, default=0.5)
    parser.add_argument("--max-nodes", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20, help="runs use seeds 0..N-1 in turn")
    parser.add_argument("--grading-processes", type=int, default=1, help="the daemon's grading_processes setting")
    parser.add_argument("--lease-ttl", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a wave may take")
    parser.add_argument("--top", action="store_true", help="print the 15 most common types after each wave")
    report(asyncio.run(soak(parser.parse_args())))
