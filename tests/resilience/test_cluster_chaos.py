"""Chaos on a replicated NATS cluster: three nats-servers with every stream at R3, two daemon
processes and a few short runs. In turn, the server leading the intake consumer, the one leading
AIRAD_EVENTS and the JetStream meta leader are SIGKILLed and restarted, while requests keep coming.
Afterwards both daemons are alive, every run has finished with one clean history (gapless seq,
each node once, no job run twice), and every stream is still R3."""

from __future__ import annotations

import anyio
import nats
import pytest

from airad.events.jetstream import EVENTS_STREAM, INTAKE_CONSUMER, REQUESTS_STREAM
from tests.conftest import require
from tests.infra.nats_cluster import NatsCluster, nats_cluster
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events, stop_all
from tests.resilience.helpers import assert_one_clean_history, create_streams, folded_summary, request, settled_summary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

NODES = 2
REPLICATED = (
    REQUESTS_STREAM,
    EVENTS_STREAM,
    "AIRAD_EXPERIMENTS",
    "AIRAD_KNOWLEDGE",
    "AIRAD_BLOB_MSGS",
    "KV_AIRAD_RUNS",
    "KV_AIRAD_LEASES",
    "KV_AIRAD_CANCELS",
    "OBJ_AIRAD_BLOBS",
)


async def events_stored(js) -> int:
    """How many events the log holds now (riding out the moment a leader is being elected)."""
    while True:
        try:
            return (await js.stream_info(EVENTS_STREAM)).state.messages
        except nats.errors.Error:
            await anyio.sleep(0.5)


async def kill_and_restart(cluster: NatsCluster, leader: str | None, js, what: str) -> None:
    """SIGKILL the named server while the log grows, then restart it and wait for the cluster."""
    assert leader is not None, f"no server leads {what}"
    before = await events_stored(js)
    with anyio.fail_after(120):  # kill while the daemons are writing
        while await events_stored(js) == before:
            await anyio.sleep(0.2)
    node = cluster.node(leader)
    node.kill()
    await anyio.sleep(3.0)  # the survivors elect a new leader and carry on without it
    await anyio.to_thread.run_sync(cluster.restart, node)


async def test_daemons_and_runs_outlive_the_loss_of_each_leader(tmp_path):
    require("bwrap")
    with nats_cluster(tmp_path / "nats") as cluster:
        url = cluster.url
        await create_streams(url, replicas=3)
        env = {"AIRAD_NATS_REPLICAS": "3"}
        daemons = [DaemonProcess(url, tmp_path / f"daemon-{i}", lease_ttl_s=10.0, env=env).start() for i in range(2)]
        nc = await nats.connect(servers=url.split(","))
        run_ids: list[str] = []

        async def submit(count: int) -> None:
            for _ in range(count):
                run_id = f"cluster-{len(run_ids)}"
                await publish_raw(url, request(run_id, "wine", max_nodes=NODES))
                run_ids.append(run_id)

        try:
            for daemon in daemons:
                await anyio.to_thread.run_sync(daemon.wait_ready)
            js = nc.jetstream()
            await submit(3)
            await kill_and_restart(cluster, cluster.consumer_leader(REQUESTS_STREAM, INTAKE_CONSUMER), js, "intake")
            await submit(1)
            await kill_and_restart(cluster, cluster.stream_leader(EVENTS_STREAM), js, EVENTS_STREAM)
            await submit(1)
            await kill_and_restart(cluster, cluster.meta_leader(), js, "the meta group")
            await submit(1)
            for run_id in run_ids:
                await run_events(url, run_id, timeout_s=300)
            for daemon in daemons:
                assert daemon.alive(), f"a daemon died of a NATS fault:\n{daemon.log_text()[-3000:]}"
            for run_id in run_ids:
                events, summary = await settled_summary(url, run_id)
                assert_one_clean_history(events, NODES)
                assert summary == folded_summary(events, summary), f"{run_id}: the summary is not the fold of its log"
            for stream in REPLICATED:
                assert (await js.stream_info(stream)).config.num_replicas == 3, f"{stream} was weakened"
        finally:
            await nc.close()
            stop_all(daemons)
