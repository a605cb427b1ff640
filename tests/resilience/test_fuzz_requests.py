"""Property-based fuzzing of what arrives on `airad.requests`, against one real daemon process: structured
requests (valid, and near-valid with one thing wrong) and raw bytes. The daemon never crashes, every
invalid request gets `run.rejected` naming a field and a reason, every valid one runs."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from airad.daemon.intake import MAX_REQUEST_BYTES
from airad.daemon.nats_server import EmbeddedNats
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.resilience.helpers import create_streams

# One group: xdist hands out tests one by one, so without it each worker that drew one of this
# module's tests started its own nats-server and daemon (`served`).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fuzz-requests")]

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One nats-server and one daemon for every example of this module."""
    require("bwrap")
    root = tmp_path_factory.mktemp("fuzz")
    server = EmbeddedNats(root / "nats")
    url = server.start()
    asyncio.run(create_streams(url))
    daemon = DaemonProcess(url, root / "state").start()
    yield url, daemon
    daemon.stop()
    server.stop()


def _valid() -> st.SearchStrategy[dict]:
    """Requests that must run; a wall-clock budget of a microsecond ends each right after it starts."""
    policy = st.one_of(
        st.fixed_dictionaries({"kind": st.just("greedy")}, optional={"num_drafts": st.integers(1, 5), "debug_prob": st.floats(0, 1)}),
        st.fixed_dictionaries({"kind": st.sampled_from(["mcts", "evolutionary"])}),
    )
    return st.fixed_dictionaries(
        {
            "task": st.fixed_dictionaries({"kind": st.just("bundled"), "name": st.sampled_from(["wine", "breast-cancer"])}),
            "budget": st.fixed_dictionaries({"wall_seconds": st.just(1e-6)}, optional={"max_nodes": st.integers(1, 1000)}),
        },
        optional={
            "policy": policy,
            "seed": st.integers(0, 2**31),
            "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
        },
    )


BREAKAGES = [
    ("drop the task", lambda r: r.pop("task"), "$.task"),
    ("unknown top-level field", lambda r: r.update(bogus=1), "$.bogus"),
    ("seed of the wrong type", lambda r: r.update(seed="seven"), "$.seed"),
    ("negative seed", lambda r: r.update(seed=-1), "$.seed"),
    ("unknown task", lambda r: r["task"].update(name="no-such-task"), "$.task.name"),
    ("unknown task kind", lambda r: r["task"].update(kind="teleport"), "$.task"),
    ("max_nodes zero", lambda r: r["budget"].update(max_nodes=0), "$.budget.max_nodes"),
    ("negative usd", lambda r: r["budget"].update(usd=-1.0), "$.budget.usd"),
    ("unknown policy", lambda r: r.update(policy={"kind": "oracle"}), "$.policy"),
    ("executor the daemon lacks", lambda r: r.update(executor={"kind": "slurm"}), "$.executor.kind"),
    ("memory below the minimum", lambda r: r.update(executor={"kind": "local", "memory_mb": 1}), "$.executor.memory_mb"),
    ("labels not strings", lambda r: r.update(labels={"a": 1}), "$.labels"),
]


async def _outcome(url: str, payload: bytes, run_id: str | None) -> list[dict]:
    seq = await publish_raw(url, payload)
    started = lambda events: bool(events) and events[-1]["type"] in ("run.rejected", "run.finished")
    return await run_events(url, run_id or f"req-{seq}", until=started, timeout_s=60)


@FUZZ
@given(request=_valid())
def test_valid_requests_run(served, request):
    url, daemon = served
    run_id = f"ok-{uuid.uuid4().hex[:12]}"
    events = asyncio.run(_outcome(url, json.dumps({**request, "run_id": run_id}).encode(), run_id))
    assert [e["type"] for e in events][:2] == ["run.submitted", "run.started"], events
    assert events[-1]["type"] == "run.finished"
    assert daemon.alive()


@FUZZ
@given(request=_valid(), breakage=st.sampled_from(BREAKAGES))
def test_near_valid_requests_are_rejected_with_the_field(served, request, breakage):
    url, daemon = served
    _, breaks, field = breakage
    run_id = f"bad-{uuid.uuid4().hex[:12]}"
    request = json.loads(json.dumps({**request, "run_id": run_id}))
    breaks(request)
    events = asyncio.run(_outcome(url, json.dumps(request).encode(), run_id))
    assert len(events) == 1 and events[0]["type"] == "run.rejected", events
    assert events[0]["field"].startswith(field), events[0]
    assert events[0]["reason"]
    assert daemon.alive()


@FUZZ
@given(payload=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode), st.lists(st.integers()).map(lambda v: json.dumps(v).encode())))
def test_raw_bytes_are_rejected_and_the_daemon_survives(served, payload):
    url, daemon = served
    events = asyncio.run(_outcome(url, payload, None))
    assert len(events) == 1 and events[0]["type"] == "run.rejected", events
    assert events[0]["field"].startswith("$") and events[0]["reason"]
    assert daemon.alive()


def test_an_oversized_request_is_rejected_with_its_size(served):
    url, daemon = served
    run_id = f"big-{uuid.uuid4().hex[:12]}"
    body = {"run_id": run_id, "task": {"kind": "bundled", "name": "wine"}, "labels": {"blob": "x" * (1000 * 1024)}}
    events = asyncio.run(_outcome(url, json.dumps(body).encode(), run_id))
    assert len(events) == 1 and events[0]["type"] == "run.rejected", events
    assert events[0]["field"] == "$" and f"limit is {MAX_REQUEST_BYTES}" in events[0]["reason"]
    assert len(events[0]["excerpt"]) <= 500
    assert daemon.alive()


FLOOD = 2000


async def _flood_then_one_valid(url: str, run_id: str) -> tuple[list[int], list[dict], float]:
    """Publish FLOOD undecodable 7-byte requests, then a valid one; wait until every one is answered.
    Returns the flood's request seqs, the valid run's events and how long its answer took."""
    import time

    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        acks = await asyncio.gather(*(js.publish("airad.requests", b"\xff\xfe" + i.to_bytes(5, "big")) for i in range(FLOOD)))
        sent = time.monotonic()
        await js.publish("airad.requests", json.dumps({**json.loads(_small_request()), "run_id": run_id}).encode())
        events = await run_events(url, run_id, until=lambda ev: any(e["type"] == "run.started" for e in ev), timeout_s=120)
        waited = time.monotonic() - sent
        return [ack.seq for ack in acks], events, waited
    finally:
        await nc.close()


def _small_request() -> str:
    return json.dumps({"task": {"kind": "bundled", "name": "wine"}, "budget": {"max_nodes": 1}})


def test_a_flood_of_undecodable_requests_is_answered_and_does_not_hold_up_a_valid_one(served):
    """Every one of 2,000 undecodable requests gets its own rejection, acked (never redelivered), and a
    valid request sent after them is taken (docs/benchmarks.md has how long it waits)."""
    url, daemon = served
    run_id = f"after-flood-{uuid.uuid4().hex[:12]}"
    seqs, events, waited = asyncio.run(_flood_then_one_valid(url, run_id))
    assert [e["type"] for e in events][:2] == ["run.submitted", "run.started"], events
    for seq in (seqs[0], seqs[len(seqs) // 2], seqs[-1]):
        [rejected] = asyncio.run(run_events(url, f"req-{seq}", timeout_s=60))
        assert rejected["type"] == "run.rejected" and rejected["field"] == "$" and rejected["reason"], rejected
    print(f"the valid request was taken {waited:.1f}s after a flood of {FLOOD} undecodable ones")
    assert daemon.alive()
