"""A run in AIDE's shapes: `journal.json` as AIDE serialises its Journal, the chosen script, the tree page.

AIDE stores a journal as `{"nodes": [...], "node2parent": {child id: parent id}, "__version": "2"}`
with every node's `parent` null and `children` empty (the tree lives in `node2parent`). Each
node here has AIDE's fields, filled from the fold of the run's events:

| AIDE field | from airad |
| --- | --- |
| id | the node id as a string |
| step | the node id (its position in the journal) |
| ctime | when the policy selected the node |
| plan, code | as generated |
| _term_out | the full stdout and the full stderr from the blob store (the tails when a blob is absent) |
| exec_time | the run time of the script |
| exc_type | approximated (see below) |
| exc_info | `{"args": [why]}` for a node without a valid score (`buggy_reason`), else null |
| exc_stack | null (airad keeps no exception objects) |
| analysis | the model's review, else the harness's or the pipeline's complaint |
| metric | `{"value": validation score or null, "maximize": not lower_is_better}` (the harness's score) |
| is_buggy | true unless the harness scored the node's predictions as valid |

`exc_type` is the exception name on the last line of stderr when the script exited non-zero, else
`TimeoutError` / `MemoryError` / `Killed` / `ExitCode<n>`; null for a clean exit. `metric` is the
harness's score, not the model's.

A crossover node has several parents; `node2parent` names its first. Extra keys, which AIDE's
loader ignores, keep the rest: `airad` on each node (operator, all parents, children, status,
test score, and `buggy_reason`, the same reason as `exc_info`) and on the journal (run, task, metric,
chosen node). The reason is the harness's even when the model's review says otherwise: both are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from airad.events.fold import Node, RunState, fold
from airad.events.log import BlobStore, EventLog
from airad.reports.html_tree import node_status, render_tree
from airad.schemas.events import Event, NodeExecuted

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning|Stop\w*))\b")


def exception_name(stderr: str) -> str | None:
    """The exception class named by a traceback's last line, e.g. 'ValueError', if any."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    match = _EXCEPTION_LINE.match(lines[-1]) if lines else None
    return match.group(1).rsplit(".", 1)[-1] if match else None


def exc_type(node: Node) -> str | None:
    """AIDE's `exc_type` approximated from how the script ended."""
    if node.timed_out:
        return "TimeoutError"
    if node.oom:
        return "MemoryError"
    if node.killed:
        return "Killed"
    if node.exit_code in (None, 0):
        return None
    return exception_name(node.stderr_tail) or f"ExitCode{node.exit_code}"


def buggy_reason(node: Node) -> str | None:
    """Why a finished node has no valid score: the grader's error, else the pipeline's failure ("stage:
    reason"); None for a valid or unfinished node."""
    if not node.done or (node.status == "scored" and node.valid):
        return None
    return node.score_error or node.failure or None


def _children(state: RunState) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {node.id: [] for node in state.nodes}
    for node in state.nodes:
        for parent in node.parent_ids:
            children[parent].append(node.id)
    return children


def aide_node(state: RunState, node: Node, term_out: list[str], children: Sequence[int]) -> dict:
    """One node as AIDE serialises it, plus an `airad` key AIDE's loader ignores."""
    valid = node.status == "scored" and bool(node.valid)
    reason = buggy_reason(node)
    return {
        "code": node.code,
        "plan": node.plan,
        "step": node.id,
        "id": str(node.id),
        "ctime": node.selected_at,
        "parent": None,
        "children": [],
        "_term_out": term_out,
        "exec_time": node.duration_s,
        "exc_type": exc_type(node),
        "exc_info": {"args": [reason]} if reason else None,
        "exc_stack": None,
        "analysis": node.analysis or node.failure or node.score_error or None,
        "metric": {
            "value": node.score if valid else None,
            "maximize": not state.lower_is_better if state.metric else None,
        },
        "is_buggy": not valid,
        "airad": {
            "operator": node.operator,
            "parent_ids": list(node.parent_ids),
            "children_ids": list(children),
            "status": node_status(node),
            "test_score": node.test_score,
            "model": node.model,
            "cost_usd": node.cost_usd,
            "buggy_reason": reason,
        },
    }


def aide_journal(state: RunState, term_outs: dict[int, list[str]] | None = None) -> dict:
    """The journal of a run as AIDE's `dumps_json` would write it; `term_outs` by node id (default: the tails)."""
    term_outs = term_outs or {}
    children = _children(state)
    nodes = [aide_node(state, n, term_outs.get(n.id, _tails(n)), children[n.id]) for n in state.nodes]
    request = state.request
    chosen = chosen_node(state)
    return {
        "nodes": nodes,
        "node2parent": {str(n.id): str(n.parent_ids[0]) for n in state.nodes if n.parent_ids},
        "__version": "2",
        "airad": {
            "run_id": state.run_id,
            "task": getattr(request.task, "name", "") if request else "",
            "status": state.status,
            "finish_reason": state.finish_reason,
            "metric": state.metric,
            "lower_is_better": state.lower_is_better,
            "best_node_id": chosen.id if chosen else None,
        },
    }


def _tails(node: Node) -> list[str]:
    return [text for text in (node.stdout_tail, node.stderr_tail) if text]


def chosen_node(state: RunState) -> Node | None:
    """The node chosen by validation: the one `run.finished` names, else the best valid one so far."""
    if state.best_node_id is not None:
        return state.nodes[state.best_node_id]
    return state.best_node()


async def full_outputs(events: Sequence[Event], blobs: BlobStore) -> dict[int, list[str]]:
    """Each executed node's full stdout and stderr from the blob store; absent blobs fall back to the tails."""
    outputs: dict[int, list[str]] = {}
    for event in events:
        if isinstance(event, NodeExecuted):
            parts = []
            for ref, tail in ((event.stdout_ref, event.stdout_tail), (event.stderr_ref, event.stderr_tail)):
                text = tail
                if ref:
                    try:
                        text = (await blobs.get(ref)).decode("utf-8", errors="replace")
                    except KeyError:
                        pass
                if text:
                    parts.append(text)
            outputs[event.node_id] = parts
    return outputs


async def export_aide(log: EventLog, blobs: BlobStore, run_id: str) -> dict[str, str]:
    """The files of an AIDE-style export by name: journal.json, tree.html, best_solution.py (when a node was chosen).

    LookupError when the run has no events.
    """
    events = await log.read(run_id)
    if not events:
        raise LookupError(f"no run {run_id!r} in the log")
    state = fold(events)
    chosen = chosen_node(state)
    files = {
        "journal.json": json.dumps(aide_journal(state, await full_outputs(events, blobs)), separators=(",", ":")),
        "tree.html": render_tree(state, chosen.id if chosen else None),
    }
    if chosen is not None:
        files["best_solution.py"] = chosen.code
    return files
