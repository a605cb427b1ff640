"""Shared checks of the resilience tests: read a run's log and KV summary back and hold them to the
invariants every history must keep (gapless seq, every selected node ends exactly once, the summary is
the fold of the log)."""

from __future__ import annotations

import json
import time

import anyio
import msgspec
import nats

from airad.events.fold import fold
from airad.events.jetstream import RUNS_BUCKET, JetStreamEventLog, ensure_streams
from airad.events.log import RunSummary
from airad.reports.summary import summarize
from airad.schemas.events import Event

ENDINGS = ("node.tested", "node.failed")


def tag(event: Event) -> str:
    return type(event).__struct_config__.tag


def request(run_id: str, task: str = "wine", max_nodes: int = 3, **policy) -> bytes:
    """A small run request as plain JSON: the offline coder, the local executor."""
    body = {
        "run_id": run_id,
        "task": {"kind": "bundled", "name": task},
        "policy": {"kind": "greedy", "num_drafts": 2, "debug_prob": 1.0, **policy},
        "budget": {"max_nodes": max_nodes},
        "executor": {"kind": "local", "node_timeout_s": 120, "memory_mb": 4096},
        "seed": 1,
    }
    return json.dumps(body).encode()


def assert_one_clean_history(events: list[Event], nodes: int) -> None:
    """Gapless seq from 1, nodes selected 0..n-1 once each, each ends exactly once, one finish, last."""
    kinds = [tag(e) for e in events]
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), kinds
    assert kinds[0] == "run.submitted" and kinds.count("run.submitted") == 1
    selected = [e.node_id for e in events if tag(e) == "node.selected"]
    assert selected == list(range(nodes)), selected
    ended = sorted(e.node_id for e in events if tag(e) in ENDINGS)
    assert ended == list(range(nodes)), f"every selected node ends exactly once: {ended}"
    for kind in ("node.generated", "node.dispatched", "node.executed", "node.scored"):
        ids = [e.node_id for e in events if tag(e) == kind]
        assert len(ids) == len(set(ids)), f"{kind} recorded twice for a node: {ids}"
    assert kinds.count("run.finished") == 1 and kinds[-1] == "run.finished", kinds


async def create_streams(nats_url: str, replicas: int = 1) -> None:
    """Create airad's streams, so requests can be queued before any daemon has started."""
    nc = await nats.connect(servers=nats_url.split(","))
    try:
        await ensure_streams(nc.jetstream(), replicas=replicas)
    finally:
        await nc.close()


async def read_history(nats_url: str, run_id: str) -> tuple[list[Event], RunSummary | None]:
    """The run's events (typed) and its KV summary."""
    nc = await nats.connect(servers=nats_url.split(","))
    try:
        js = nc.jetstream()
        events = await JetStreamEventLog(js).read(run_id)
        kv = await js.key_value(RUNS_BUCKET)
        try:
            entry = await kv.get(run_id)
            summary = msgspec.json.decode(entry.value, type=RunSummary) if entry.value else None
        except nats.js.errors.KeyNotFoundError:
            summary = None
        return events, summary
    finally:
        await nc.close()


def folded_summary(events: list[Event], like: RunSummary | None) -> RunSummary:
    """The summary of the fold of `events`, stamped with `like`'s update time so the two compare."""
    return summarize(fold(events), like.updated_at if like else 0.0)


async def settled_summary(nats_url: str, run_id: str, timeout_s: float = 60.0) -> tuple[list[Event], RunSummary | None]:
    """Wait until the KV summary equals the fold of the log (a kill between the last event and its
    summary leaves a stale one until a daemon adopts the run again); returns the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        events, summary = await read_history(nats_url, run_id)
        if summary == folded_summary(events, summary) or time.monotonic() > deadline:
            return events, summary
        await anyio.sleep(0.5)
