"""Derive a run's one-line summary from its folded state."""

from __future__ import annotations

from airad.events.fold import RunState
from airad.events.log import RunSummary


def summarize(state: RunState, now: float) -> RunSummary:
    """The KV summary of a run, computed from the fold only."""
    request = state.request
    best = state.best_node()
    return RunSummary(
        run_id=state.run_id,
        status=state.status,
        task=getattr(request.task, "name", "") if request else "",
        policy=request.policy.__struct_config__.tag if request else "",
        model=request.model.name if request else "",
        nodes=len(state.nodes),
        buggy=sum(1 for n in state.nodes if n.buggy),
        metric=state.metric,
        best_node_id=best.id if best else None,
        best_score=best.score if best else None,
        best_test_score=best.test_score if best else None,
        cost_usd=state.cost_usd,
        submitted_at=state.submitted_at,
        updated_at=now,
        owner=state.owner,
        finish_reason=state.finish_reason or state.rejection,
        last_seq=state.last_seq,
    )
