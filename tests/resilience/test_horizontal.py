"""Horizontal scale: three daemon processes on one request stream share the runs; when one is
SIGKILLed, the others take its runs over once its leases expire, and every run ends with one
clean history."""

from __future__ import annotations

import time

import anyio
import nats
import pytest

from airad.events.jetstream import JetStreamEventLog
from airad.schemas.events import Event, NodeSelected, RunStarted
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events, stop_all
from tests.resilience.helpers import assert_one_clean_history, create_streams, read_history, request, settled_summary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

DAEMONS = 3
RUNS_EACH = 2
# Two nodes a run: the victim is killed once each of its runs has selected its first node, so a
# survivor resumes every one of them mid-way; a third node only made each run (and the test) longer.
NODES = 2
LEASE_TTL_S = 4.0


def owner_pid(owner: str) -> int:
    """The process id inside an owner id (`host-pid-hex`)."""
    return int(owner.rsplit("-", 2)[1])


async def events_of(log: JetStreamEventLog, run_id: str) -> list[Event]:
    """The run's events so far."""
    return await log.read(run_id)


async def owners_now(log: JetStreamEventLog, run_ids: list[str]) -> dict[str, list[RunStarted]]:
    """Each run's run.started events so far."""
    return {run_id: [e for e in await events_of(log, run_id) if isinstance(e, RunStarted)] for run_id in run_ids}


async def test_three_daemons_share_runs_and_take_over_a_dead_ones(nats_url, tmp_path):
    require("bwrap")
    await create_streams(nats_url)
    run_ids = [f"horizontal-{i}" for i in range(DAEMONS * RUNS_EACH)]
    # One connection for the polling below: a connection per poll, five a second, cost seconds of CPU.
    nc = await nats.connect(nats_url)
    log = JetStreamEventLog(nc.jetstream())
    # Each daemon drives at most RUNS_EACH runs, so the six runs must spread over all three.
    daemons = [
        DaemonProcess(nats_url, tmp_path / f"daemon-{i}", lease_ttl_s=LEASE_TTL_S, env={"AIRAD_MAX_RUNS": str(RUNS_EACH)}).start()
        for i in range(DAEMONS)
    ]
    try:
        for run_id in run_ids:
            await publish_raw(nats_url, request(run_id, "wine", max_nodes=NODES))
        with anyio.fail_after(180):
            while True:
                started = await owners_now(log, run_ids)
                if all(started.values()):
                    break
                await anyio.sleep(0.2)
        first_owner = {run_id: owner_pid(events[0].owner) for run_id, events in started.items()}
        pids = [d.process.pid for d in daemons]
        per_daemon = {pid: sorted(r for r, p in first_owner.items() if p == pid) for pid in pids}
        assert all(len(runs) == RUNS_EACH for runs in per_daemon.values()), per_daemon

        victim = daemons[0]
        victim_runs = per_daemon[victim.process.pid]
        with anyio.fail_after(180):  # kill it in the middle of its runs: once both have a node under way
            while not all([any(isinstance(e, NodeSelected) for e in await events_of(log, r)) for r in victim_runs]):
                await anyio.sleep(0.2)
        victim.kill()
        killed_at = time.time()

        for run_id in run_ids:
            await run_events(nats_url, run_id, timeout_s=300)
        survivors = {d.process.pid for d in daemons[1:]}
        for run_id in run_ids:
            events, summary = await settled_summary(nats_url, run_id)  # the summary is put after the last event
            assert_one_clean_history(events, NODES)
            assert summary is not None and summary.status == "finished"
        for run_id in victim_runs:
            events, _ = await read_history(nats_url, run_id)
            takeovers = [e for e in events if isinstance(e, RunStarted) and e.at > killed_at]
            assert takeovers, f"{run_id} was never taken over"
            assert owner_pid(takeovers[0].owner) in survivors and takeovers[0].resumed
            assert all(owner_pid(e.owner) in survivors for e in takeovers)
    finally:
        await nc.close()
        stop_all(daemons)
