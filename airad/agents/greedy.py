"""Greedy search (AIDE's, and AIRA's with other defaults): draft N solutions, then debug a buggy leaf
with probability p, else improve the best."""

from __future__ import annotations

import random

from airad.agents.policy_view import NodeView, PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import AiraGreedyPolicy, GreedyPolicy


def debuggable_leaves(view: PolicyView, max_debug_depth: int) -> list[NodeView]:
    """Buggy nodes with a script, no children yet, and a debug chain shorter than the limit."""
    return [
        node
        for node in view.nodes
        if node.can_be_debugged() and not node.children and node.debug_depth < max_debug_depth
    ]


def decide_greedy(
    params: GreedyPolicy | AiraGreedyPolicy, view: PolicyView, rng: random.Random
) -> tuple[Operator, tuple[int, ...]]:
    """One greedy decision as (operator, parent ids)."""
    drafts = sum(1 for node in view.nodes if node.operator == "draft")
    if drafts < params.num_drafts and not view.baseline:  # a run from the user's script has its root
        return "draft", ()
    if rng.random() < params.debug_prob:
        debuggable = debuggable_leaves(view, params.max_debug_depth)
        if debuggable:
            return "debug", (rng.choice(debuggable).id,)
    best = view.best()
    if best is None:
        return "draft", ()
    return "improve", (best.id,)
