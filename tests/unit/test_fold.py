import pytest

from airad.events.fold import fold
from airad.schemas.events import NodeFailed, NodeSelected, RunFinished
from tests.factories import History


def test_fold_tracks_nodes_scores_costs_and_best():
    h = History().node(0, "draft", score=0.7, test=0.6).node(1, "draft", score=0.9, test=0.5)
    h.node(2, "improve", (1,), score=None, exit_code=1)
    state = fold(h.events)
    assert [n.id for n in state.nodes] == [0, 1, 2]
    assert state.nodes[2].buggy and not state.nodes[1].buggy
    assert state.best_node().id == 1
    assert state.best_node().test_score == 0.5
    assert state.cost_usd == pytest.approx(0.03)
    assert state.tokens == 36
    assert state.metric == "roc_auc"
    assert state.pending_node is None


def test_lower_is_better_flips_best():
    h = History().node(0, "draft", score=0.7).node(1, "draft", score=0.9)
    state = fold(h.events)
    assert state.best_node().id == 1
    flipped = [e if type(e).__name__ != "NodeScored" else e.__class__(**{**_fields(e), "lower_is_better": True}) for e in h.events]
    assert fold(flipped).best_node().id == 0


def _fields(event):
    import msgspec

    return msgspec.structs.asdict(event)


def test_pending_node_and_failure():
    h = History()
    h.add(NodeSelected, node_id=0, operator="draft")
    assert fold(h.events).pending_node.id == 0
    h.add(NodeFailed, node_id=0, stage="generate", reason="no code")
    state = fold(h.events)
    assert state.pending_node is None
    assert state.nodes[0].buggy and "no code" in state.nodes[0].failure


def test_fold_rejects_gaps_duplicates_and_foreign_runs():
    h = History().node(0, "draft")
    with pytest.raises(ValueError, match="expected seq"):
        fold(h.events[:2] + h.events[3:])
    with pytest.raises(ValueError, match="expected seq"):
        fold(h.events + h.events[-1:])
    other = History(run_id="r2").events
    with pytest.raises(ValueError, match="folded into run"):
        fold(h.events + other)


def test_node_ids_must_be_dense():
    h = History()
    h.add(NodeSelected, node_id=3, operator="draft")
    with pytest.raises(ValueError, match="not the next id"):
        fold(h.events)


def test_finished_is_terminal():
    h = History().node(0, "draft")
    h.add(RunFinished, reason="max_nodes", best_node_id=0)
    state = fold(h.events)
    assert state.terminal and state.finish_reason == "max_nodes"
