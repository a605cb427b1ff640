"""Bounded memory of earlier attempts, shown to the model so it does not repeat itself."""

from __future__ import annotations

from airad.agents.policy_view import NodeView, PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import OperatorSpec

SCOPE = {"draft": "drafts", "improve": "sibling", "crossover": "sibling", "debug": "ancestral", "baseline": "drafts"}


def _ancestors(view: PolicyView, node_id: int) -> list[NodeView]:
    chain = []
    current = view.nodes[node_id]
    while current.parent_ids:
        current = view.nodes[current.parent_ids[0]]
        chain.append(current)
    return chain[::-1]


def recalled(view: PolicyView, operator: Operator, parent_ids: tuple[int, ...], spec: OperatorSpec) -> list[NodeView]:
    """The finished nodes a prompt recalls, oldest first, at most `spec.memory_size`."""
    kind = SCOPE.get(operator, "sibling" if parent_ids else "drafts") if spec.memory == "scoped" else spec.memory
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
