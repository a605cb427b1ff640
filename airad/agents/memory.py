"""Bounded memory of earlier attempts, shown to the model so it does not repeat itself."""

from __future__ import annotations

from airad.agents.policy_view import NodeView, PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import OperatorSpec

PLAN_CHARS = 300
SCOPE = {"draft": "drafts", "improve": "sibling", "crossover": "sibling", "debug": "ancestral", "baseline": "drafts"}


def summarize(node: NodeView) -> str:
    """One line about a finished node: its operator, outcome and the start of its plan."""
    outcome = "bug" if node.buggy else f"score {node.score:.6g}" if node.score is not None else "no score"
    plan = " ".join(node.plan.split())[:PLAN_CHARS] or "(no plan)"
    return f"- node {node.id} ({node.operator}, {outcome}): {plan}"


def _ancestors(view: PolicyView, node_id: int) -> list[NodeView]:
    chain = []
    current = view.nodes[node_id]
    while current.parent_ids:
        current = view.nodes[current.parent_ids[0]]
        chain.append(current)
    return chain[::-1]


def recalled(view: PolicyView, operator: Operator, parent_ids: tuple[int, ...], spec: OperatorSpec) -> list[NodeView]:
    """The finished nodes a prompt recalls, oldest first, at most `spec.memory_size`."""
    kind = SCOPE[operator] if spec.memory == "scoped" else spec.memory
    if kind == "none" or spec.memory_size == 0:
        return []
    finished = [n for n in view.nodes if n.done and n.id not in parent_ids]
    if kind == "drafts" or (kind == "sibling" and not parent_ids):
        chosen = [n for n in finished if not n.parent_ids]
    elif kind == "sibling":
        chosen = [n for n in finished if n.parent_ids[:1] == parent_ids[:1]]
    elif kind == "ancestral":
        chosen = _ancestors(view, parent_ids[0]) if parent_ids else []
    else:
        chosen = finished
    return chosen[-spec.memory_size :]


def memory_lines(view: PolicyView, operator: Operator, parent_ids: tuple[int, ...], spec: OperatorSpec) -> list[str]:
    """The `# Previous attempts` lines of a prompt."""
    return [summarize(n) for n in recalled(view, operator, parent_ids, spec)]
