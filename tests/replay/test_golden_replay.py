"""Replay committed golden logs, one per policy: same state, same decisions, the seed matters,
and held-out test scores cannot move a decision."""

import random

import msgspec
import pytest

from airad.agents.policy import decide
from airad.agents.policy_view import policy_view
from airad.events.fold import RunState, evolve, fold
from airad.schemas.events import NodeSelected, NodeTested
from tests.replay.make_golden import POLICIES, load, log_path, state_path

NAMES = [name for name in POLICIES if log_path(name).exists()]


@pytest.fixture(params=NAMES)
def golden(request):
    return request.param, load(request.param)


def replayed_decisions(events, seed_offset: int = 0):
    """(recorded, re-derived) decisions for every node.selected in the log."""
    state = RunState(events[0].run_id)
    pairs = []
    for event in events:
        if isinstance(event, NodeSelected):
            action = decide(state.request.policy, policy_view(state), state.request.seed + seed_offset)
            pairs.append(((event.operator, event.parent_ids), (action.operator, action.parent_ids)))
        state = evolve(state, event)
    return pairs


def test_every_policy_has_a_golden_log():
    assert NAMES == list(POLICIES)


def test_fold_of_golden_log_matches_committed_state(golden):
    name, events = golden
    state = fold(events)
    assert msgspec.json.decode(msgspec.json.encode(state)) == msgspec.json.decode(state_path(name).read_bytes())
    assert state.status == "finished" and len(state.nodes) == POLICIES[name][3]


def test_policy_makes_the_recorded_decisions(golden):
    _, events = golden
    pairs = replayed_decisions(events)
    assert len(pairs) == len(fold(events).nodes)
    assert [derived for _, derived in pairs] == [recorded for recorded, _ in pairs]


def test_a_changed_seed_changes_some_decision(golden):
    _, events = golden
    recorded = [r for r, _ in replayed_decisions(events)]
    assert any([d for _, d in replayed_decisions(events, offset)] != recorded for offset in range(1, 6))


def test_scrambled_test_scores_change_no_decision(golden):
    _, events = golden
    rng = random.Random(5)
    scrambled = [msgspec.structs.replace(e, score=rng.random()) if isinstance(e, NodeTested) else e for e in events]
    assert scrambled != events
    assert replayed_decisions(scrambled) == replayed_decisions(events)
    assert fold(scrambled).best_node().id == fold(events).best_node().id


def test_greedy_log_from_the_first_schema_still_folds():
    events = load("greedy")
    assert events[0].request.operators is None and events[0].request.budget.tokens is None
    assert {recorded[0] for recorded, _ in replayed_decisions(events)} == {"draft", "debug", "improve"}
