"""What a policy may see of a run: the fold minus every held-out test score."""

from __future__ import annotations

from msgspec import Struct

from airad.events.fold import RunState, best_scored
from airad.schemas.events import Operator


class NodeView(Struct, frozen=True):
    """A node as a policy sees it. There is deliberately no test-score field."""

    id: int
    operator: Operator
    parent_ids: tuple[int, ...]
    children: tuple[int, ...]
    done: bool
    buggy: bool
    score: float | None
    plan: str
    code: str
    error: str
    debug_depth: int
    duration_s: float = 0.0

    def can_be_debugged(self) -> bool:
        """Finished, buggy and with a script: the debug operator needs code and its error, so a node
        whose generation failed (no script) is never debugged."""
        return self.done and self.buggy and bool(self.code.strip())


class PolicyView(Struct, frozen=True):
    """The run's tree as a policy sees it; `decisions` counts the decisions made so far. `baseline`:
    the run starts from the user's own script (node 0), so policies improve it instead of drafting."""

    nodes: tuple[NodeView, ...]
    lower_is_better: bool
    decisions: int
    baseline: bool = False

    def valid_nodes(self) -> list[NodeView]:
        """Finished, non-buggy nodes with a validation score."""
        return [n for n in self.nodes if n.done and not n.buggy and n.score is not None]

    def fitness(self) -> dict[int, float]:
        """Validation scores of valid nodes normalised to [0, 1] within the run (1 = best so far)."""
        valid = self.valid_nodes()
        if not valid:
            return {}
        scores = {n.id: n.score for n in valid if n.score is not None}
        low, high = min(scores.values()), max(scores.values())
        if high == low:
            return {node_id: 1.0 for node_id in scores}
        span = high - low
        if self.lower_is_better:
            return {node_id: (high - score) / span for node_id, score in scores.items()}
        return {node_id: (score - low) / span for node_id, score in scores.items()}

    def best(self) -> NodeView | None:
        """The non-buggy node with the best validation score; the earliest wins ties."""
        return best_scored(self.valid_nodes(), self.lower_is_better)


def node_error(stderr_tail: str, score_error: str, failure: str) -> str:
    """What went wrong with a node, as the debug operator shows it to the model."""
    return "\n".join(part for part in (failure, stderr_tail.strip(), score_error) if part)


def policy_view(state: RunState) -> PolicyView:
    """Project a run's state onto what policies may read."""
    children: dict[int, list[int]] = {node.id: [] for node in state.nodes}
    for node in state.nodes:
        for parent in node.parent_ids:
            children[parent].append(node.id)
    depth: dict[int, int] = {}
    views = []
    for node in state.nodes:
        parent_depth = depth.get(node.parent_ids[0], 0) if node.parent_ids else 0
        depth[node.id] = parent_depth + 1 if node.operator == "debug" else 0
        error = node_error(node.stderr_tail, node.score_error, node.failure) if node.buggy else ""
        views.append(
            NodeView(
                id=node.id,
                operator=node.operator,
                parent_ids=node.parent_ids,
                children=tuple(children[node.id]),
                done=node.done,
                buggy=node.buggy,
                score=node.score if node.valid else None,
                plan=node.plan,
                code=node.code,
                error=error,
                debug_depth=depth[node.id],
                duration_s=node.duration_s or 0.0,
            )
        )
    baseline = state.request is not None and state.request.baseline is not None
    return PolicyView(
        nodes=tuple(views), lower_is_better=state.lower_is_better, decisions=len(state.nodes), baseline=baseline
    )
