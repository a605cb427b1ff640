"""`RunState` is the fold of a run's events: the one reading of a run used everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from msgspec import Struct, structs

from airad.events.stream import check_next
from airad.schemas.events import (
    Baseline,
    Event,
    Medal,
    ModelCall,
    NodeAnalyzed,
    NodeDispatched,
    NodeExecuted,
    NodeFailed,
    NodeGenerated,
    NodeQueued,
    NodeScored,
    NodeSelected,
    NodeTested,
    Operator,
    RunBaselines,
    RunFinished,
    RunKnowledge,
    RunRejected,
    RunStarted,
    RunSubmitted,
)
from airad.schemas.knowledge_events import AtomRef
from airad.schemas.request import RunRequest

NodeStatus = Literal["selected", "generated", "dispatched", "executed", "scored", "failed"]
RunStatus = Literal["new", "running", "finished", "rejected"]

CANCELLED_NODE_REASON = "the run was cancelled"
"""The reason of the `node.failed` that ends a node stopped in flight because its run was cancelled."""


class Node(Struct, frozen=True):
    """One candidate solution as the events describe it so far."""

    id: int
    operator: Operator
    parent_ids: tuple[int, ...]
    selected_at: float
    status: NodeStatus = "selected"
    plan: str = ""
    code: str = ""
    model: str = ""
    cost_usd: float = 0.0
    tokens: int = 0
    handle: str = ""
    queued_at: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    oom: bool = False
    killed: str | None = None
    duration_s: float | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    outputs: dict[str, str] = {}
    valid: bool | None = None
    score: float | None = None
    score_error: str = ""
    test_score: float | None = None
    medal: Medal | None = None
    above_median: bool | None = None
    medal_thresholds: dict[str, float] = {}
    failure: str = ""
    analyzed: bool = False
    reported_metric: float | None = None
    reported_bug: bool | None = None
    analysis: str = ""
    prompt_ref: str = ""
    calls: tuple[ModelCall, ...] = ()
    llm_seconds: float = 0.0
    cached_from: int | None = None

    @property
    def done(self) -> bool:
        """True when nothing more will happen to this node."""
        return self.status in ("scored", "failed")

    @property
    def cancelled(self) -> bool:
        """A node stopped in flight because its run was cancelled: neither its script nor the harness judged it."""
        return self.status == "failed" and self.failure.partition(": ")[2] == CANCELLED_NODE_REASON

    @property
    def buggy(self) -> bool:
        """A finished node whose generation or script failed or whose output the harness could not score;
        never a cancelled one."""
        return (self.status == "failed" and not self.cancelled) or (self.status == "scored" and not self.valid)


class RunState(Struct, frozen=True):
    """Everything known about one run; `nodes[i].id == i`."""

    run_id: str
    last_seq: int = 0
    status: RunStatus = "new"
    request: RunRequest | None = None
    submitted_at: float | None = None
    owner: str = ""
    nodes: tuple[Node, ...] = ()
    cost_usd: float = 0.0
    tokens: int = 0
    finish_reason: str = ""
    finish_detail: str = ""
    best_node_id: int | None = None
    rejection: str = ""
    metric: str = ""
    lower_is_better: bool = False
    knowledge: tuple[AtomRef, ...] | None = None  # None until run.knowledge (runs with a domain)
    baselines: tuple[Baseline, ...] | None = None  # None until run.baselines
    knowledge_ref: str = ""

    @property
    def terminal(self) -> bool:
        """True once the run has finished or was rejected."""
        return self.status in ("finished", "rejected")

    @property
    def pending_node(self) -> Node | None:
        """A node that was decided but not yet carried to its end."""
        for node in self.nodes:
            if not node.done:
                return node
        return None

    def best_node(self) -> Node | None:
        """The valid node with the best validation score (ties: the earliest)."""
        return best_by_validation(self.nodes, self.lower_is_better)


def best_scored(candidates: Iterable, lower_is_better: bool):
    """The candidate (anything with a `score`) with the best score; the earliest wins ties."""
    best = None
    for candidate in candidates:
        if best is None or (candidate.score < best.score if lower_is_better else candidate.score > best.score):
            best = candidate
    return best


def best_by_validation(nodes: Iterable[Node], lower_is_better: bool) -> Node | None:
    """The valid node with the best validation score; the earliest wins ties."""
    valid = (n for n in nodes if n.status == "scored" and n.valid and n.score is not None)
    return best_scored(valid, lower_is_better)


def _update_node(state: RunState, node_id: int, **changes) -> tuple[Node, ...]:
    nodes = list(state.nodes)
    nodes[node_id] = structs.replace(nodes[node_id], **changes)
    return tuple(nodes)


def evolve(state: RunState, event: Event) -> RunState:
    """Apply one event. Events must arrive in `seq` order without gaps."""
    check_next("run", state.run_id, state.last_seq, event.run_id, event.seq)
    state = structs.replace(state, last_seq=event.seq)
    match event:
        case RunSubmitted():
            return structs.replace(state, status="running", request=event.request, submitted_at=event.at)
        case RunRejected():
            return structs.replace(state, status="rejected", rejection=f"{event.field}: {event.reason}")
        case RunStarted():
            return structs.replace(state, owner=event.owner)
        case RunKnowledge():
            return structs.replace(state, knowledge=event.atoms, knowledge_ref=event.atoms_ref)
        case NodeSelected():
            if event.node_id != len(state.nodes):
                raise ValueError(f"run {state.run_id}: node id {event.node_id} is not the next id {len(state.nodes)}")
            node = Node(event.node_id, event.operator, event.parent_ids, selected_at=event.at)
            return structs.replace(state, nodes=state.nodes + (node,))
        case NodeGenerated():
            tokens = event.prompt_tokens + event.completion_tokens
            nodes = _update_node(
                state,
                event.node_id,
                status="generated",
                plan=event.plan,
                code=event.code,
                model=event.model,
                cost_usd=event.cost_usd,
                tokens=tokens,
                prompt_ref=event.prompt_ref,
                calls=event.calls,
                llm_seconds=event.llm_seconds,
            )
            return structs.replace(
                state, nodes=nodes, cost_usd=state.cost_usd + event.cost_usd, tokens=state.tokens + tokens
            )
        case NodeQueued():
            return structs.replace(state, nodes=_update_node(state, event.node_id, queued_at=event.at))
        case NodeDispatched():
            nodes = _update_node(state, event.node_id, status="dispatched", handle=event.handle)
            return structs.replace(state, nodes=nodes)
        case RunBaselines():
            return structs.replace(state, baselines=event.baselines)
        case NodeExecuted():
            nodes = _update_node(
                state,
                event.node_id,
                status="executed",
                exit_code=event.exit_code,
                timed_out=event.timed_out,
                oom=event.oom,
                killed=event.killed,
                duration_s=event.duration_s,
                stdout_tail=event.stdout_tail,
                stderr_tail=event.stderr_tail,
                outputs=event.outputs,
                cached_from=event.cached_from,
            )
            return structs.replace(state, nodes=nodes)
        case NodeScored():
            nodes = _update_node(
                state, event.node_id, status="scored", valid=event.valid, score=event.score, score_error=event.error
            )
            return structs.replace(state, nodes=nodes, metric=event.metric, lower_is_better=event.lower_is_better)
        case NodeTested():
            nodes = _update_node(
                state,
                event.node_id,
                test_score=event.score,
                medal=event.medal,
                above_median=event.above_median,
                medal_thresholds=event.medal_thresholds,
            )
            return structs.replace(state, nodes=nodes)
        case NodeAnalyzed():
            tokens = event.prompt_tokens + event.completion_tokens
            node = state.nodes[event.node_id]
            nodes = _update_node(
                state,
                event.node_id,
                analyzed=True,
                reported_metric=event.metric,
                reported_bug=event.is_bug,
                analysis=event.summary,
                cost_usd=node.cost_usd + event.cost_usd,
                tokens=node.tokens + tokens,
            )
            return structs.replace(
                state, nodes=nodes, cost_usd=state.cost_usd + event.cost_usd, tokens=state.tokens + tokens
            )
        case NodeFailed():
            tokens = event.prompt_tokens + event.completion_tokens
            node = state.nodes[event.node_id]
            nodes = _update_node(
                state,
                event.node_id,
                status="failed",
                failure=f"{event.stage}: {event.reason}",
                cost_usd=node.cost_usd + event.cost_usd,
                tokens=node.tokens + tokens,
                prompt_ref=event.prompt_ref or node.prompt_ref,
                calls=node.calls + event.calls,
                llm_seconds=node.llm_seconds + event.llm_seconds,
            )
            return structs.replace(
                state, nodes=nodes, cost_usd=state.cost_usd + event.cost_usd, tokens=state.tokens + tokens
            )
        case RunFinished():
            return structs.replace(
                state,
                status="finished",
                finish_reason=event.reason,
                finish_detail=event.detail,
                best_node_id=event.best_node_id,
                cost_usd=state.cost_usd + event.distill_cost_usd,
                tokens=state.tokens + event.distill_tokens,
            )
    raise TypeError(f"unknown event {type(event).__name__}")


def fold(events: Iterable[Event], run_id: str | None = None) -> RunState:
    """The state of a run after all of `events`."""
    state: RunState | None = RunState(run_id) if run_id is not None else None
    for event in events:
        if state is None:
            state = RunState(event.run_id)
        state = evolve(state, event)
    if state is None:
        raise ValueError("cannot fold an empty history without a run_id")
    return state
