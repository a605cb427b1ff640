"""Settling a request message: a request that keeps failing unexpectedly is redelivered a bounded
number of times, then rejected with the reason (`run.rejected`, field `$`) and acknowledged, never
redelivered for ever; the request log keeps its answer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import nats.errors
import nats.js.errors
import pytest

from airad.daemon.intake import accept
from airad.daemon.settle import MAX_DELIVERIES, settle
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.schemas.events import RunRejected


class Message:
    """A JetStream message as `settle` sees it: data, its stream sequence and delivery count, and
    what it was answered with."""

    def __init__(self, data: bytes, deliveries: int, seq: int = 7):
        self.data = data
        self.metadata = SimpleNamespace(sequence=SimpleNamespace(stream=seq), num_delivered=deliveries)
        self.answers: list[str] = []

    async def ack(self):
        self.answers.append("ack")

    async def nak(self, delay: float | None = None):
        self.answers.append("nak")


REQUEST = json.dumps({"run_id": "flaky-1", "task": {"kind": "bundled", "name": "iris"}}).encode()


def _flaky_accept(log, index):
    async def accepting(data: bytes, request_seq: int, failure: str | None = None):
        if failure is None:
            raise RuntimeError("the index is wedged")
        return await accept(log, index, data, request_seq, failure=failure)

    return accepting


async def _started(ident: str) -> bool:
    raise AssertionError("a request that failed is never started")


@pytest.mark.parametrize("deliveries", [1, MAX_DELIVERIES - 1])
async def test_a_failing_request_is_handed_back_before_its_last_delivery(deliveries):
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    message = Message(REQUEST, deliveries)
    await settle(message, _flaky_accept(log, index), _started, "run")
    assert message.answers == ["nak"] and await log.read("flaky-1") == []


async def test_at_its_last_delivery_it_is_rejected_with_the_reason_and_acknowledged():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    message = Message(REQUEST, MAX_DELIVERIES)
    await settle(message, _flaky_accept(log, index), _started, "run")
    assert message.answers == ["ack"]
    [rejected] = await log.read("flaky-1")
    assert isinstance(rejected, RunRejected) and rejected.field == "$" and rejected.request_seq == 7
    assert f"failed {MAX_DELIVERIES} times" in rejected.reason and "RuntimeError: the index is wedged" in rejected.reason
    again = Message(REQUEST, MAX_DELIVERIES + 1)
    await settle(again, _flaky_accept(log, index), _started, "run")
    assert again.answers == ["ack"] and len(await log.read("flaky-1")) == 1, "answered once"


async def test_a_passing_nats_fault_hands_the_request_back_and_never_counts_as_its_failure():
    log, index = InMemoryEventLog(), InMemoryRunIndex()

    async def leaderless(data: bytes, request_seq: int, failure: str | None = None):
        raise nats.js.errors.ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable")

    message = Message(REQUEST, MAX_DELIVERIES)  # at its last delivery: a real failure would reject it now
    await settle(message, leaderless, _started, "run")
    assert message.answers == ["nak"] and await log.read("flaky-1") == []


async def test_no_nats_fault_escapes_not_even_from_starting_the_run_or_answering():
    log, index = InMemoryEventLog(), InMemoryRunIndex()

    async def accepting(data: bytes, request_seq: int, failure: str | None = None):
        return await accept(log, index, data, request_seq, failure=failure)

    async def lease_unreachable(ident: str) -> bool:
        raise nats.errors.NoRespondersError()

    class Unanswerable(Message):
        async def nak(self, delay: float | None = None):
            raise nats.errors.ConnectionClosedError()

    message = Unanswerable(REQUEST, 1)
    await settle(message, accepting, lease_unreachable, "run")  # returns: the request comes back after ack_wait
    assert message.answers == [] and len(await log.read("flaky-1")) == 1, "accepted once, started later"
