"""A policy turns the run's view and a seeded RNG into the next action; it only chooses."""

from __future__ import annotations

import random
from collections.abc import Mapping

import msgspec
from msgspec import Struct

from airad.agents.baseline import instead_of_draft
from airad.agents.evolution import decide_evolution
from airad.agents.greedy import decide_greedy
from airad.agents.mcts import decide_mcts
from airad.agents.plugin_api import PolicyPlugin
from airad.agents.policy_view import PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import (
    AiraGreedyPolicy,
    EvolutionaryPolicy,
    GreedyPolicy,
    MctsPolicy,
    PluginPolicy,
    PolicySpec,
)


class Action(Struct, frozen=True):
    """Apply `operator` to the nodes `parent_ids` (empty for a draft and for the user's baseline script)."""

    operator: Operator
    parent_ids: tuple[int, ...] = ()


def decision_rng(seed: int, decision_seq: int) -> random.Random:
    """The RNG for one decision: same seed and decision number, same choices, in any process."""
    return random.Random(f"{seed}:{decision_seq}")


def decide(
    policy: PolicySpec, view: PolicyView, seed: int, plugins: Mapping[str, PolicyPlugin] | None = None
) -> Action:
    """The next action of `policy` on `view`, deterministic in (events, seed). A run from the user's
    script decides `baseline` first and never drafts (see `airad.agents.baseline`). A plugin policy's
    decide comes from `plugins`, by name, with its parameters as the plugin's struct."""
    if view.baseline and not view.nodes:
        return Action("baseline")
    rng = decision_rng(seed, view.decisions)
    if isinstance(policy, (GreedyPolicy, AiraGreedyPolicy)):
        operator, parents = decide_greedy(policy, view, rng)
    elif isinstance(policy, MctsPolicy):
        operator, parents = decide_mcts(policy, view, rng)
    elif isinstance(policy, EvolutionaryPolicy):
        operator, parents = decide_evolution(policy, view, rng)
    elif isinstance(policy, PluginPolicy):
        plugin = (plugins or {}).get(policy.name)
        if plugin is None:
            raise ValueError(f"policy plugin {policy.name!r} is not installed")
        operator, parents = plugin.decide(msgspec.convert(policy.params, plugin.params), view, rng)
        parents = tuple(parents)
    else:
        raise ValueError(f"unknown policy {type(policy).__name__}")
    if view.baseline and operator == "draft":
        operator, parents = instead_of_draft(view)
    return Action(operator, parents)
