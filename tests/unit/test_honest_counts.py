"""Issue 19: a node stopped because its run was cancelled is counted as cancelled, never as buggy."""

import anyio

from airad.cli.output import final_report, node_detail, nodes_table, runs_table, show_header
from airad.daemon.runner import drive_run
from airad.events.fold import fold
from airad.reports.experiment_report import run_result
from airad.reports.html_tree import node_status
from airad.reports.summary import summarize
from airad.schemas.events import NodeDispatched, NodeFailed, NodeGenerated, NodeSelected, RunFinished
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget
from tests.factories import History
from tests.fakes import ScriptedLLM, SleepingExecutor
from tests.unit.test_runner import GOOD, _services, _submit


def _cancelled_history() -> History:
    """Node 0 valid, node 1 buggy (no submission), node 2 failed at generate, node 3 in flight at the cancel."""
    h = History("c").node(0, "draft").node(1, "draft", score=None)
    h.add(NodeSelected, node_id=2, operator="draft")
    h.add(NodeFailed, node_id=2, stage="generate", reason="no code block in the answer")
    h.add(NodeSelected, node_id=3, operator="improve", parent_ids=(0,))
    h.add(NodeGenerated, node_id=3, plan="p", code="c", model="m", prompt_ref="p", completion_ref="c")
    h.add(NodeDispatched, node_id=3, executor="local", handle="c/3")
    h.add(NodeFailed, node_id=3, stage="execute", reason="the run was cancelled")
    h.add(RunFinished, reason="cancelled", detail="cancelled on request", best_node_id=0)
    return h


def test_the_fold_tells_a_cancelled_node_from_a_buggy_one():
    state = fold(_cancelled_history().events)
    valid, buggy, no_code, stopped = state.nodes
    assert stopped.cancelled and not stopped.buggy and stopped.done
    assert buggy.buggy and not buggy.cancelled
    assert no_code.buggy and not no_code.cancelled, "a failed generation stays buggy"
    assert not valid.buggy and not valid.cancelled
    summary = summarize(state, now=2000.0)
    assert (summary.nodes, summary.buggy, summary.cancelled, summary.in_flight) == (4, 2, 1, 0)
    assert "2 (+1 cancelled)" in runs_table([summary], now=2000.0)
    assert run_result(state, finished_at=None).buggy == 2


def test_run_and_show_print_cancelled_apart_from_buggy():
    state = fold(_cancelled_history().events)
    assert "4 nodes, 2 buggy, 1 cancelled, cost" in final_report(state)
    assert "4 nodes, 2 buggy, 1 cancelled" in show_header(state).splitlines()
    statuses = [line.split()[3] for line in nodes_table(state).splitlines()[1:]]
    assert statuses == ["scored", "buggy", "failed", "cancelled"]
    assert node_detail(state, 3).splitlines()[0].endswith("improve (parents 0), cancelled")
    assert [node_status(n) for n in state.nodes] == ["valid", "buggy", "failed", "cancelled"]


def test_a_run_without_cancelled_nodes_prints_no_cancelled_count():
    h = History("ok").node(0, "draft")
    h.add(RunFinished, reason="max_nodes", best_node_id=0)
    assert "1 nodes, 0 buggy, cost" in final_report(fold(h.events))


async def test_a_run_cancelled_with_one_node_in_flight_has_no_buggy_node(tmp_path):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD), SleepingExecutor(seconds=3600))
    await _submit(services, policy=GreedyPolicy(num_drafts=4, parallel=1), budget=Budget(max_nodes=50))
    cancel = anyio.Event()
    ended = {}

    async def drive():
        ended["state"] = await drive_run(services, "r", cancel)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            while not any(isinstance(e, NodeDispatched) for e in await services.log.read("r")):
                await anyio.sleep(0.01)
            cancel.set()
    state = ended["state"]
    assert state.finish_reason == "cancelled" and len(state.nodes) == 1
    summary = summarize(state, now=0.0)
    assert (summary.nodes, summary.buggy, summary.cancelled) == (1, 0, 1)
    assert state.nodes[0].cancelled
    assert "1 nodes, 0 buggy, 1 cancelled" in final_report(state)
