"""Bounded memory of earlier attempts, shown to the model so it does not repeat itself."""

from __future__ import annotations

from airad.agents.view import NodeView, PolicyView
from airad.schemas.events import Operator

MEMORY_LIMIT = 8
PLAN_CHARS = 300


def summarize(node: NodeView) -> str:
    """One line about a finished node: its operator, outcome and the first sentence of its plan."""
    outcome = "bug" if node.buggy else f"score {node.score:.6g}" if node.score is not None else "no score"
    plan = " ".join(node.plan.split())[:PLAN_CHARS] or "(no plan)"
    return f"- node {node.id} ({node.operator}, {outcome}): {plan}"


def memory_lines(view: PolicyView, operator: Operator, parent_ids: tuple[int, ...]) -> list[str]:
    """Up to MEMORY_LIMIT summaries: for drafts every earlier draft, else the latest finished nodes."""
    finished = [n for n in view.nodes if n.done and n.id not in parent_ids]
    if operator == "draft":
        finished = [n for n in finished if n.operator == "draft"]
    return [summarize(n) for n in finished[-MEMORY_LIMIT:]]
