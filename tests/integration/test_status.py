"""`airad status` as a user runs it (a real process) against a real nats-server and a real 3-server
cluster: heartbeats announced, requests queued and taken, runs that no daemon drives."""

import asyncio
import json
import os
import re
import sys
import time

import nats
import nats.js.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from airad.cli.status import AIRAD_STREAMS
from airad.events.jetstream import (
    INTAKE_CONSUMER,
    REQUESTS_STREAM,
    REQUESTS_SUBJECT,
    JetStreamRunIndex,
    ensure_streams,
)
from airad.events.log import RunSummary
from airad.events.presence import DaemonInfo, DaemonPresence
from tests.infra.nats_cluster import nats_cluster
from tests.resilience.helpers import request

pytestmark = pytest.mark.integration

OWNER = "testhost-4242-abcdef"


async def airad_status(nats_url: str, tmp_path, *args: str) -> tuple[int, str, str]:
    """`airad --nats URL status ARGS` in a process of its own: (exit code, stdout, stderr)."""
    env = {**os.environ, "AIRAD_STATE_DIR": str(tmp_path / "state"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "airad.cli", "--nats", nats_url, "status", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, stdout.decode(), stderr.decode()


async def status_json(nats_url: str, tmp_path) -> tuple[int, dict]:
    """(exit code, the --json object)."""
    code, stdout, stderr = await airad_status(nats_url, tmp_path, "--json")
    assert code in (0, 1), stderr
    return code, json.loads(stdout)


async def announce(js, *runs: str, replicas: int = 1) -> DaemonInfo:
    """A heartbeat like a daemon's, announced by the test itself."""
    info = DaemonInfo(
        owner=OWNER,
        host="testhost",
        pid=4242,
        started_at=time.time() - 120,
        seen_at=time.time(),
        runs=runs,
        experiments=(),
        max_runs=8,
        version="0.1.0",
    )
    await (await DaemonPresence.open(js, ttl_s=300, replicas=replicas)).announce(info)
    return info


async def placed(create, timeout_s: float = 30.0):
    """`create()`, tried again while a cluster just started still sees a peer as offline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await create()
        except nats.js.errors.APIError as exc:
            if "peer offline" not in str(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


def streams_by_name(status: dict) -> dict[str, dict]:
    return {stream["name"]: stream for stream in status["streams"]}


async def test_a_fresh_server_has_no_daemon_and_status_creates_no_bucket(nats_url, tmp_path):
    code, status = await status_json(nats_url, tmp_path)
    assert code == 1
    assert set(status) == {"daemons", "runs", "requests", "experiments", "streams"}
    assert status["daemons"] == []
    assert status["runs"] == {"total": 0, "by_status": {}, "orphans": []}
    assert status["requests"]["consumer_exists"] is False and status["requests"]["pending"] == 0
    assert list(streams_by_name(status)) == list(AIRAD_STREAMS)
    buckets = [stream for stream in status["streams"] if stream["name"].startswith(("KV_", "OBJ_"))]
    assert buckets and not any(bucket["exists"] for bucket in buckets)
    requests = streams_by_name(status)[REQUESTS_STREAM]
    assert requests["exists"] and requests["replicas"] == 1 and requests["leader"], "every connection makes it"

    code, stdout, _ = await airad_status(nats_url, tmp_path)
    assert code == 1
    assert "no daemon has announced itself" in stdout
    assert re.search(r"KV_AIRAD_DAEMONS +not created", stdout)


async def test_an_announced_daemon_and_a_queued_request(js, nats_url, tmp_path):
    await announce(js, "req-1")
    await js.publish(REQUESTS_SUBJECT, request("queued-1"))

    code, status = await status_json(nats_url, tmp_path)
    assert code == 0
    [daemon] = status["daemons"]
    assert (daemon["owner"], daemon["host"], daemon["pid"], daemon["runs"]) == (OWNER, "testhost", 4242, ["req-1"])
    assert daemon["up_s"] >= 100 and daemon["last_seen_s"] < 100
    assert status["requests"]["pending"] == 1 and status["requests"]["consumer_exists"] is False
    assert status["experiments"]["pending"] == 0
    streams = streams_by_name(status)
    assert streams[REQUESTS_STREAM]["exists"] and streams[REQUESTS_STREAM]["messages"] == 1
    assert streams["KV_AIRAD_DAEMONS"]["exists"] and streams["KV_AIRAD_DAEMONS"]["replicas"] == 1
    assert not streams["KV_AIRAD_RUNS"]["exists"]

    code, stdout, _ = await airad_status(nats_url, tmp_path)
    assert code == 0
    for heading in ("DAEMONS", "RUNS", "REQUESTS", "STREAMS"):
        assert heading in stdout
    assert OWNER in stdout and "req-1" in stdout
    for name in AIRAD_STREAMS:
        assert name in stdout


async def test_requests_being_taken_and_runs_no_daemon_drives(js, nats_url, tmp_path):
    await announce(js, "req-1")
    index = await JetStreamRunIndex.open(js)
    await index.put(RunSummary(run_id="req-1", status="running", submitted_at=1.0))
    await index.put(RunSummary(run_id="req-2", status="running", submitted_at=2.0))
    await index.put(RunSummary(run_id="req-3", status="finished", submitted_at=3.0))
    intake = await js.pull_subscribe(  # the daemons' shared consumer, as a daemon makes it
        REQUESTS_SUBJECT,
        durable=INTAKE_CONSUMER,
        stream=REQUESTS_STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60.0),
    )
    for run_id in ("queued-1", "queued-2"):
        await js.publish(REQUESTS_SUBJECT, request(run_id))
    await intake.fetch(1, timeout=10)  # taken, not yet acknowledged

    code, status = await status_json(nats_url, tmp_path)
    assert code == 0
    assert status["runs"] == {"total": 3, "by_status": {"running": 2, "finished": 1}, "orphans": ["req-2"]}
    requests = status["requests"]
    assert requests["consumer_exists"] is True
    assert (requests["pending"], requests["ack_pending"], requests["pulls_waiting"]) == (1, 1, 0)
    assert status["experiments"]["consumer_exists"] is False

    _, stdout, _ = await airad_status(nats_url, tmp_path)
    assert "1 pending, 1 being accepted" in stdout
    assert "driven by no daemon: req-2" in stdout


async def test_on_a_cluster_streams_show_their_leader_and_followers(tmp_path):
    with nats_cluster(tmp_path) as cluster:
        nc = await nats.connect(cluster.url.split(","))
        try:
            js = nc.jetstream()
            await placed(lambda: ensure_streams(js, replicas=3))
            await placed(lambda: announce(js, replicas=3))
        finally:
            await nc.close()

        code, status = await status_json(cluster.url, tmp_path)
        assert code == 0
        assert [daemon["owner"] for daemon in status["daemons"]] == [OWNER]
        servers = {node.name for node in cluster.nodes}
        for name in (REQUESTS_STREAM, "KV_AIRAD_DAEMONS"):
            stream = streams_by_name(status)[name]
            followers = {follower["name"] for follower in stream["followers"]}
            assert stream["replicas"] == 3 and stream["leader"] in servers, stream
            assert followers == servers - {stream["leader"]}, stream

        _, stdout, _ = await airad_status(cluster.url, tmp_path)
        assert OWNER in stdout and "KV_AIRAD_DAEMONS" in stdout


async def test_a_real_daemon_is_listed_while_it_serves_and_gone_once_it_stops(nats_url, tmp_path):
    from tests.integration.daemon_process import DaemonProcess

    daemon = DaemonProcess(nats_url, tmp_path / "daemon").start()
    try:
        await asyncio.to_thread(daemon.wait_ready)
        code, found = await status_json(nats_url, tmp_path)
        assert code == 0, found
        [listed] = found["daemons"]
        assert listed["pid"] == daemon.process.pid and str(daemon.process.pid) in listed["owner"]
        assert found["requests"]["pulls_waiting"] >= 1, found["requests"]
    finally:
        daemon.stop()
    code, found = await status_json(nats_url, tmp_path)
    assert code == 1 and found["daemons"] == [], "a daemon that stopped takes its heartbeat back"
