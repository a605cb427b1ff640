"""Streams and buckets as airad needs them, against a real nats-server and a real 3-server cluster:
created with the replicas asked for, never weakened, and a clear error where they cannot be used."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from airad.events.jetstream import EVENTS_STREAM, REQUESTS_STREAM, JetStreamRunIndex, ensure_streams
from airad.events.jetstream_blobs import BLOBS_BUCKET, JetStreamBlobStore
from airad.events.jetstream_marks import JetStreamLeases
from airad.events.stream_setup import StreamSetupError
from tests.infra.nats_cluster import nats_cluster

pytestmark = pytest.mark.integration

AIRAD_STREAMS = (REQUESTS_STREAM, EVENTS_STREAM, "AIRAD_EXPERIMENTS", "AIRAD_KNOWLEDGE", "AIRAD_BLOB_MSGS")


async def replicas(js, stream: str) -> int:
    return (await js.stream_info(stream)).config.num_replicas


async def test_an_operators_stream_keeps_its_settings_and_gains_what_airad_needs(nats_url):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name=EVENTS_STREAM, subjects=["airad.events.>", "audit.>"], max_age=86400.0 * 365)
        )
        await js.add_stream(StreamConfig(name="AIRAD_BLOB_MSGS", subjects=["airad.blobs.*"], max_msgs_per_subject=1))
        await ensure_streams(js)
        events = (await js.stream_info(EVENTS_STREAM)).config
        assert events.subjects == ["airad.events.>", "audit.>"] and events.max_age == 86400.0 * 365
        assert (await js.stream_info("AIRAD_BLOB_MSGS")).config.allow_direct, "blobs are read by direct get"
        assert {info.config.name for info in await js.streams_info()} >= set(AIRAD_STREAMS)
    finally:
        await nc.close()


async def test_a_stream_airad_cannot_use_is_an_error_naming_it(nats_url):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=REQUESTS_STREAM, subjects=["airad.requests"]))  # limits, not work queue
        with pytest.raises(StreamSetupError, match=f"{REQUESTS_STREAM} exists with retention limits.*workqueue"):
            await ensure_streams(js)
        await js.delete_stream(REQUESTS_STREAM)
        await js.add_stream(StreamConfig(name=EVENTS_STREAM, subjects=["airad.events.>"], storage=StorageType.MEMORY))
        with pytest.raises(StreamSetupError, match=f"{EVENTS_STREAM} exists with memory storage"):
            await ensure_streams(js)
    finally:
        await nc.close()


async def test_more_replicas_than_servers_is_an_error_naming_the_setting(nats_url):
    nc = await nats.connect(nats_url)
    try:
        with pytest.raises(StreamSetupError, match="nats_replicas"):
            await ensure_streams(nc.jetstream(), replicas=3)
    finally:
        await nc.close()


async def test_on_a_cluster_streams_are_made_r3_and_never_weakened(tmp_path):
    with nats_cluster(tmp_path) as cluster:
        nc = await nats.connect(cluster.url.split(","))
        try:
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(
                    name=EVENTS_STREAM, subjects=["airad.events.>"], retention=RetentionPolicy.LIMITS, num_replicas=3
                )
            )
            await ensure_streams(js)  # a client with the default of 1, as every CLI command is
            assert await replicas(js, EVENTS_STREAM) == 3, "an operator's R3 stream was weakened"
            assert await replicas(js, REQUESTS_STREAM) == 1
            await JetStreamRunIndex.open(js)
            await JetStreamBlobStore.open(js)
            await ensure_streams(js, replicas=3)  # the daemon, set to 3
            await JetStreamRunIndex.open(js, 3)
            await JetStreamLeases.open(js, "owner", 30.0, 3)
            await JetStreamBlobStore.open(js, 3)
            for stream in (*AIRAD_STREAMS, "KV_AIRAD_RUNS", "KV_AIRAD_LEASES", f"OBJ_{BLOBS_BUCKET}"):
                assert await replicas(js, stream) == 3, stream
            await ensure_streams(js, replicas=1)
            assert await replicas(js, REQUESTS_STREAM) == 3
        finally:
            await nc.close()


def test_the_daemon_refuses_to_start_with_more_replicas_than_servers_in_one_line(nats_url, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "AIRAD_NATS_REPLICAS": "3", "AIRAD_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "airad.cli", "--nats", nats_url, "daemon"],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("airad: the NATS stream ") and "nats_replicas (AIRAD_NATS_REPLICAS)" in done.stderr
    assert "Traceback" not in done.stderr
