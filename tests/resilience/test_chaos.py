"""Chaos: a real daemon process is SIGKILLed at seeded random moments of a few runs, many times over,
and restarted each time. Afterwards every run has finished with one clean history."""

from __future__ import annotations

import random
import time

import anyio
import nats
import pytest

from airad.events.jetstream import EVENTS_STREAM

from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.resilience.helpers import assert_one_clean_history, create_streams, folded_summary, request, settled_summary, tag

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

RUNS = {"chaos-a": "wine", "chaos-b": "breast-cancer", "chaos-c": "wine"}
NODES = 3
KILLS = 6


async def appended(js) -> int:
    """How many events the log holds now."""
    return (await js.stream_info(EVENTS_STREAM)).state.messages


async def test_repeated_sigkills_lose_and_duplicate_nothing(nats_url, tmp_path):
    require("bwrap")
    rng = random.Random(20261122)
    daemons: list[DaemonProcess] = []
    await create_streams(nats_url)
    nc = await nats.connect(nats_url)  # one connection for the polling: one per poll, ten a second, cost CPU
    try:
        for run_id, task in RUNS.items():
            await publish_raw(nats_url, request(run_id, task, max_nodes=NODES))
        for _ in range(KILLS):
            before = await appended(nc.jetstream())
            daemon = DaemonProcess(nats_url, tmp_path / "state").start()
            daemons.append(daemon)
            with anyio.move_on_after(60):  # kill only once this daemon has appended: a loaded host starts slowly
                while await appended(nc.jetstream()) == before:
                    await anyio.sleep(0.1)
            await anyio.sleep(rng.uniform(0.0, 4.0))
            daemon.kill()
        survivor = DaemonProcess(nats_url, tmp_path / "state").start()
        daemons.append(survivor)
        started = time.monotonic()
        for run_id in RUNS:
            await run_events(nats_url, run_id, timeout_s=max(30.0, 240.0 - (time.monotonic() - started)))
        resumes = 0
        for run_id in RUNS:
            events, summary = await settled_summary(nats_url, run_id)
            assert_one_clean_history(events, NODES)
            resumes += sum(1 for e in events if tag(e) == "run.started" and e.resumed)
            assert summary == folded_summary(events, summary), f"{run_id}: the summary is not the fold of its log"
        assert resumes >= len(RUNS), f"the kills should have interrupted the runs ({resumes} resumes)"
        assert survivor.alive()
        log = survivor.log_text()
        assert "run.crashed" not in log, log[-3000:]
    finally:
        await nc.close()
        for daemon in daemons:
            daemon.kill()
