"""How long a SIGKILLed daemon's runs take to append again after a restart:

    python bench/resume.py --runs 1000 [--lease-ttl 6] [--model-delay 0.5] [--job-delay 1.0]

Starts a private nats-server and a daemon subprocess (this script with `--child`: an in-process
`Daemon` with bench/scale.py's delayed model and tests/fakes.SleepingExecutor; a bench-only entry
point, not a daemon setting, so no run request can switch a real daemon to fakes). Submits `--runs`
runs of `--max-nodes` nodes, waits until every run has a node under way, SIGKILLs the daemon's
process group, starts a new one at once, and reports the time from the kill until every run that was
unfinished has appended an event again (first, median, last). The dead daemon's leases must expire
first (`--lease-ttl`); the new daemon adopts orphans at start and every TTL/3.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(args) -> None:
    """The daemon under test, with the fakes; runs until killed."""
    import anyio
    import structlog

    from airad.daemon.daemon import Daemon
    from airad.daemon.settings import Settings
    from bench.scale import DelayedLLM
    from tests.fakes import SleepingExecutor

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = Settings(state_dir=args.state, local_slots=args.runs, lease_ttl_s=args.lease_ttl)
    daemon = Daemon(settings, llm=DelayedLLM(args.model_delay), executors={"local": SleepingExecutor(args.job_delay)})
    anyio.run(daemon.serve, args.child)


def start_child(args, url: str, state: Path) -> subprocess.Popen:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", url, "--state", str(state), "--runs", str(args.runs),
               "--lease-ttl", str(args.lease_ttl), "--model-delay", str(args.model_delay), "--job-delay", str(args.job_delay)]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.Popen(command, env=env, start_new_session=True, stdin=subprocess.DEVNULL)


async def parent(args) -> None:
    import nats

    from airad.daemon.nats_server import EmbeddedNats
    from airad.events.jetstream import REQUESTS_SUBJECT, ensure_streams
    from bench.scale import pct, request

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js)
        last_event: dict[str, float] = {}
        under_way: set[str] = set()
        finished: set[str] = set()

        async def on_event(message) -> None:
            run_id = message.subject.rsplit(".", 1)[1]
            last_event[run_id] = time.perf_counter()
            if message.data.startswith(b'{"type":"node.'):
                under_way.add(run_id)
            elif message.data.startswith(b'{"type":"run.finished"'):
                finished.add(run_id)

        await nc.subscribe("airad.events.>", cb=on_event)
        daemon = start_child(args, url, Path(tmp) / "state")
        try:
            futures = [await js.publish_async(REQUESTS_SUBJECT, request(i, args.max_nodes)) for i in range(args.runs)]
            await asyncio.gather(*futures)
            start = time.perf_counter()
            while len(under_way) < args.runs and time.perf_counter() - start < args.timeout:
                await asyncio.sleep(0.2)
            print(f"{len(under_way):,} of {args.runs:,} runs under way after {time.perf_counter() - start:.1f} s; "
                  f"{len(finished):,} finished")
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
            killed_at = time.perf_counter()
            unfinished = set(under_way) - finished
            daemon = start_child(args, url, Path(tmp) / "state")
            resumed: dict[str, float] = {}
            while len(resumed) < len(unfinished) and time.perf_counter() - killed_at < args.timeout:
                await asyncio.sleep(0.1)
                for run_id in unfinished - resumed.keys():
                    if last_event.get(run_id, 0.0) > killed_at:
                        resumed[run_id] = last_event[run_id] - killed_at
            times = list(resumed.values())
            print(f"SIGKILL with {len(unfinished):,} runs unfinished; lease TTL {args.lease_ttl:g} s; restarted at once")
            print(f"appending again: {len(resumed):,} of {len(unfinished):,} runs; first after {min(times, default=float('nan')):.1f} s, "
                  f"median {pct(times, 0.5):.1f} s, all after {max(times, default=float('nan')):.1f} s")
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            await nc.close()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--max-nodes", type=int, default=20)
    parser.add_argument("--lease-ttl", type=float, default=6.0)
    parser.add_argument("--model-delay", type=float, default=0.5)
    parser.add_argument("--job-delay", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
    else:
        asyncio.run(parent(arguments))
