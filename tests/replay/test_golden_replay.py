"""Replay the committed golden log: same state, same decisions, and test scores cannot move a decision."""

import random

import msgspec
import pytest

from airad.agents.policy import decide
from airad.agents.view import policy_view
from airad.events.fold import RunState, evolve, fold
from airad.schemas.events import NodeSelected, NodeTested, decode_event
from tests.replay.make_golden import GOLDEN, GOLDEN_STATE


@pytest.fixture(scope="module")
def events():
    return [decode_event(line) for line in GOLDEN.read_bytes().splitlines()]


def replayed_decisions(events):
    """(recorded, re-derived) pairs for every decision in the log."""
    state = RunState(events[0].run_id)
    pairs = []
    for event in events:
        if isinstance(event, NodeSelected):
            action = decide(state.request.policy, policy_view(state), state.request.seed)
            pairs.append(((event.operator, event.parent_ids), (action.operator, action.parent_ids)))
        state = evolve(state, event)
    return pairs


def test_fold_of_golden_log_matches_committed_state(events):
    state = fold(events)
    assert msgspec.json.decode(msgspec.json.encode(state)) == msgspec.json.decode(GOLDEN_STATE.read_bytes())
    assert state.status == "finished" and len(state.nodes) == 10


def test_policy_makes_the_recorded_decisions(events):
    pairs = replayed_decisions(events)
    assert len(pairs) == 10
    assert {recorded[0] for recorded, _ in pairs} == {"draft", "debug", "improve"}
    for recorded, derived in pairs:
        assert derived == recorded


def test_scrambled_test_scores_change_no_decision(events):
    rng = random.Random(5)
    scrambled = [
        msgspec.structs.replace(e, score=rng.random()) if isinstance(e, NodeTested) else e for e in events
    ]
    assert [e.score for e in scrambled if isinstance(e, NodeTested)] != [e.score for e in events if isinstance(e, NodeTested)]
    assert replayed_decisions(scrambled) == replayed_decisions(events)
    assert fold(scrambled).best_node().id == fold(events).best_node().id
