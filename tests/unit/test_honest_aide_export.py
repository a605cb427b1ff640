"""Issue 19: the AIDE journal keeps why the harness found a node buggy, beside the model's review."""

import json

from airad.events.fold import fold
from airad.reports.aide_export import aide_journal, buggy_reason, export_aide
from airad.schemas.events import NodeDispatched, NodeFailed, NodeGenerated, NodeSelected, RunFinished
from tests.export_fixtures import stored_run
from tests.factories import History


async def test_a_buggy_node_keeps_the_graders_reason_and_the_models_review():
    log, blobs, _ = await stored_run()
    journal = json.loads((await export_aide(log, blobs, "r1"))["journal.json"])
    draft, debug, _improve, crossover = journal["nodes"]
    assert debug["is_buggy"] is True and debug["analysis"] == "review of node 1", "the model's review stays"
    assert debug["exc_info"] == {"args": ["no predictions written"]}, "the grader's reason is where AIDE keeps why"
    assert debug["airad"]["buggy_reason"] == "no predictions written"
    assert crossover["exc_info"] == {"args": ["generate: no code block in the answer"]}
    assert draft["exc_info"] is None and draft["airad"]["buggy_reason"] is None


def test_the_reason_of_a_scored_invalid_node_with_a_clean_exit_and_of_a_cancelled_node():
    h = History("r").node(0, "draft", score=None)
    h.add(NodeSelected, node_id=1, operator="draft")
    h.add(NodeGenerated, node_id=1, plan="p", code="c", model="m", prompt_ref="p", completion_ref="c")
    h.add(NodeDispatched, node_id=1, executor="local", handle="r/1")
    h.add(NodeFailed, node_id=1, stage="execute", reason="the run was cancelled")
    h.add(RunFinished, reason="cancelled")
    state = fold(h.events)
    invalid, cancelled = aide_journal(state)["nodes"]
    assert invalid["exc_type"] is None and invalid["exc_info"] == {"args": ["no submission"]}
    assert invalid["analysis"] == "no submission", "without a review, the reason is the analysis as before"
    assert cancelled["airad"]["status"] == "cancelled" and cancelled["is_buggy"] is True
    assert cancelled["exc_info"] == {"args": ["execute: the run was cancelled"]}
    assert buggy_reason(state.nodes[0]) == "no submission"
