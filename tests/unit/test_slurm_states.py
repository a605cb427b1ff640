"""One squeue a round answers every waiter: a handler-function fake stands in for the Slurm command."""

from __future__ import annotations

import asyncio

import pytest

from airad.executors.slurm_commands import Completed
from airad.executors.slurm_states import BATCH, SqueueStates


def squeue(states: dict[str, str], calls: list[list[str]], gate: asyncio.Event | None = None):
    """A fake `ask`: answers `squeue -j ids` from `states`, like Slurm (a lone unknown id is an error)."""

    async def ask(*argv: str) -> Completed:
        assert argv[:5] == ("squeue", "-h", "-t", "all", "-j") and argv[6:] == ("-o", "%i %T")
        ids = argv[5].split(",")
        calls.append(ids)
        if gate is not None:
            await gate.wait()
        known = [i for i in ids if i in states]
        if not known and len(ids) == 1:
            return Completed(1, b"", b"slurm_load_jobs error: Invalid job id specified\n")
        return Completed(0, "".join(f"{i} {states[i]}\n" for i in known).encode(), b"")

    return ask


async def test_waiters_asking_together_share_one_query():
    calls: list[list[str]] = []
    states = SqueueStates(squeue({str(i): "RUNNING" if i % 2 else "COMPLETED" for i in range(40)}, calls))
    answers = await asyncio.gather(*(states.state(str(i)) for i in range(40)), states.state("999"))
    assert answers == ["RUNNING" if i % 2 else "COMPLETED" for i in range(40)] + [None]
    assert len(calls) == 1 and sorted(calls[0], key=int) == [str(i) for i in range(40)] + ["999"]
    assert (states.asks, states.queries) == (41, 1)


async def test_a_round_asks_at_most_batch_ids_a_query():
    calls: list[list[str]] = []
    states = SqueueStates(squeue({str(i): "PENDING" for i in range(BATCH + 7)}, calls))
    answers = await asyncio.gather(*(states.state(str(i)) for i in range(BATCH + 7)))
    assert set(answers) == {"PENDING"}
    assert [len(ids) for ids in calls] == [BATCH, 7]


async def test_asks_made_while_a_query_runs_wait_for_the_next_round_together():
    calls: list[list[str]] = []
    gate = asyncio.Event()
    states = SqueueStates(squeue({str(i): "RUNNING" for i in range(11)}, calls, gate), min_gap_s=0.0)
    first = asyncio.create_task(states.state("0"))
    while not calls:
        await asyncio.sleep(0)
    later = [asyncio.create_task(states.state(str(i))) for i in range(1, 11)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == "RUNNING"
    assert await asyncio.gather(*later) == ["RUNNING"] * 10
    assert [sorted(ids, key=int) for ids in calls] == [["0"], [str(i) for i in range(1, 11)]]


async def test_a_lone_unknown_job_is_gone_not_an_error():
    states = SqueueStates(squeue({}, []))
    assert await states.state("12345") is None


async def test_a_failing_squeue_raises_in_every_waiter_and_the_next_round_recovers():
    calls: list[list[str]] = []
    broken = True

    async def ask(*argv: str) -> Completed:
        calls.append(argv[5].split(","))
        if broken:
            return Completed(1, b"", b"squeue: error: Permission denied\n")
        return Completed(0, b"7 COMPLETED\n", b"")

    states = SqueueStates(ask, min_gap_s=0.0)
    results = await asyncio.gather(states.state("7"), states.state("8"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "Permission denied" in str(r) for r in results)
    assert "7" in str(results[0]) and "8" in str(results[0])
    broken = False
    assert await states.state("7") == "COMPLETED"


async def test_a_cancelled_waiter_leaves_the_others_their_answer():
    gate = asyncio.Event()
    calls: list[list[str]] = []
    states = SqueueStates(squeue({"1": "RUNNING", "2": "RUNNING"}, calls, gate))
    leaving = asyncio.create_task(states.state("1"))
    staying = asyncio.create_task(states.state("2"))
    while not calls:
        await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == "RUNNING"
    with pytest.raises(asyncio.CancelledError):
        await leaving
