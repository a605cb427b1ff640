"""Intake: every request ends as exactly one outcome event, and redelivery maps to the same run."""

import json

from airad.daemon.intake import accept
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.schemas.events import RunRejected, RunSubmitted

GOOD = json.dumps({"task": {"kind": "bundled", "name": "wine"}}).encode()


async def test_a_redelivered_request_maps_to_the_same_run():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    assert await accept(log, index, GOOD, 7) == ("req-7", True)
    assert await accept(log, index, GOOD, 7) == ("req-7", True)
    events = await log.read("req-7")
    assert len(events) == 1 and isinstance(events[0], RunSubmitted) and events[0].request_seq == 7
    assert (await index.get("req-7")).status == "running"


async def test_client_run_id_is_used_and_a_taken_one_is_rejected_under_the_derived_id():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    named = json.dumps({"task": {"kind": "bundled", "name": "wine"}, "run_id": "mine"}).encode()
    other = json.dumps({"task": {"kind": "bundled", "name": "iris"}, "run_id": "mine"}).encode()
    assert await accept(log, index, named, 1) == ("mine", True)
    assert await accept(log, index, other, 2) == ("req-2", False)
    [rejection] = await log.read("req-2")
    assert isinstance(rejection, RunRejected) and rejection.field == "$.run_id" and "already taken" in rejection.reason
    assert len(await log.read("mine")) == 1


async def test_the_same_request_published_again_under_its_run_id_is_the_same_run():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    named = json.dumps({"task": {"kind": "bundled", "name": "wine"}, "run_id": "again"}).encode()
    assert await accept(log, index, named, 1) == ("again", True)
    assert await accept(log, index, named, 5) == ("again", True)
    assert len(await log.read("again")) == 1
    assert await log.read("req-5") == []


async def test_a_rejection_is_recorded_once_even_if_redelivered():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    bad = b'{"run_id": "oops", "task": {"kind": "bundled", "name": "wine"}, "seed": -1}'
    assert await accept(log, index, bad, 3) == ("oops", False)
    assert await accept(log, index, bad, 3) == ("oops", False), "a redelivery names the rejected run"
    [rejection] = await log.read("oops")
    assert rejection.field == "$.seed" and rejection.excerpt.startswith('{"run_id": "oops"')
    assert await log.read("req-3") == []
    assert (await index.get("oops")).status == "rejected"


async def test_a_request_may_not_choose_an_id_of_the_form_intake_gives():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    raw = json.dumps({"run_id": "req-5", "task": {"kind": "bundled", "name": "iris"}}).encode()
    run_id, drive = await accept(log, index, raw, 3)
    [rejection] = await log.read(run_id)
    assert run_id == "req-3" and not drive
    assert isinstance(rejection, RunRejected) and rejection.field == "$.run_id" and "req-N" in rejection.reason
