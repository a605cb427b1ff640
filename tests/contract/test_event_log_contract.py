"""One suite, every EventLog / BlobStore / RunIndex / Leases: in-memory and JetStream."""

import anyio
import msgspec
import pytest

from airad.events.in_memory import (
    InMemoryBlobStore,
    InMemoryCancelMarks,
    InMemoryEventLog,
    InMemoryLeases,
    InMemoryRunIndex,
)
from airad.events.jetstream import (
    JetStreamBlobStore,
    JetStreamEventLog,
    JetStreamRunIndex,
)
from airad.events.jetstream_marks import JetStreamCancelMarks, JetStreamLeases
from airad.events.log import EXPERIMENT_EVENTS, AppendConflict, RunSummary
from tests.factories import History


@pytest.fixture(params=["memory", "jetstream"])
async def backend(request):
    if request.param == "memory":
        table: dict = {}
        yield {
            "log": InMemoryEventLog(),
            "blobs": InMemoryBlobStore(),
            "index": InMemoryRunIndex(),
            "leases": lambda owner: InMemoryLeases(owner, table),
            "experiments": InMemoryEventLog(EXPERIMENT_EVENTS),
            "marks": InMemoryCancelMarks(),
        }
        return
    import nats

    from airad.events.jetstream import ensure_streams

    nc = await nats.connect(request.getfixturevalue("nats_url"))
    js = nc.jetstream()
    await ensure_streams(js)
    yield {
        "log": JetStreamEventLog(js),
        "blobs": await JetStreamBlobStore.open(js),
        "index": await JetStreamRunIndex.open(js),
        "leases": lambda owner: JetStreamLeases.open(js, owner, ttl_s=30),
        "experiments": JetStreamEventLog(js, EXPERIMENT_EVENTS),
        "marks": await JetStreamCancelMarks.open(js),
    }
    await nc.close()


async def _leases(backend, owner):
    made = backend["leases"](owner)
    return await made if hasattr(made, "__await__") else made


async def test_append_then_read_in_order(backend):
    log = backend["log"]
    h = History().node(0, "draft")
    for event in h.events:
        await log.append(event)
    assert await log.read("r1") == h.events
    assert await log.read("nobody") == []


async def test_append_is_fenced_on_the_last_seq(backend):
    log = backend["log"]
    h = History().node(0, "draft")
    await log.append(h.events[0])
    with pytest.raises(AppendConflict):
        await log.append(h.events[2])
    await log.append(h.events[1])
    with pytest.raises(AppendConflict):
        await log.append(h.events[0])
    assert [e.seq for e in await log.read("r1")] == [1, 2]


async def test_second_writer_of_a_run_fails_instead_of_forking(backend):
    log = backend["log"]
    h = History()
    await log.append(h.events[0])
    from airad.schemas.events import RunStarted

    mine = RunStarted(run_id="r1", seq=2, at=1.0, owner="a")
    theirs = RunStarted(run_id="r1", seq=2, at=2.0, owner="b")
    await log.append(mine)
    with pytest.raises(AppendConflict):
        await log.append(theirs)
    assert (await log.read("r1"))[-1].owner == "a"


async def test_watch_sees_later_appends(backend):
    log = backend["log"]
    h = History().node(0, "draft")
    await log.append(h.events[0])
    seen = []

    async def watcher():
        async for event in log.watch("r1", after_seq=0):
            seen.append(event.seq)
            if len(seen) == len(h.events):
                return

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher)
            for event in h.events[1:]:
                await log.append(event)
    assert seen == list(range(1, len(h.events) + 1))


async def test_blobs_are_content_addressed(backend):
    blobs = backend["blobs"]
    ref = await blobs.put(b"x" * 300_000)
    assert ref == await blobs.put(b"x" * 300_000)
    assert await blobs.get(ref) == b"x" * 300_000
    with pytest.raises(KeyError):
        await blobs.get("0" * 64)


async def test_run_index_put_get_list(backend):
    index = backend["index"]
    assert await index.list() == []
    await index.put(RunSummary(run_id="a", status="running", submitted_at=2.0))
    await index.put(RunSummary(run_id="b", status="finished", submitted_at=1.0))
    await index.put(RunSummary(run_id="a", status="finished", submitted_at=2.0))
    assert (await index.get("a")).status == "finished"
    assert await index.get("zzz") is None
    assert sorted(s.run_id for s in await index.list()) == ["a", "b"]


async def test_run_index_announces_each_run_that_ends_to_listeners(backend):
    index = backend["index"]
    first, second = await index.ended(), await index.ended()
    await index.put(RunSummary(run_id="going", status="running"))
    await index.put(RunSummary(run_id="done", status="finished"))
    await index.put(RunSummary(run_id="refused", status="rejected"))
    with anyio.fail_after(10):
        for listener in (first, second):
            assert [await anext(listener), await anext(listener)] == ["done", "refused"]


async def test_run_index_watchers_see_every_summary_written_after_they_started(backend):
    index = backend["index"]
    await index.put(RunSummary(run_id="before", status="running"))
    watcher = await index.watch()
    await index.put(RunSummary(run_id="w", status="running", nodes=1))
    await index.put(RunSummary(run_id="w", status="finished", nodes=2))
    with anyio.fail_after(10):
        seen = [await anext(watcher), await anext(watcher)]
    assert [(s.run_id, s.status, s.nodes) for s in seen] == [("w", "running", 1), ("w", "finished", 2)]


async def test_leases_exclude_other_owners_until_released(backend):
    a = await _leases(backend, "daemon-a")
    b = await _leases(backend, "daemon-b")
    assert await a.acquire("r1")
    assert await a.acquire("r1")
    assert not await b.acquire("r1")
    assert await a.renew("r1")
    await a.release("r1")
    assert await b.acquire("r1")
    assert not await a.renew("r1")


async def test_last_event_and_ids(backend):
    log = backend["log"]
    assert await log.last("r1") is None and await log.ids() == []
    h = History().node(0, "draft")
    for event in h.events:
        await log.append(event)
    await log.append(History("r0").events[0])
    assert await log.last("r1") == h.events[-1]
    assert await log.ids() == ["r0", "r1"]


async def test_experiment_streams_are_fenced_and_apart_from_runs(backend):
    from airad.schemas.experiment import ExperimentRequest, Solver
    from airad.schemas.experiment_events import ExperimentAccepted, ExperimentCancelled
    from airad.schemas.request import BundledTask

    log, experiments = backend["log"], backend["experiments"]
    request = ExperimentRequest(tasks=(BundledTask(name="wine"),), solvers=(Solver(name="a"),))
    accepted = ExperimentAccepted(experiment_id="r1", seq=1, at=1.0, request=request, runs=1)
    await experiments.append(accepted)
    with pytest.raises(AppendConflict):
        await experiments.append(ExperimentCancelled(experiment_id="r1", seq=3, at=2.0))
    await experiments.append(ExperimentCancelled(experiment_id="r1", seq=2, at=2.0))
    assert [e.seq for e in await experiments.read("r1")] == [1, 2]
    assert await experiments.ids() == ["r1"] and await log.ids() == [] and await log.read("r1") == []


async def test_cancel_marks_are_durable_and_watched(backend):
    marks = backend["marks"]
    await marks.mark("before")
    keys = await marks.watch()
    assert await marks.marked("before") and not await marks.marked("after")
    await marks.mark("after", "a reason")
    with anyio.fail_after(10):
        assert await keys.__anext__() == "after"
    assert await marks.marked("after")
    await keys.aclose()


async def test_jetstream_log_keeps_a_bounded_number_of_tails_and_still_fences(nats_url):
    import nats

    from airad.events.jetstream import ensure_streams

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        log = JetStreamEventLog(js, tails_kept=2)
        histories = [History(f"tails-{i}").node(0, "draft") for i in range(5)]
        for history in histories:
            for event in history.events[:3]:
                await log.append(event)
        assert len(log._tail) == 2, "a daemon that lives for millions of runs keeps a tail for the recent ones only"
        first = histories[0]
        await log.append(first.events[3])
        with pytest.raises(AppendConflict):
            await log.append(histories[1].events[2])
        stale = JetStreamEventLog(js)
        await stale.append(histories[2].events[3])
        with pytest.raises(AppendConflict):
            await log.append(msgspec.structs.replace(histories[2].events[3], exit_code=9))
        assert [e.seq for e in await log.read("tails-0")] == [1, 2, 3, 4]
    finally:
        await nc.close()
