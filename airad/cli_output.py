"""How the CLI prints runs, nodes and events for people (tables) and programs (--json)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from airad.events.fold import Node, RunState
from airad.events.log import RunSummary
from airad.schemas.events import Event, event_tag
from airad.schemas.policies import policy_kind


def fmt_score(value: float | None) -> str:
    """A score to 5 significant digits, '-' when absent."""
    return "-" if value is None else f"{value:.5g}"


def node_line(node: Node, metric: str) -> str:
    """One progress line for a finished node."""
    parents = f"<-{','.join(map(str, node.parent_ids))}" if node.parent_ids else ""
    if node.status == "failed":
        outcome = f"failed  {node.failure[:70]}"
    elif node.buggy:
        if node.killed:
            outcome = f"buggy   stopped: {node.killed[:60]}"
        elif node.oom:
            outcome = "buggy   out of memory"
        elif node.timed_out:
            outcome = "buggy   timed out"
        elif node.exit_code:
            outcome = f"buggy   exit {node.exit_code}: {last_line(node.stderr_tail)[:70]}"
        else:
            outcome = f"buggy   {node.score_error[:70]}"
    else:
        outcome = f"valid {metric} {fmt_score(node.score)}"
    duration = f"{node.duration_s:.1f}s" if node.duration_s is not None else ""
    return f"  node {node.id:>3}  {node.operator:<7} {parents:<6} {outcome}  {duration}".rstrip()


def last_line(text: str) -> str:
    """The last non-blank line of some output (a traceback's error line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def final_report(state: RunState) -> str:
    """The closing lines of `airad run` / `submit --wait`."""
    if state.status == "rejected":
        return f"run {state.run_id} rejected: {state.rejection}"
    buggy = sum(1 for n in state.nodes if n.buggy)
    lines = [f"run {state.run_id} finished ({state.finish_reason}): {len(state.nodes)} nodes, {buggy} buggy, cost ${state.cost_usd:.4f}"]
    best = state.best_node()
    if best is None:
        lines.append("no valid node")
    else:
        lines.append(
            f"best node {best.id} ({best.operator}): validation {state.metric} {fmt_score(best.score)}, "
            f"held-out test {state.metric} {fmt_score(best.test_score)}"
        )
    return "\n".join(lines)


def runs_table(summaries: Sequence[RunSummary], now: float | None = None) -> str:
    """The `airad runs` table."""
    now = time.time() if now is None else now
    rows = [("RUN", "STATUS", "TASK", "POLICY", "NODES", "BUGGY", "BEST VALID", "TEST", "COST", "AGE")]
    for s in summaries:
        age = _age(now - s.submitted_at) if s.submitted_at else "-"
        rows.append((
            s.run_id, s.status + (f" ({s.finish_reason})" if s.finish_reason else ""), s.task, s.policy,
            str(s.nodes), str(s.buggy), fmt_score(s.best_score), fmt_score(s.best_test_score),
            f"${s.cost_usd:.2f}", age,
        ))
    return _table(rows)


def nodes_table(state: RunState) -> str:
    """The node table of `airad show`."""
    rows = [("NODE", "OPERATOR", "PARENTS", "STATUS", "VALID", "TEST", "EXIT", "SECONDS", "PLAN")]
    for n in state.nodes:
        status = "buggy" if n.buggy else n.status
        plan = " ".join(n.plan.split())[:60]
        rows.append((
            str(n.id), n.operator, ",".join(map(str, n.parent_ids)) or "-", status, fmt_score(n.score if n.valid else None),
            fmt_score(n.test_score), "-" if n.exit_code is None else str(n.exit_code),
            "-" if n.duration_s is None else f"{n.duration_s:.1f}", plan,
        ))
    return _table(rows)


def show_header(state: RunState) -> str:
    """The lines above the node table in `airad show`."""
    request = state.request
    lines = [f"run {state.run_id}: {state.status}" + (f" ({state.finish_reason or state.rejection})" if state.terminal else "")]
    if request is not None:
        lines.append(
            f"task {getattr(request.task, 'name', '?')}, policy {policy_kind(request.policy)}, "
            f"model {request.model.name}, seed {request.seed}, budget {request.budget.max_nodes} nodes"
        )
    best = state.best_node()
    if best is not None:
        lines.append(f"best node {best.id}: validation {fmt_score(best.score)}, test {fmt_score(best.test_score)}")
    return "\n".join(lines)


def node_detail(state: RunState, node_id: int) -> str:
    """Everything about one node: outcome, plan, the model's review, the script and its output."""
    node = state.nodes[node_id]
    parents = ", ".join(map(str, node.parent_ids)) or "-"
    lines = [
        f"node {node.id} of run {state.run_id}: {node.operator} (parents {parents}), {'buggy' if node.buggy else node.status}",
        f"validation {state.metric} {fmt_score(node.score if node.valid else None)}, held-out test {fmt_score(node.test_score)}, "
        f"exit {node.exit_code}, {node.duration_s or 0:.1f} s, {node.tokens} tokens, ${node.cost_usd:.4f}",
    ]
    if node.failure or node.score_error:
        lines.append(f"problem: {node.failure or node.score_error}")
    if node.handle:
        lines.append(f"job: {node.handle}")
    if node.analyzed:
        lines.append(f"model's review (not trusted over the harness): {node.analysis} [reported metric {fmt_score(node.reported_metric)}]")
    lines += ["", "plan:", node.plan or "(none)", "", "code:", node.code or "(none)"]
    if node.stdout_tail or node.stderr_tail:
        lines += ["output (tail):", (node.stdout_tail + node.stderr_tail).rstrip()]
    return "\n".join(lines)


def event_line(event: Event) -> str:
    """One human-readable line per event for `airad events`."""
    fields = msgspec.structs.asdict(event)
    for key in ("run_id", "seq", "at", "request", "code", "plan", "stdout_tail", "stderr_tail", "excerpt"):
        fields.pop(key, None)
    detail = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if v not in ("", None, {}, ()))
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    return f"{event.seq:>5}  {stamp}  {event_tag(event):<16} {detail}"


def to_json(value) -> str:
    """JSON text of any struct or builtin."""
    return msgspec.json.encode(value).decode()


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
