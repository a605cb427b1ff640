"""How the CLI prints runs, nodes and events for people (tables) and programs (--json)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import msgspec

from airad.events.fold import Node, RunState
from airad.events.log import RunSummary
from airad.reports.report import Stat
from airad.schemas.events import Event, event_tag
from airad.schemas.policies import policy_kind
from airad.schemas.request import task_label


def fmt_score(value: float | None) -> str:
    """A score to 5 significant digits, '-' when absent."""
    return "-" if value is None else f"{value:.5g}"


def shorten(text: str, width: int = 160) -> str:
    """`text` on one line, at most `width` characters: cut from the middle, so that both what failed
    (the start) and why (the end) stay."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = (width - 3) // 2
    return f"{text[:head]} … {text[-(width - 3 - head) :]}"


def node_line(node: Node, metric: str) -> str:
    """One progress line for a finished node."""
    parents = f"<-{','.join(map(str, node.parent_ids))}" if node.parent_ids else ""
    if node.status == "failed":
        outcome = f"failed  {shorten(node.failure)}"
    elif node.buggy:
        if node.killed:
            outcome = f"buggy   stopped: {shorten(node.killed)}"
        elif node.oom:
            outcome = "buggy   out of memory"
        elif node.timed_out:
            outcome = "buggy   timed out"
        elif node.exit_code:
            outcome = f"buggy   exit {node.exit_code}: {shorten(last_line(node.stderr_tail))}"
        else:
            outcome = f"buggy   {shorten(node.score_error)}"
    else:
        outcome = f"valid {metric} {fmt_score(node.score)}"
    duration = f"{node.duration_s:.1f}s" if node.duration_s is not None else ""
    if node.cached_from is not None:
        duration = f"cached from node {node.cached_from}"
    return f"  node {node.id:>3}  {node.operator:<7} {parents:<6} {outcome}  {duration}".rstrip()


def last_line(text: str) -> str:
    """The last non-blank line of some output (a traceback's error line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def final_report(state: RunState) -> str:
    """The closing lines of `airad run` / `submit --wait`."""
    if state.status == "rejected":
        return f"run {state.run_id} rejected: {state.rejection}"
    lines = [f"run {state.run_id} finished ({state.finish_reason}): {node_counts(state)}, cost ${state.cost_usd:.4f}"]
    if state.finish_reason in ("model", "error"):
        lines.append(f"why: {state.finish_detail}")
    best = state.best_node()
    if best is None:
        lines.append("no valid node")
    else:
        lines.append(
            f"best node {best.id} ({best.operator}): validation {state.metric} {fmt_score(best.score)}, "
            f"held-out test {state.metric} {fmt_score(best.test_score)}"
        )
    if state.nodes and state.nodes[0].operator == "baseline":
        start = state.nodes[0]
        outcome = f"validation {state.metric} {fmt_score(start.score)}" if start.valid else "no valid score"
        lines.append(f"started from the user's script (node 0): {outcome}")
    if state.baselines:
        lines.append(baselines_line(state))
    return "\n".join(lines)


def baselines_line(state: RunState) -> str:
    """The harness's reference baselines on the run's split, validation / held-out test:
    `baselines (validation / test roc_auc): positive rate 0.5 / 0.5, gradient boosting 0.95181 / 0.99457`."""
    shown = [
        f"{b.name} (not scored: {b.error})" if b.error else f"{b.name} {fmt_score(b.validation)} / {fmt_score(b.test)}"
        for b in state.baselines or ()
    ]
    return f"baselines (validation / test {state.metric}): " + ", ".join(shown)


def node_counts(state: RunState) -> str:
    """'5 nodes, 2 buggy' and, when the run was cancelled with nodes in flight, ', 1 cancelled' (never buggy)."""
    buggy = sum(1 for n in state.nodes if n.buggy)
    cancelled = sum(1 for n in state.nodes if n.cancelled)
    return f"{len(state.nodes)} nodes, {buggy} buggy" + (f", {cancelled} cancelled" if cancelled else "")


def runs_table(summaries: Sequence[RunSummary], now: float | None = None) -> str:
    """The `airad runs` table."""
    now = time.time() if now is None else now
    domains = any(s.domain for s in summaries)  # the column only when some run names a domain
    header = (
        "RUN",
        "STATUS",
        "TASK",
        *(("DOMAIN",) if domains else ()),
        "POLICY",
        "NODES",
        "BUGGY",
        "BEST VALID",
        "TEST",
        "COST",
        "AGE",
    )
    rows = [header]
    for s in summaries:
        since = age(now - s.submitted_at) if s.submitted_at else "-"
        rows.append(
            (
                s.run_id,
                s.status + (f" ({s.finish_reason})" if s.finish_reason else ""),
                s.task,
                *((s.domain or "-",) if domains else ()),
                s.policy,
                str(s.nodes),
                str(s.buggy) + (f" (+{s.cancelled} cancelled)" if s.cancelled else ""),
                fmt_score(s.best_score),
                fmt_score(s.best_test_score),
                f"${s.cost_usd:.2f}",
                since,
            )
        )
    return _table(rows)


def _ran_for(node: Node, long: bool = False) -> str:
    """How long the node's script ran: seconds, "-" before it ran, or the node its result was cached from."""
    if node.cached_from is not None:
        return f"not run: cached from node {node.cached_from}" if long else f"={node.cached_from}"
    if node.duration_s is None:
        return "0.0 s" if long else "-"
    return f"{node.duration_s:.1f} s" if long else f"{node.duration_s:.1f}"


def nodes_table(state: RunState) -> str:
    """The node table of `airad show`."""
    rows = [("NODE", "OPERATOR", "PARENTS", "STATUS", "VALID", "TEST", "EXIT", "SECONDS", "PLAN")]
    for n in state.nodes:
        status = node_state(n)
        plan = " ".join(n.plan.split())[:60]
        rows.append(
            (
                str(n.id),
                n.operator,
                ",".join(map(str, n.parent_ids)) or "-",
                status,
                fmt_score(n.score if n.valid else None),
                fmt_score(n.test_score),
                "-" if n.exit_code is None else str(n.exit_code),
                _ran_for(n),
                plan,
            )
        )
    return _table(rows)


def node_state(node: Node) -> str:
    """A node's status in `airad show`: the fold's, with 'buggy' for a scored node the harness found invalid
    and 'cancelled' for one stopped because its run was cancelled."""
    if node.cancelled:
        return "cancelled"
    return "buggy" if node.buggy and node.status != "failed" else node.status


def show_header(state: RunState) -> str:
    """The lines above the node table in `airad show`."""
    request = state.request
    ended = f" ({state.finish_reason or state.rejection})" if state.terminal else ""
    lines = [f"run {state.run_id}: {state.status}{ended}"]
    if request is not None:
        lines.append(
            f"task {task_label(request.task)}, policy {policy_kind(request.policy)}, "
            f"model {request.model.name}, seed {request.seed}, budget {request.budget.max_nodes} nodes"
        )
    if state.nodes:
        lines.append(node_counts(state))
    best = state.best_node()
    if best is not None:
        lines.append(f"best node {best.id}: validation {fmt_score(best.score)}, test {fmt_score(best.test_score)}")
    if state.baselines:
        lines.append(baselines_line(state))
    return "\n".join(lines)


def node_detail(state: RunState, node_id: int, answers: Mapping[str, str] | None = None) -> str:
    """Everything about one node: outcome, every answer the model gave (with its text, from `answers`:
    completion ref -> text, for the answers that were not used), plan, the model's review, the script
    and its output."""
    node = state.nodes[node_id]
    parents = ", ".join(map(str, node.parent_ids)) or "-"
    lines = [
        f"node {node.id} of run {state.run_id}: {node.operator} (parents {parents}), {node_state(node)}",
        f"validation {state.metric} {fmt_score(node.score if node.valid else None)}, "
        f"held-out test {fmt_score(node.test_score)}, "
        f"exit {node.exit_code}, {_ran_for(node, long=True)}, {node.tokens} tokens, ${node.cost_usd:.4f}",
    ]
    if node.failure or node.score_error:
        lines.append(f"problem: {node.failure or node.score_error}")
    if node.medal_thresholds:
        thresholds = ", ".join(f"{name} {value:.5g}" for name, value in node.medal_thresholds.items())
        verdict = f"{node.medal} medal" if node.medal else "no medal"
        median = "above" if node.above_median else "not above"
        lines.append(f"grading (held-out test): {verdict}, {median} the median; thresholds: {thresholds}")
    if node.handle:
        lines.append(f"job: {node.handle}")
    lines += model_calls(node, answers or {})
    if node.analyzed and node.analysis:
        lines.append(
            f"model's review (not trusted over the harness): {node.analysis} "
            f"[reported metric {fmt_score(node.reported_metric)}]"
        )
    elif node.analyzed:
        lines.append("model's review: none (its answer to the analyze prompt was not a review)")
    lines += ["", "plan:", node.plan or "(none)", "", "code:", node.code or "(none)"]
    if node.stdout_tail or node.stderr_tail:
        lines += ["output (tail):", (node.stdout_tail + node.stderr_tail).rstrip()]
    return "\n".join(lines)


def model_calls(node: Node, answers: Mapping[str, str], lines_each: int = 20) -> list[str]:
    """One line per answer the model gave for the node (why it stopped, its size, its time, why it was
    not used), each unused answer's text below it (its first `lines_each` lines)."""
    if not node.calls:
        return []
    lines = [f"model answers: {len(node.calls)} in {node.llm_seconds:.1f} s"]
    for number, call in enumerate(node.calls, 1):
        outcome = call.problem or "used"
        lines.append(
            f"  {number}. finish {call.finish_reason or '?'}, {call.completion_tokens} of {call.max_tokens} tokens, "
            f"{call.seconds:.1f} s: {outcome} [{call.completion_ref}]"
        )
        text = answers.get(call.completion_ref)
        if call.problem and text is not None:
            body = text.splitlines() or ["(empty)"]
            more = [f"     … {len(body) - lines_each} more lines"] if len(body) > lines_each else []
            lines += [f"     | {line}" for line in body[:lines_each]] + more
    return lines


def fmt_stat(stat: Stat) -> str:
    """'mean ± sem (n=3)'; 'mean ± — (n=1)' when one run has the value (one value has no spread); '-' when none has."""
    if stat.mean is None:
        return "-"
    spread = "—" if stat.sem is None else f"{stat.sem:.2g}"
    return f"{stat.mean:.4g} ± {spread} (n={stat.n})"


def bundled_task_rows() -> list[dict]:
    """One row of facts per bundled task, for `airad tasks`."""
    from airad.tasks.bundled import DATASETS, dataset_facts

    return [msgspec.structs.asdict(dataset_facts(d)) for d in DATASETS.values()]


def metric_rows() -> list[dict]:
    """One row per metric a user task may name, for `airad tasks --metrics`."""
    from airad.tasks.metrics import METRICS

    return [
        {
            "name": m.name,
            "kind": "classification" if m.classification else "regression",
            "lower_is_better": m.lower_is_better,
            "predicts": "probability of 1" if m.probabilities else "label" if m.classification else "number",
        }
        for m in METRICS.values()
    ]


def tasks_table(rows: list[dict], *, metrics: bool) -> str:
    """The bundled tasks (or the metrics) as an aligned table."""
    columns = (
        ("name", "kind", "direction", "predicts")
        if metrics
        else ("name", "kind", "metric", "direction", "rows", "features", "categorical", "missing", "title")
    )
    return _table([tuple(c.upper() for c in columns), *(tuple(_cell(row, c) for c in columns) for row in rows)])


def mlebench_table(rows: list[dict]) -> str:
    """MLE-bench competitions: metric, ready or why not, medals; then how many are ready."""
    lines = [("COMPETITION", "METRIC", "MEDALS", "STATUS")]
    lines += [(r["competition"], r["metric"], "yes" if r["medals"] else "no", r["status"]) for r in rows]
    ready = sum(r["status"] == "ready" for r in rows)
    return _table(lines) + f"\n{ready} of {len(rows)} ready (--toml prints them as [[tasks]] for an experiment file)"


def _cell(row: dict, column: str) -> str:
    if column == "direction":
        return "lower is better" if row["lower_is_better"] else "higher is better"
    value = row[column]
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


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


def age(seconds: float) -> str:
    """A duration as people read an age: '42s', '5m', '3h', '2d'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def table(rows: Sequence[tuple[str, ...]]) -> str:
    """Rows of cells in aligned columns (the first row is the header), for other command modules."""
    return _table(rows)


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)
