"""What an MLflow run shows of an airad run: params, tags and metric points, computed from the fold.

Pure: no MLflow import. The sink writes what `mirror` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from msgspec import Struct

from airad.events.fold import Node, RunState
from airad.schemas.events import Event, NodeFailed, NodeTested, RunFinished, RunRejected, RunSubmitted
from airad.schemas.policies import policy_kind
from airad.schemas.request import RunRequest

RUN_ID_TAG = "airad.run_id"
CURSOR_TAG = "airad.last_seq"
LABEL_PREFIX = "label."
MlflowStatus = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]


class MetricPoint(Struct, frozen=True):
    """One value of one metric at one step (a node id), stamped with its event's time."""

    key: str
    value: float
    step: int
    timestamp_ms: int


class Mirror(Struct, frozen=True):
    """What to write to the MLflow run for a batch of the airad run's new events."""

    params: dict[str, str]
    tags: dict[str, str]
    metrics: tuple[MetricPoint, ...]
    status: MlflowStatus
    end_time_ms: int | None = None


def millis(at: float) -> int:
    """Unix seconds as MLflow's milliseconds."""
    return int(round(at * 1000))


def task_name(request: RunRequest) -> str:
    """A short name of the request's task: its name, competition, or file."""
    task = request.task
    for field in ("name", "competition", "train", "path"):
        value = getattr(task, field, None)
        if value:
            return str(value)
    return ""


def run_params(request: RunRequest) -> dict[str, str]:
    """The run's MLflow params: what was asked for."""
    return {
        "task": task_name(request),
        "task_kind": str(request.task.__struct_config__.tag),
        "policy": policy_kind(request.policy),
        "model": request.model.name,
        "seed": str(request.seed),
        "executor": str(request.executor.__struct_config__.tag),
        "max_nodes": str(request.budget.max_nodes),
    } | ({"domain": request.domain} if request.domain else {})


def run_tags(state: RunState) -> dict[str, str]:
    """The run's MLflow tags now: identity, labels, status, and the cursor of the last event mirrored."""
    tags = {RUN_ID_TAG: state.run_id, "airad.status": state.status, CURSOR_TAG: str(state.last_seq)}
    if state.request is not None:
        tags.update({LABEL_PREFIX + key: value for key, value in state.request.labels.items()})
    if state.metric:
        tags["airad.metric"] = state.metric
        tags["airad.lower_is_better"] = str(state.lower_is_better).lower()
    if state.finish_reason or state.rejection:
        tags["airad.finish_reason"] = state.finish_reason or state.rejection
    if state.best_node_id is not None:
        tags["airad.best_node_id"] = str(state.best_node_id)
    return tags


def node_metrics(node: Node, timestamp_ms: int) -> list[MetricPoint]:
    """A finished node's metrics at step = its id: validation score (valid nodes only), held-out
    test score (its own metric), cost, tokens, whether it is buggy, exit code and duration."""
    values: dict[str, float | None] = {
        "validation_score": node.score if node.valid else None,
        "test_score": node.test_score,
        "cost_usd": node.cost_usd,
        "tokens": float(node.tokens),
        "buggy": float(node.buggy),
        "exit_code": None if node.exit_code is None else float(node.exit_code),
        "duration_s": node.duration_s,
    }
    return [MetricPoint(key, value, node.id, timestamp_ms) for key, value in values.items() if value is not None]


def final_metrics(state: RunState, timestamp_ms: int) -> list[MetricPoint]:
    """The finished run's best node (chosen by validation) and totals, at step 0."""
    best = state.nodes[state.best_node_id] if state.best_node_id is not None else None
    values: dict[str, float | None] = {
        "best_validation_score": best.score if best else None,
        "best_test_score": best.test_score if best else None,
        "total_cost_usd": state.cost_usd,
        "total_tokens": float(state.tokens),
        "nodes": float(len(state.nodes)),
        "buggy_nodes": float(sum(1 for n in state.nodes if n.buggy)),
    }
    return [MetricPoint(key, value, 0, timestamp_ms) for key, value in values.items() if value is not None]


def mlflow_status(state: RunState) -> MlflowStatus:
    """RUNNING until the run ends; FAILED for a rejected run or one ended by an error; KILLED when cancelled."""
    if state.status == "rejected" or state.finish_reason == "error":
        return "FAILED"
    if state.status == "finished":
        return "KILLED" if state.finish_reason == "cancelled" else "FINISHED"
    return "RUNNING"


def mirror(state: RunState, new_events: Sequence[Event]) -> Mirror:
    """What to write for `new_events`, the run's events not mirrored yet; `state` is the fold of all
    its events up to the last of them. A node's metrics are written with the event that ends it
    (`node.tested` or `node.failed`), so each point is written once."""
    params: dict[str, str] = {}
    metrics: list[MetricPoint] = []
    end_time_ms = None
    for event in new_events:
        match event:
            case RunSubmitted():
                params = run_params(event.request)
            case NodeTested() | NodeFailed():
                metrics += node_metrics(state.nodes[event.node_id], millis(event.at))
            case RunFinished():
                metrics += final_metrics(state, millis(event.at))
                end_time_ms = millis(event.at)
            case RunRejected():
                end_time_ms = millis(event.at)
    return Mirror(params, run_tags(state), tuple(metrics), mlflow_status(state), end_time_ms)
