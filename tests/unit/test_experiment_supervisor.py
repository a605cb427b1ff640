"""The experiment supervisor against in-memory fakes: runs start within the limit, each is recorded once,
a second drive after a crash carries on without duplicates, a cancel winds the experiment down."""

import json

import anyio
import msgspec
import pytest

from airad.daemon.experiments import ExperimentServices, accept_experiment, drive_experiment
from airad.daemon.intake import accept
from airad.events.experiment import fold_experiment
from airad.events.fold import fold
from airad.events.log import EXPERIMENT_EVENTS
from airad.events.in_memory import InMemoryCancelMarks, InMemoryEventLog, InMemoryRunIndex
from airad.reports.summary import summarize
from airad.schemas.events import NodeExecuted, NodeGenerated, NodeScored, NodeSelected, NodeTested, RunFinished, RunSubmitted
from airad.schemas.experiment_events import ExperimentAccepted, ExperimentRejected

REQUEST = {
    "experiment_id": "e",
    "tasks": [{"kind": "bundled", "name": "wine"}, {"kind": "bundled", "name": "iris"}],
    "solvers": [{"name": "good"}, {"name": "bad"}],
    "seeds": [0, 1],
}


class Cluster:
    """The fakes a supervisor talks to, plus a pretend daemon that accepts and finishes runs."""

    def __init__(self, fail_after_publishes: int | None = None):
        self.experiments = InMemoryEventLog(EXPERIMENT_EVENTS)
        self.runs = InMemoryEventLog()
        self.index = InMemoryRunIndex()
        self.marks = InMemoryCancelMarks()
        self.published: list[str] = []
        self.fail_after = fail_after_publishes
        self.max_in_flight = 0
        self.services = ExperimentServices(
            log=self.experiments, runs=self.runs, index=self.index, marks=self.marks, publish=self.publish, poll_s=0.01,
        )

    async def publish(self, request) -> None:
        if self.fail_after is not None and len(self.published) >= self.fail_after:
            raise RuntimeError("the daemon died here")
        self.published.append(request.run_id)
        await accept(self.runs, self.index, msgspec.json.encode(request), len(self.published))
        in_flight = sum(1 for s in self.index.summaries.values() if s.status == "running")
        self.max_in_flight = max(self.max_in_flight, in_flight)

    async def finish(self, run_id: str, reason: str = "max_nodes") -> None:
        """End a submitted run: one scored node for a run that is not cancelled."""
        events = await self.runs.read(run_id)
        state = fold(events)
        good = state.request.labels["solver"] == "good"
        more = []
        if reason != "cancelled":
            more = [
                (NodeSelected, dict(node_id=0, operator="draft")),
                (NodeGenerated, dict(node_id=0, plan="p", code="c", model="m", prompt_ref="x", completion_ref="y")),
                (NodeExecuted, dict(node_id=0, exit_code=0, duration_s=1.0)),
                (NodeScored, dict(node_id=0, metric="accuracy", lower_is_better=False, valid=True, score=0.9)),
                (NodeTested, dict(node_id=0, score=0.9 if good else 0.5)),
            ]
        more.append((RunFinished, dict(reason=reason, best_node_id=0 if reason != "cancelled" else None)))
        for kind, fields in more:
            event = kind(run_id=run_id, seq=len(events) + 1, at=2000.0 + len(events), **fields)
            await self.runs.append(event)
            events.append(event)
        await self.index.put(summarize(fold(events), 0.0))

    async def serve(self) -> None:
        """Finish every submitted run (cancelled when marked), as daemons would."""
        while True:
            for summary in list(self.index.summaries.values()):
                if summary.status == "running":
                    await self.finish(summary.run_id, "cancelled" if await self.marks.marked(summary.run_id) else "max_nodes")
            await anyio.sleep(0.01)


async def _accepted(cluster: Cluster, **changes) -> str:
    experiment_id, drive = await accept_experiment(cluster.experiments, json.dumps({**REQUEST, **changes}).encode(), 1)
    assert drive
    return experiment_id


def _assert_each_run_once(cluster: Cluster, events) -> None:
    started = [e.run_id for e in events if e.__struct_config__.tag == "experiment.run_started"]
    finished = [e.run_id for e in events if e.__struct_config__.tag == "experiment.run_finished"]
    assert len(started) == len(set(started)) and len(finished) == len(set(finished))
    for run_id in set(cluster.published):
        submitted = [e for e in cluster.runs.streams[run_id] if isinstance(e, RunSubmitted)]
        assert len(submitted) == 1, f"{run_id} was submitted {len(submitted)} times"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_an_experiment_runs_every_run_within_its_limit_and_ends_done():
    cluster = Cluster()
    await _accepted(cluster, max_parallel_runs=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(cluster.serve)
        with anyio.fail_after(30):
            state = await drive_experiment(cluster.services, "e")
        tg.cancel_scope.cancel()
    assert state.status == "done" and state.count("finished") == 8
    assert cluster.max_in_flight <= 2
    events = await cluster.experiments.read("e")
    _assert_each_run_once(cluster, events)
    assert events[-1].__struct_config__.tag == "experiment.done" and events[-1].complete == 8
    results = {run.run_id: run.result for run in state.runs}
    assert results["e-t0-good-s0"].test == 0.9 and results["e-t0-bad-s0"].test == 0.5
    assert all(r.status == "finished" and r.nodes == 1 for r in results.values())
    for run_id in cluster.published:
        assert fold(await cluster.runs.read(run_id)).request.labels == {"experiment": "e", "solver": run_id.split("-")[2]}


async def test_a_drive_after_a_crash_publishes_what_is_missing_and_duplicates_nothing():
    cluster = Cluster(fail_after_publishes=3)
    await _accepted(cluster)
    async with anyio.create_task_group() as tg:
        tg.start_soon(cluster.serve)
        with pytest.raises(RuntimeError, match="died here"):
            with anyio.fail_after(30):
                await drive_experiment(cluster.services, "e")
        crashed = fold_experiment(await cluster.experiments.read("e"))
        assert crashed.count("planned") == 4, "the fourth run was recorded as started, then its publish failed"
        cluster.fail_after = None
        with anyio.fail_after(30):
            state = await drive_experiment(cluster.services, "e")
        tg.cancel_scope.cancel()
    assert state.status == "done" and state.count("finished") == 8
    assert sorted(cluster.published) == sorted(run.run_id for run in state.runs)
    _assert_each_run_once(cluster, await cluster.experiments.read("e"))
    again = await drive_experiment(cluster.services, "e")
    assert again.last_seq == state.last_seq, "a finished experiment is left alone"


async def test_a_cancel_stops_new_runs_marks_the_running_ones_and_ends_cancelled():
    cluster = Cluster()
    await _accepted(cluster, max_parallel_runs=2)
    cancel = anyio.Event()
    cancel.set()
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cluster.serve)
            state = await drive_experiment(cluster.services, "e", cancel)
            tg.cancel_scope.cancel()
    assert state.status == "cancelled" and state.terminal
    events = await cluster.experiments.read("e")
    tags = [e.__struct_config__.tag for e in events]
    assert tags[:2] == ["experiment.accepted", "experiment.cancelled"] and tags[-1] == "experiment.done"
    assert events[-1].cancelled and cluster.published == []


async def test_a_cancel_while_runs_are_in_flight_cancels_exactly_those():
    cluster = Cluster()
    await _accepted(cluster, max_parallel_runs=3)
    cancel = anyio.Event()
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive_experiment, cluster.services, "e", cancel)
            while len(cluster.published) < 3:
                await anyio.sleep(0.01)
            cancel.set()
            while len(cluster.marks.marks) < 3:
                await anyio.sleep(0.01)
            tg.start_soon(cluster.serve)
            while not fold_experiment(await cluster.experiments.read("e")).terminal:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    state = fold_experiment(await cluster.experiments.read("e"))
    assert state.status == "cancelled" and len(cluster.published) == 3
    assert sorted(cluster.marks.marks) == sorted(cluster.published)
    assert all(run.result.reason == "cancelled" for run in state.runs if run.result)
    assert state.count("planned") == 5


async def test_intake_of_experiment_requests():
    log = InMemoryEventLog(EXPERIMENT_EVENTS)
    good = json.dumps(REQUEST).encode()
    assert await accept_experiment(log, good, 1) == ("e", True)
    assert await accept_experiment(log, good, 1) == ("e", True), "a redelivery is the same experiment"
    assert await accept_experiment(log, good, 2) == ("e", True), "so is the same request published again"
    other = json.dumps({**REQUEST, "seeds": [5]}).encode()
    assert await accept_experiment(log, other, 3) == ("exp-3", False)
    [taken] = await log.read("exp-3")
    assert isinstance(taken, ExperimentRejected) and taken.field == "$.experiment_id"
    bad = json.dumps({**REQUEST, "experiment_id": "bad", "solvers": [{"name": "x"}, {"name": "x"}]}).encode()
    assert await accept_experiment(log, bad, 4) == ("bad", False)
    assert await accept_experiment(log, bad, 4) == ("bad", False)
    [rejected] = await log.read("bad")
    assert rejected.field == "$.solvers[1].name" and "used twice" in rejected.reason
    unnamed = json.dumps({k: v for k, v in REQUEST.items() if k != "experiment_id"}).encode()
    assert await accept_experiment(log, unnamed, 9) == ("exp-9", True)
    [accepted] = await log.read("exp-9")
    assert isinstance(accepted, ExperimentAccepted) and accepted.runs == 8 and accepted.request_seq == 9


async def test_a_run_announced_as_ended_wakes_its_experiment_without_waiting_for_the_poll():
    cluster = Cluster()
    cluster.services.poll_s = 3600.0
    await _accepted(cluster, max_parallel_runs=2)

    async def listen():
        async for run_id in await cluster.index.ended():
            cluster.services.wake(run_id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        await anyio.sleep(0)
        tg.start_soon(cluster.serve)
        with anyio.fail_after(60):
            state = await drive_experiment(cluster.services, "e")
        tg.cancel_scope.cancel()
    assert state.status == "done" and state.count("finished") == 8, "each end woke the supervisor: an hour's poll never ran"
    assert cluster.services.waiting == {}, "an experiment that is done waits on nothing"


async def test_the_run_index_announces_ended_runs_only_to_listeners_that_started_before():
    index = InMemoryRunIndex()
    early = await index.ended()
    await index.put(summarize_status("r1", "running"))
    await index.put(summarize_status("r2", "finished"))
    late = await index.ended()
    await index.put(summarize_status("r3", "rejected"))
    with anyio.fail_after(5):
        assert [await anext(early), await anext(early)] == ["r2", "r3"]
        assert await anext(late) == "r3"


def summarize_status(run_id: str, status: str):
    from airad.events.log import RunSummary

    return RunSummary(run_id=run_id, status=status)
