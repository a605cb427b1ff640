"""The policy contract (`airad.agents.policy_contract`) holds for every built-in policy, as it must for
a plugin's (the example plugin's own tests run it too)."""

import pytest

from airad.agents.evolution import decide_evolution
from airad.agents.greedy import decide_greedy
from airad.agents.mcts import decide_mcts
from airad.agents.plugin_api import PolicyPlugin
from airad.testing.policy_contract import check_policy
from airad.schemas.policies import AiraGreedyPolicy, EvolutionaryPolicy, GreedyPolicy, MctsPolicy
from tests.unit.test_plugins import PLUGINS, TwoStep

OPERATORS = ("draft", "improve", "debug", "crossover")
BUILT_IN = {
    "greedy": (PolicyPlugin(GreedyPolicy, decide_greedy, OPERATORS), GreedyPolicy(num_drafts=2)),
    "aira-greedy": (PolicyPlugin(AiraGreedyPolicy, decide_greedy, OPERATORS), AiraGreedyPolicy(num_drafts=2)),
    "mcts": (PolicyPlugin(MctsPolicy, decide_mcts, OPERATORS), MctsPolicy(num_children=2)),
    "evolutionary": (PolicyPlugin(EvolutionaryPolicy, decide_evolution, OPERATORS), EvolutionaryPolicy()),
    "a plugin": (PLUGINS.policies["two-step"], TwoStep()),
}


@pytest.mark.parametrize("name", BUILT_IN)
def test_the_policy_keeps_the_contract(name):
    plugin, params = BUILT_IN[name]
    check_policy(plugin, params)


def test_the_contract_catches_a_policy_that_draws_from_the_shared_generator():
    import random

    def careless(params, view, rng):
        return ("improve", (random.randrange(len(view.nodes)),)) if view.nodes else ("draft", ())

    with pytest.raises(AssertionError, match="for the same view and seed"):
        check_policy(PolicyPlugin(TwoStep, careless, ("draft", "improve")), TwoStep())
