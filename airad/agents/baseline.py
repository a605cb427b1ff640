"""Runs that start from the user's own script: node 0 is that script (operator `baseline`), and
every policy improves it instead of drafting new roots.

Greedy skips its drafts, MCTS gives its virtual root no child but node 0, evolution seeds island 0
with node 0 alone; wherever a policy would still fall back to a draft, `instead_of_draft` decides.
"""

from __future__ import annotations

from airad.agents.policy_view import PolicyView
from airad.schemas.events import Operator


def awaiting_baseline(view: PolicyView) -> bool:
    """Whether the run's first decision is due (the user's script) or that script is still running:
    nothing else can be decided before its score is known."""
    if not view.baseline:
        return False
    return not view.nodes or (view.nodes[0].operator == "baseline" and not view.nodes[0].done)


def instead_of_draft(view: PolicyView) -> tuple[Operator, tuple[int, ...]]:
    """What replaces a draft in a run from the user's script: improve the best valid node; with none
    valid yet, debug the newest buggy leaf with a script (the script's own debug chain first); else improve node 0."""
    best = view.best()
    if best is not None:
        return "improve", (best.id,)
    leaves = [node for node in view.nodes if node.can_be_debugged() and not node.children]
    if leaves:
        return "debug", (leaves[-1].id,)
    return "improve", (0,)
