"""Sorting NATS faults: which pass by themselves (tried again) and which are real; a long-lived loop
outlives any NATS fault, while a bug still ends it."""

from __future__ import annotations

import anyio
import nats.errors
import nats.js.errors
import pytest

from airad.events.nats_faults import is_transient, keep_going, ride_out

LEADERLESS = nats.js.errors.ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable")


@pytest.mark.parametrize(
    "fault",
    [
        nats.errors.TimeoutError(),
        nats.errors.NoRespondersError(),
        nats.js.errors.NoStreamResponseError(),
        LEADERLESS,
        nats.js.errors.APIError(code=500, err_code=10008, description="JetStream cluster not available"),
        nats.js.errors.APIError(code=500, err_code=10005, description="no suitable peers for placement"),
        ConnectionResetError(),
    ],
)
def test_faults_that_pass_by_themselves_are_transient(fault):
    assert is_transient(fault)


@pytest.mark.parametrize(
    "fault",
    [
        nats.js.errors.NotFoundError(code=404, err_code=10059, description="stream not found"),
        nats.js.errors.BadRequestError(code=400, err_code=10071, description="wrong last sequence"),
        nats.errors.ConnectionClosedError(),
        ValueError("a bug"),
    ],
)
def test_real_faults_are_not(fault):
    assert not is_transient(fault)


async def test_ride_out_tries_a_transient_fault_again_and_lets_a_real_one_through():
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise LEADERLESS
        return "done"

    assert await ride_out(flaky, first_pause_s=0.001) == "done" and len(calls) == 3

    async def missing() -> None:
        raise nats.js.errors.NotFoundError(code=404, err_code=10059, description="stream not found")

    with pytest.raises(nats.js.errors.NotFoundError):
        await ride_out(missing, first_pause_s=0.001)


async def test_keep_going_restarts_a_loop_a_nats_fault_ended_and_lets_a_bug_end_it():
    runs: list[int] = []

    async def loop() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise nats.errors.NoRespondersError()
        if len(runs) == 2:
            raise nats.js.errors.NotFoundError(code=404, err_code=10014, description="consumer not found")
        raise ZeroDivisionError("a bug")

    with anyio.fail_after(10), pytest.raises(ZeroDivisionError):
        await keep_going("test", loop, max_pause_s=0.01)
    assert len(runs) == 3


def test_errors_nats_py_raises_without_a_code_are_sorted_too():
    assert not is_transient(nats.js.errors.KeyNotFoundError())
    assert not is_transient(nats.js.errors.BucketNotFoundError())
