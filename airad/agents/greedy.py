"""AIDE-style greedy search: draft N solutions, then debug a buggy leaf with probability p, else improve the best."""

from __future__ import annotations

import random

from airad.agents.view import PolicyView
from airad.schemas.events import Operator
from airad.schemas.request import GreedyPolicy


def decide_greedy(params: GreedyPolicy, view: PolicyView, rng: random.Random) -> tuple[Operator, tuple[int, ...]]:
    """One greedy decision as (operator, parent ids)."""
    drafts = sum(1 for node in view.nodes if node.operator == "draft")
    if drafts < params.num_drafts:
        return "draft", ()
    if rng.random() < params.debug_prob:
        debuggable = [
            node
            for node in view.nodes
            if node.done and node.buggy and not node.children and node.debug_depth < params.max_debug_depth
        ]
        if debuggable:
            return "debug", (rng.choice(debuggable).id,)
    best = view.best()
    if best is None:
        return "draft", ()
    return "improve", (best.id,)
