"""Derive a run's one-line summary from its folded state."""

from __future__ import annotations

from airad.events.fold import RunState
from airad.events.log import RunSummary
from airad.reports.diversity import draft_diversity
from airad.schemas.policies import policy_kind
from airad.schemas.request import task_label


def summarize(state: RunState, now: float) -> RunSummary:
    """The KV summary of a run, computed from the fold only."""
    request = state.request
    best = state.best_node()
    diversity = draft_diversity([(n.plan, n.code) for n in state.nodes if n.operator == "draft" and n.code])
    cost_by_operator: dict[str, float] = {}
    for node in state.nodes:
        cost_by_operator[node.operator] = cost_by_operator.get(node.operator, 0.0) + node.cost_usd
    return RunSummary(
        run_id=state.run_id,
        status=state.status,
        task=task_label(request.task) if request else "",
        policy=policy_kind(request.policy) if request else "",
        model=request.model.name if request else "",
        nodes=len(state.nodes),
        buggy=sum(1 for n in state.nodes if n.buggy),
        cancelled=sum(1 for n in state.nodes if n.cancelled),
        metric=state.metric,
        best_node_id=best.id if best else None,
        best_score=best.score if best else None,
        best_test_score=best.test_score if best else None,
        cost_usd=state.cost_usd,
        tokens=state.tokens,
        cost_by_operator=cost_by_operator,
        draft_families=diversity.families,
        draft_plan_distance=diversity.plan_distance,
        submitted_at=state.submitted_at,
        updated_at=now,
        owner=state.owner,
        finish_reason=state.finish_reason or state.rejection,
        last_seq=state.last_seq,
        in_flight=sum(1 for n in state.nodes if not n.done),
        domain=(request.domain or "") if request else "",
    )
