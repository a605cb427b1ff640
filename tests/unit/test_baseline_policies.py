"""Runs from the user's script: node 0 is that script, and every policy improves it instead of
drafting new roots."""

import random

import pytest

from airad.agents.baseline import awaiting_baseline, instead_of_draft
from airad.agents.policy import Action, decide
from airad.agents.policy_view import policy_view
from airad.events.fold import fold
from airad.schemas.events import NodeSelected
from airad.schemas.policies import AiraGreedyPolicy, EvolutionaryPolicy, GreedyPolicy, MctsPolicy
from airad.schemas.request import BundledTask, RunRequest
from tests.factories import History

POLICIES = {
    "greedy": GreedyPolicy(num_drafts=3, debug_prob=0.5),
    "aira-greedy": AiraGreedyPolicy(num_drafts=5),
    "mcts": MctsPolicy(num_children=2),
    "evolutionary": EvolutionaryPolicy(individuals_per_generation=2, num_islands=2, crossover_warmup_generations=0, migration_interval=1),
}


def _history(policy, baseline="print('the user script')\n"):
    return History("r", RunRequest(task=BundledTask(name="wine"), policy=policy, baseline=baseline, seed=3))


def _search(policy, nodes: int, first_score: float | None = 0.5, bug_rate: float = 0.25):
    """Decide and record `nodes` nodes (scores drawn at random, some buggy); the actions in order."""
    history, rng, actions = _history(policy), random.Random(7), []
    for node_id in range(nodes):
        state = fold(history.events)
        action = decide(policy, policy_view(state), state.request.seed)
        actions.append(action)
        score = first_score if node_id == 0 else (None if rng.random() < bug_rate else rng.random())
        history.node(node_id, action.operator, action.parent_ids, score=score)
    return actions, fold(history.events)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_the_first_node_is_the_users_script_and_no_policy_drafts(name):
    actions, state = _search(POLICIES[name], 24)
    assert actions[0] == Action("baseline")
    assert actions[1] == Action("improve", (0,)), "the script's score is known, so it is improved"
    assert "draft" not in {a.operator for a in actions} and "baseline" not in {a.operator for a in actions[1:]}
    assert [n.id for n in state.nodes if not n.parent_ids] == [0], "the user's script is the only root"
    assert {a.operator for a in actions[1:]} >= {"improve"}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_failing_script_is_debugged_first(name):
    actions, _ = _search(POLICIES[name], 2, first_score=None)
    assert actions[1] == Action("debug", (0,))


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_runs_without_a_script_still_draft_first(name):
    history = History("r", RunRequest(task=BundledTask(name="wine"), policy=POLICIES[name]))
    assert decide(POLICIES[name], policy_view(fold(history.events)), 0).operator == "draft"


def test_every_policy_improves_the_best_node_once_the_script_was_beaten():
    for policy in POLICIES.values():
        history = _history(policy)
        history.node(0, "baseline", score=0.5).node(1, "improve", (0,), score=0.9)
        action = decide(policy, policy_view(fold(history.events)), 0)
        assert action.operator in ("improve", "debug", "crossover") and action.parent_ids


def test_nothing_else_is_decided_while_the_script_runs():
    history = _history(GreedyPolicy())
    assert awaiting_baseline(policy_view(fold(history.events)))
    history.add(NodeSelected, node_id=0, operator="baseline", parent_ids=())
    assert awaiting_baseline(policy_view(fold(history.events)))
    plain = History("p")
    assert not awaiting_baseline(policy_view(fold(plain.events)))


def test_instead_of_a_draft_the_best_node_is_improved_else_a_failure_debugged():
    history = _history(GreedyPolicy())
    history.node(0, "baseline", score=None)
    view = policy_view(fold(history.events))
    assert instead_of_draft(view) == ("debug", (0,))
    history.node(1, "debug", (0,), score=0.4).node(2, "improve", (1,), score=0.7)
    assert instead_of_draft(policy_view(fold(history.events))) == ("improve", (2,))
