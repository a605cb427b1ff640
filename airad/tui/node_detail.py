"""The selected node in full: plan and grading, code, diff against its first parent, output tails."""

from __future__ import annotations

import difflib

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from airad.events.fold import Node, RunState
from airad.tui.labels import STATUS_STYLE, node_status, score

TABS = ("overview", "code", "diff", "output")


def overview(state: RunState, node: Node) -> Text:
    """Outcome, grading, model usage and cost, the model's review, then the plan."""
    status = node_status(node)
    parents = ",".join(map(str, node.parent_ids)) or "-"
    text = Text.assemble(
        (f"node {node.id}", "bold"), f" {node.operator} ← {parents}  ", (status, STATUS_STYLE.get(status, ""))
    )
    metric = state.metric or "score"
    text.append(f"\nvalidation {metric} {score(node.score if node.valid else None)}   test {score(node.test_score)}")
    if node.medal_thresholds or node.medal:
        median = "above median" if node.above_median else "not above median"
        text.append(f"   medal {node.medal or 'none'}, {median}")
    if node.model:
        text.append(f"\nmodel {node.model}   {node.tokens} tokens   ${node.cost_usd:.4f}")
    if node.calls:
        text.append(f"\nmodel answers: {len(node.calls)} in {node.llm_seconds:.1f} s")
        for number, call in enumerate(node.calls, 1):
            line = (
                f"\n  {number}. finish {call.finish_reason or '?'}, {call.completion_tokens}/{call.max_tokens} tokens, "
            )
            text.append(line + f"{call.seconds:.1f} s: ")
            text.append(call.problem or "used", style="red" if call.problem else "green")
    if node.exit_code is not None or node.duration_s is not None:
        text.append(f"\nexit {node.exit_code}   {node.duration_s or 0:.1f} s")
        for flag in ("timed out" if node.timed_out else "", "out of memory" if node.oom else "", node.killed or ""):
            if flag:
                text.append(f"   {flag}", style="red")
    if node.failure or node.score_error:
        text.append(f"\nproblem: {node.failure or node.score_error}", style="red")
    if node.analyzed:
        review = node.analysis or "none (the answer was not a review)"
        text.append(f"\nmodel's review: {review} (reported {score(node.reported_metric)})", style="italic")
    text.append("\n\nplan\n", style="bold")
    text.append(node.plan or "(not generated yet)")
    return text


def code_view(node: Node) -> RenderableType:
    """The node's script, highlighted."""
    if not node.code:
        return Text("(no code yet)", style="dim")
    return Syntax(node.code, "python", line_numbers=True, theme="ansi_dark", word_wrap=False)


def diff_view(state: RunState, node: Node) -> RenderableType:
    """A unified diff of the script against the first parent's."""
    if not node.parent_ids:
        return Text("a draft: no parent to compare with", style="dim")
    parent = state.nodes[node.parent_ids[0]]
    lines = difflib.unified_diff(
        parent.code.splitlines(), node.code.splitlines(), f"node {parent.id}", f"node {node.id}", lineterm=""
    )
    diff = "\n".join(lines)
    return Syntax(diff, "diff", theme="ansi_dark") if diff else Text("(same code as its parent)", style="dim")


def output_view(node: Node) -> Text:
    """The tails of stdout and stderr."""
    if node.exit_code is None and not node.stdout_tail and not node.stderr_tail:
        return Text("(not run yet)", style="dim")
    text = Text("stdout (tail)\n", style="bold")
    text.append(node.stdout_tail or "(empty)\n")
    text.append("\nstderr (tail)\n", style="bold")
    text.append(node.stderr_tail or "(empty)", style="red" if node.exit_code else "")
    return text


class NodeDetail(TabbedContent):
    """Tabs over one node; `show` redraws only when the node (or its parent) changed."""

    def __init__(self, **kwargs) -> None:
        super().__init__(initial="overview", **kwargs)
        for tab in TABS:
            self.compose_add_child(TabPane(tab, VerticalScroll(Static(id=f"{tab}-body")), id=tab))
        self._shown: tuple = ()

    def show(self, state: RunState, node_id: int | None) -> None:
        """Show node `node_id` of `state` (a hint when None)."""
        node = state.nodes[node_id] if node_id is not None and node_id < len(state.nodes) else None
        parent = state.nodes[node.parent_ids[0]] if node is not None and node.parent_ids else None
        key = (node, parent, state.metric, bool(state.nodes))
        if key == self._shown:
            return
        self._shown = key
        if node is None:
            hint = Text("no node yet" if not state.nodes else "move the cursor onto a node", style="dim")
            bodies: tuple[RenderableType, ...] = (hint, hint, hint, hint)
        else:
            bodies = (overview(state, node), code_view(node), diff_view(state, node), output_view(node))
        for tab, body in zip(TABS, bodies, strict=False):
            self.query_one(f"#{tab}-body", Static).update(body)
