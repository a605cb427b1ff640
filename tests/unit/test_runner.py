"""The run supervisor against in-memory fakes: budgets, nonsense answers, failures, resume."""

import re
import time

import anyio
import pytest

from airad.daemon.run_services import RunServices
from airad.daemon.runner import budget_exhausted, drive_run
from airad.events.fold import fold
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.executors.base import JobResult
from airad.schemas.events import NodeDispatched, NodeGenerated, NodeSelected, RunStarted, RunSubmitted
from airad.schemas.request import Budget, BundledTask, GreedyPolicy, LocalExecutor, RunRequest
from airad.tasks.registry import open_task
from tests.fakes import InlineExecutor, ScriptedLLM

GOOD = """Plan: a shallow decision tree on all features.

```python
import os
import pandas as pd
from sklearn.tree import DecisionTreeClassifier
train = pd.read_csv("input/train.csv")
test = pd.read_csv("input/test.csv")
model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(train.drop(columns=["id", "target"]), train["target"])
os.makedirs("submission", exist_ok=True)
pd.DataFrame({"id": test["id"], "target": model.predict_proba(test.drop(columns=["id"]))[:, 1]}).to_csv(
    "submission/submission.csv", index=False)
```
"""
CRASH = "Plan: oops.\n```python\nraise RuntimeError('boom')\n```\n"
NONSENSE = "I'm sorry, as a language model I prefer poetry."


def _services(tmp_path, llm, executor=None, slots=1):
    return RunServices(
        log=InMemoryEventLog(), blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=llm,
        executors={"local": executor or InlineExecutor()}, limiters={"local": anyio.CapacityLimiter(slots)},
        tasks_root=tmp_path / "tasks", owner="test-daemon",
    )


async def _submit(services, **request):
    fields = {"task": BundledTask(name="breast-cancer"), "policy": GreedyPolicy(num_drafts=2, debug_prob=1.0), **request}
    await services.log.append(RunSubmitted(run_id="r", seq=1, at=time.time(), request=RunRequest(**fields)))


async def test_nonsense_is_retried_then_recorded_and_the_search_goes_on(tmp_path):
    llm = ScriptedLLM([NONSENSE, NONSENSE, NONSENSE, GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, budget=Budget(max_nodes=2))
    state = await drive_run(services, "r")
    assert state.nodes[0].status == "failed"
    assert "no usable answer in 2 attempts" in state.nodes[0].failure
    assert "no Python code block" in state.nodes[0].failure
    assert state.nodes[1].status == "scored" and state.nodes[1].valid
    generated = [e for e in await services.log.read("r") if isinstance(e, NodeGenerated)]
    assert generated[0].attempts == 2
    assert state.nodes[0].tokens == 300, "the two rejected answers of node 0 are paid for"
    assert generated[0].prompt_tokens == 200, "node 1 paid for one rejected answer and its own"
    assert state.finish_reason == "max_nodes" and state.best_node_id == 1


async def test_crashing_script_is_buggy_and_gets_debugged_with_its_error(tmp_path):
    llm = ScriptedLLM([CRASH, GOOD, GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, budget=Budget(max_nodes=3))
    state = await drive_run(services, "r")
    assert state.nodes[0].buggy and state.nodes[0].exit_code == 1
    assert "RuntimeError: boom" in state.nodes[0].stderr_tail
    assert state.nodes[2].operator == "debug" and state.nodes[2].parent_ids == (0,)
    assert "RuntimeError: boom" in llm.prompts[2] and "# Your job: debug" in llm.prompts[2]


async def test_model_errors_fail_the_node_not_the_run(tmp_path):
    services = _services(tmp_path, ScriptedLLM([RuntimeError("429 rate limited forever"), GOOD]))
    await _submit(services, budget=Budget(max_nodes=2))
    state = await drive_run(services, "r")
    assert "model call failed" in state.nodes[0].failure and state.nodes[1].valid


async def test_usd_budget_stops_the_run(tmp_path):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD, cost_usd=0.4))
    await _submit(services, budget=Budget(max_nodes=50, usd=1.0))
    state = await drive_run(services, "r")
    assert state.finish_reason == "budget" and len(state.nodes) == 3
    assert state.cost_usd == pytest.approx(1.2)


def test_wall_clock_budget():
    state = fold([RunSubmitted(run_id="r", seq=1, at=100.0, request=RunRequest(
        task=BundledTask(name="wine"), budget=Budget(wall_seconds=60)))])
    assert budget_exhausted(state, 159.0) is None
    assert budget_exhausted(state, 160.0)[0] == "wall_seconds"


async def _interrupted_after_dispatch(services, handle: str) -> None:
    """The log of a daemon that died after dispatching node 0 with `handle`."""
    log = services.log
    await log.append(RunStarted(run_id="r", seq=2, at=1.0, owner="dead-daemon"))
    await log.append(NodeSelected(run_id="r", seq=3, at=1.0, node_id=0, operator="draft"))
    await log.append(NodeGenerated(run_id="r", seq=4, at=1.0, node_id=0, plan="p", code=GOOD.split("```python\n")[1].split("```")[0],
                                   model="m", prompt_ref="x", completion_ref="y"))
    await log.append(NodeDispatched(run_id="r", seq=5, at=1.0, node_id=0, executor="local", handle=handle))


async def test_resume_reattaches_to_a_dispatched_job_instead_of_running_it_again(tmp_path):
    executor = InlineExecutor()
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor)
    # Without the execution cache: node 1's script is node 0's, and must run here for the count below.
    await _submit(services, budget=Budget(max_nodes=2), executor=LocalExecutor(cache=False))
    handle = '{"job_id": "r/0", "from": "dead-daemon"}'
    sample = (open_task(BundledTask(name="breast-cancer"), 0, tmp_path / "tasks").public_dir / "sample_submission.csv").read_bytes()
    executor.results[handle] = JobResult(0, 2.5, stdout=b"collected after restart\n", outputs={"submission/submission.csv": sample})
    await _interrupted_after_dispatch(services, handle)
    state = await drive_run(services, "r")
    assert [n.status for n in state.nodes] == ["scored", "scored"]
    assert state.nodes[0].stdout_tail == "collected after restart\n" and state.nodes[0].duration_s == 2.5
    assert handle not in executor.started and len(executor.started) == 1, "node 0 was run again"
    events = await services.log.read("r")
    assert sum(isinstance(e, NodeDispatched) for e in events) == 2
    started = [e for e in events if isinstance(e, RunStarted)]
    assert started[-1].resumed and started[-1].owner == "test-daemon"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_an_identical_script_reuses_the_earlier_result_and_is_not_run(tmp_path):
    """The execution cache: node 1's script is node 0's but for comments and layout; it is recorded as
    cached from node 0 with node 0's outputs, costs no execution, and is scored like node 0."""
    variants = iter([GOOD, GOOD.replace("import os\n", "import os  # the same script, laid out anew\n\n\n", 1)])
    executor = InlineExecutor()
    services = _services(tmp_path, ScriptedLLM(lambda prompt: next(variants)), executor)
    await _submit(services, policy=GreedyPolicy(num_drafts=2), budget=Budget(max_nodes=2))
    state = await drive_run(services, "r")
    first, second = state.nodes
    assert len(executor.started) == 1, "the identical script ran again"
    assert (first.cached_from, second.cached_from) == (None, 0)
    assert second.outputs == first.outputs and second.duration_s == 0.0 and second.code != first.code
    assert (second.valid, second.score) == (first.valid, first.score)
    events = await services.log.read("r")
    assert sum(isinstance(e, NodeDispatched) for e in events) == 1
    from airad.cli.output import node_detail

    assert "not run: cached from node 0" in node_detail(state, 1)


async def test_with_the_cache_off_an_identical_script_runs_again(tmp_path):
    executor = InlineExecutor()
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor)
    await _submit(
        services, policy=GreedyPolicy(num_drafts=2), budget=Budget(max_nodes=2), executor=LocalExecutor(cache=False)
    )
    state = await drive_run(services, "r")
    assert len(executor.started) == 2 and [n.cached_from for n in state.nodes] == [None, None]


async def test_a_job_lost_while_the_daemon_was_down_fails_its_node_and_the_search_goes_on(tmp_path):
    executor = InlineExecutor()
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor)
    await _submit(services, budget=Budget(max_nodes=2))
    await _interrupted_after_dispatch(services, '{"job_id": "r/0", "host": "gone"}')
    state = await drive_run(services, "r")
    assert state.nodes[0].status == "failed" and "job lost" in state.nodes[0].failure
    assert state.nodes[1].status == "scored"


async def test_finished_run_is_left_alone(tmp_path):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD))
    await _submit(services, budget=Budget(max_nodes=1))
    first = await drive_run(services, "r")
    again = await drive_run(services, "r")
    assert again.last_seq == first.last_seq and again.terminal


async def test_parallel_runs_keep_k_nodes_in_flight_and_replay_the_same_decisions(tmp_path):
    from airad.agents.policy import decide
    from airad.agents.policy_view import policy_view
    from airad.events.fold import RunState, evolve
    from airad.schemas.policies import MctsPolicy
    from tests.fakes import SleepingExecutor

    executor = SleepingExecutor(0.05, gather=3)
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor, slots=4)
    await _submit(services, policy=MctsPolicy(num_children=2, parallel=3), budget=Budget(max_nodes=9))
    state = await drive_run(services, "r")
    assert len(state.nodes) == 9 and all(n.done for n in state.nodes)
    assert executor.max_in_flight == 3
    events = await services.log.read("r")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    replay = RunState("r")
    for event in events:
        if isinstance(event, NodeSelected):
            action = decide(replay.request.policy, policy_view(replay), replay.request.seed)
            assert (action.operator, action.parent_ids) == (event.operator, event.parent_ids)
        replay = evolve(replay, event)


async def test_a_node_waiting_for_an_executor_slot_is_visible_as_queued(tmp_path):
    from airad.schemas.events import NodeDispatched, NodeQueued
    from airad.schemas.policies import GreedyPolicy as Greedy
    from tests.fakes import SleepingExecutor

    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), SleepingExecutor(0.05), slots=1)
    await _submit(services, policy=Greedy(num_drafts=3, parallel=3), budget=Budget(max_nodes=3))
    state = await drive_run(services, "r")
    events = await services.log.read("r")
    queued = [e for e in events if isinstance(e, NodeQueued)]
    assert queued and all(e.executor == "local" for e in queued)
    for event in queued:
        dispatched = next(e for e in events if isinstance(e, NodeDispatched) and e.node_id == event.node_id)
        assert dispatched.seq > event.seq
    assert all(state.nodes[e.node_id].queued_at is not None for e in queued)


class _EndsBadly(InlineExecutor):
    """Every job ends the way `outcome` says, after a real run of the script."""

    def __init__(self, **outcome):
        super().__init__()
        self.outcome = outcome

    async def wait(self, handle):
        from msgspec import structs

        return structs.replace(await super().wait(handle), exit_code=137, **self.outcome)


@pytest.mark.parametrize("outcome, message", [
    ({"oom": True}, "ran out of memory (limit 8192 MiB)"),
    ({"killed": "cancelled by Slurm"}, "the job was stopped (cancelled by Slurm)"),
])
async def test_an_oom_or_a_killed_job_is_recorded_on_its_node(tmp_path, outcome, message):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), _EndsBadly(**outcome))
    await _submit(services, budget=Budget(max_nodes=1))
    state = await drive_run(services, "r")
    node = state.nodes[0]
    assert node.status == "scored" and not node.valid
    assert message in node.score_error
    assert node.oom == outcome.get("oom", False) and node.killed == outcome.get("killed")


async def test_a_task_that_cannot_be_prepared_ends_the_run_with_the_reason(tmp_path, monkeypatch):
    from airad.daemon import opened_tasks
    from airad.schemas.errors import FieldError

    def broken(spec, seed, root):
        raise FieldError("$.task.train", "cannot read /data/gone.csv")

    monkeypatch.setattr(opened_tasks, "open_task", broken)
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD))
    await _submit(services)
    state = await drive_run(services, "r")
    assert state.terminal and state.finish_reason == "error"
    assert state.finish_detail == "the task could not be prepared: $.task.train: cannot read /data/gone.csv"
    assert state.nodes == ()


async def test_a_submission_over_the_output_limit_is_scored_invalid_with_the_reason(tmp_path):
    from airad.executors.local import LocalExecutor

    executor = LocalExecutor(tmp_path / "jobs", sandbox=False, output_limit_bytes=1000)
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), executor=executor)
    await _submit(services, budget=Budget(max_nodes=1))
    state = await drive_run(services, "r")
    [node] = state.nodes
    assert node.exit_code == 0 and not node.valid and node.outputs == {}
    assert re.fullmatch(
        r"submission/submission\.csv was not collected: \d+ bytes, over the 1000 byte limit on an output file", node.score_error
    ), node.score_error
