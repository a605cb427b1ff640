from airad.agents.policy import Action, decide
from airad.agents.policy_view import NodeView, policy_view
from airad.events.fold import fold
from airad.schemas.request import GreedyPolicy
from tests.factories import History, greedy_request


def _decide(h: History, seed: int = 0, **params) -> Action:
    return decide(GreedyPolicy(**params), policy_view(fold(h.events)), seed)


def test_drafts_first():
    h = History(request=greedy_request(num_drafts=2))
    assert _decide(h, num_drafts=2) == Action("draft")
    h.node(0, "draft")
    assert _decide(h, num_drafts=2) == Action("draft")


def test_improves_best_when_not_debugging():
    h = History().node(0, "draft", score=0.7).node(1, "draft", score=0.95).node(2, "draft", score=None, exit_code=1)
    assert _decide(h, num_drafts=3, debug_prob=0.0) == Action("improve", (1,))


def test_debugs_buggy_leaf_when_debug_prob_is_one():
    h = History().node(0, "draft", score=0.7).node(1, "draft", score=None, exit_code=1)
    assert _decide(h, num_drafts=2, debug_prob=1.0) == Action("debug", (1,))


def test_debug_depth_is_bounded():
    h = History().node(0, "draft", score=0.7).node(1, "draft", score=None, exit_code=1)
    h.node(2, "debug", (1,), score=None, exit_code=1).node(3, "debug", (2,), score=None, exit_code=1)
    view = policy_view(fold(h.events))
    assert [n.debug_depth for n in view.nodes] == [0, 0, 1, 2]
    assert _decide(h, num_drafts=2, debug_prob=1.0, max_debug_depth=2) == Action("improve", (0,))
    assert _decide(h, num_drafts=2, debug_prob=1.0, max_debug_depth=3) == Action("debug", (3,))


def test_all_buggy_and_no_debug_drafts_again():
    h = History().node(0, "draft", score=None, exit_code=1)
    assert _decide(h, num_drafts=1, debug_prob=0.0) == Action("draft")


def test_same_events_and_seed_give_same_decisions_and_seed_matters():
    h = History()
    for i in range(4):
        h.node(i, "draft", score=None, exit_code=1)
    picks = {_decide(h, seed=s, num_drafts=4, debug_prob=1.0).parent_ids for s in range(20)}
    assert _decide(h, seed=7, num_drafts=4, debug_prob=1.0) == _decide(h, seed=7, num_drafts=4, debug_prob=1.0)
    assert len(picks) > 1


def test_policy_view_has_no_test_scores():
    assert not any("test" in name for name in NodeView.__struct_fields__)
    h = History().node(0, "draft", score=0.5, test=0.99)
    view = policy_view(fold(h.events))
    assert 0.99 not in [getattr(view.nodes[0], f) for f in NodeView.__struct_fields__]
