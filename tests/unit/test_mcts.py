from airad.agents.mcts import decide_mcts
from airad.agents.policy import decision_rng
from airad.agents.policy_view import policy_view
from airad.events.fold import fold
from airad.schemas.events import NodeSelected
from airad.schemas.policies import MctsPolicy
from tests.factories import History


def _decide(h: History, seed: int = 0, **params):
    view = policy_view(fold(h.events))
    return decide_mcts(MctsPolicy(**params), view, decision_rng(seed, view.decisions))


def test_root_is_expanded_with_num_children_drafts_first():
    h = History()
    for i in range(3):
        assert _decide(h, num_children=3) == ("draft", ())
        h.node(i, "draft", score=0.5 + i / 10)
    assert _decide(h, num_children=3)[0] == "improve"


def test_exploitation_follows_the_best_subtree():
    h = History().node(0, "draft", score=0.6).node(1, "draft", score=0.9).node(2, "draft", score=0.7)
    assert _decide(h, num_children=3, uct_c=0.0) == ("improve", (1,))


def test_exploration_visits_the_less_visited_subtree():
    h = History().node(0, "draft", score=0.9).node(1, "draft", score=0.8)
    for i, parent in enumerate([0, 3, 4, 5], start=2):
        h.node(i, "improve", (0 if i == 2 else i - 1,), score=0.9)
    assert _decide(h, num_children=2, uct_c=0.0)[1] != (1,)
    assert _decide(h, num_children=2, uct_c=5.0) == ("improve", (1,))


def test_buggy_child_gets_a_debug_cycle_bounded_by_depth():
    h = History().node(0, "draft", score=None, exit_code=1)
    assert _decide(h, num_children=1) == ("debug", (0,))
    h.node(1, "debug", (0,), score=None, exit_code=1)
    assert _decide(h, num_children=1, max_debug_depth=3) == ("debug", (1,))
    h.node(2, "debug", (1,), score=None, exit_code=1)
    h.node(3, "debug", (2,), score=None, exit_code=1)
    assert _decide(h, num_children=1, max_debug_depth=3) == ("draft", ())


def test_debug_cycle_is_bounded_by_time():
    h = History().node(0, "draft", score=None, exit_code=1).node(1, "debug", (0,), score=None, exit_code=1)
    assert _decide(h, num_children=1, max_debug_seconds=5.0) == ("debug", (1,))
    assert _decide(h, num_children=1, max_debug_seconds=2.0) == ("draft", ())


def test_buggy_subtrees_are_not_pruned():
    h = History().node(0, "draft", score=0.9).node(1, "draft", score=None, exit_code=1)
    h.node(2, "improve", (0,), score=0.9).node(3, "improve", (0,), score=0.9)
    assert _decide(h, num_children=2, uct_c=0.0) in (("improve", (2,)), ("improve", (3,)))
    assert _decide(h, num_children=2, uct_c=3.0) == ("debug", (1,))


def test_unfinished_children_count_but_are_never_selected():
    h = History().node(0, "draft", score=0.9)
    h.add(NodeSelected, node_id=1, operator="draft")
    assert _decide(h, num_children=2) == ("improve", (0,))
    h.add(NodeSelected, node_id=2, operator="improve", parent_ids=(0,))
    assert _decide(h, num_children=2) == ("improve", (0,))
    h.add(NodeSelected, node_id=3, operator="improve", parent_ids=(0,))
    assert _decide(h, num_children=2) == ("draft", ())


def test_every_decision_refers_to_known_finished_nodes():
    h = History()
    for i in range(12):
        operator, parents = _decide(h, seed=i, num_children=2)
        assert all(p < i and fold(h.events).nodes[p].done for p in parents)
        h.node(i, operator, parents, score=None if i % 3 == 0 else i / 20, exit_code=1 if i % 3 == 0 else 0)
