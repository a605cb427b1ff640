"""Cancelling a run: the cancel mark becomes an event for the daemon's run task, which stops the
decisions and the nodes in flight and ends the run with reason "cancelled"."""

import anyio

from airad.daemon.cancels import CancelWatch
from airad.daemon.runner import drive_run
from airad.events.in_memory import InMemoryCancelMarks
from airad.schemas.events import NodeDispatched, NodeFailed, RunFinished
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget
from tests.fakes import ScriptedLLM, SleepingExecutor
from tests.unit.test_runner import GOOD, _services, _submit


class _Hangs(SleepingExecutor):
    """Jobs that run until cancelled; remembers which handles were cancelled."""

    def __init__(self):
        super().__init__(seconds=3600)
        self.cancelled: list[str] = []

    async def cancel(self, handle: str) -> None:
        self.cancelled.append(handle)


async def test_a_cancel_stops_the_jobs_in_flight_and_ends_the_run_as_cancelled(tmp_path):
    executor = _Hangs()
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor, slots=2)
    await _submit(services, policy=GreedyPolicy(num_drafts=4, parallel=2), budget=Budget(max_nodes=50))
    cancel = anyio.Event()
    ended = {}

    async def drive():
        ended["state"] = await drive_run(services, "r", cancel)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            while sum(isinstance(e, NodeDispatched) for e in await services.log.read("r")) < 2:
                await anyio.sleep(0.01)
            cancel.set()
    state = ended["state"]
    events = await services.log.read("r")
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "cancelled"
    assert state.finish_reason == "cancelled" and state.terminal and len(state.nodes) == 2
    assert all(n.status == "failed" and "cancelled" in n.failure for n in state.nodes)
    assert sorted(executor.cancelled) == ["r/0", "r/1"], "both jobs in flight were stopped"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sum(isinstance(e, NodeFailed) for e in events) == 2


async def test_a_run_marked_before_it_is_driven_ends_at_once(tmp_path):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD))
    await _submit(services, budget=Budget(max_nodes=5))
    cancel = anyio.Event()
    cancel.set()
    state = await drive_run(services, "r", cancel)
    assert state.finish_reason == "cancelled" and state.nodes == ()


async def test_the_watch_sets_the_event_of_a_key_marked_before_or_after_it_registered():
    marks = InMemoryCancelMarks()
    watch = CancelWatch(marks)
    await marks.mark("early")
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(watch.run)
            early = await watch.register("early")
            late = await watch.register("late")
            other = await watch.register("other")
            assert early.is_set() and not late.is_set()
            await marks.mark("late")
            await late.wait()
            tg.cancel_scope.cancel()
    assert not other.is_set()
    watch.unregister("late")
    assert "late" not in watch._events
