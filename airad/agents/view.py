"""What a policy may see of a run: the fold minus every held-out test score."""

from __future__ import annotations

from msgspec import Struct

from airad.events.fold import RunState
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


class PolicyView(Struct, frozen=True):
    """The run's tree as a policy sees it; `decisions` counts the decisions made so far."""

    nodes: tuple[NodeView, ...]
    lower_is_better: bool
    decisions: int

    def best(self) -> NodeView | None:
        """The non-buggy node with the best validation score; the earliest wins ties."""
        best: NodeView | None = None
        for node in self.nodes:
            if not node.done or node.buggy or node.score is None:
                continue
            if best is None or (node.score < best.score if self.lower_is_better else node.score > best.score):
                best = node
        return best


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
            )
        )
    return PolicyView(nodes=tuple(views), lower_is_better=state.lower_is_better, decisions=len(state.nodes))
