"""A run's search tree as one standalone HTML page: inline CSS and JS, no network, no server.

The tree is static nested lists, one `.node` element per node carrying `data-node-id`,
`data-operator`, `data-status` and `data-score`; a node with several parents (crossover)
hangs under its first one and names the others. The script only adds the detail panel:
clicking a node (or opening `tree.html#node-N`) shows its plan, code and output tail.
"""

from __future__ import annotations

import html
import json

from airad.events.fold import Node, RunState

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 10px 16px; background: #f3f4f6; border-bottom: 1px solid #ddd; }
header h1 { font-size: 18px; margin: 0 0 4px; }
main { display: flex; align-items: flex-start; }
#tree { flex: 1 1 45%; padding: 12px; overflow: auto; max-height: calc(100vh - 80px); }
#details { flex: 1 1 55%; padding: 12px; border-left: 1px solid #ddd; overflow: auto; max-height: calc(100vh - 80px); }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 22px; }
ul.tree { padding-left: 0; }
ul.tree li { position: relative; margin: 4px 0; }
ul.tree ul li::before { content: ""; position: absolute; left: -14px; top: -4px; width: 12px; height: 18px;
  border-left: 1px solid #999; border-bottom: 1px solid #999; }
ul.tree ul li:not(:last-child)::after { content: ""; position: absolute; left: -14px; top: 14px; bottom: -4px;
  border-left: 1px solid #999; }
.node { display: inline-block; padding: 2px 8px; border: 1px solid #999; border-radius: 4px; cursor: pointer;
  background: #fff; }
.node:hover, .node:focus { outline: 2px solid #60a5fa; }
.node.selected { outline: 2px solid #2563eb; }
.node.status-valid { background: #dcfce7; border-color: #16a34a; }
.node.status-buggy, .node.status-failed { background: #fee2e2; border-color: #dc2626; }
.node.status-cancelled { background: #f3f4f6; border-color: #6b7280; border-style: dashed; }
.node.best { font-weight: bold; box-shadow: 0 0 0 2px #f59e0b; }
.node .op { color: #555; }
.node .also { color: #777; font-size: 12px; }
pre { background: #f8f8f8; border: 1px solid #e5e5e5; padding: 8px; white-space: pre-wrap; word-break: break-word; }
"""

_JS = """
(function () {
  var data = JSON.parse(document.getElementById("airad-nodes").textContent);
  var byId = {};
  data.nodes.forEach(function (n) { byId[String(n.id)] = n; });
  function text(id, value) { document.getElementById(id).textContent = value; }
  function show(id) {
    var n = byId[String(id)];
    if (!n) { return; }
    document.querySelectorAll(".node.selected").forEach(function (el) { el.classList.remove("selected"); });
    var box = document.querySelector('.node[data-node-id="' + n.id + '"]');
    if (box) { box.classList.add("selected"); }
    document.getElementById("details").setAttribute("data-shown-node", String(n.id));
    text("detail-title", "node " + n.id + ": " + n.operator + " (" + n.status + ")");
    text("detail-meta", n.meta);
    text("detail-plan", n.plan || "(none)");
    text("detail-code", n.code || "(none)");
    text("detail-output", n.output || "(none)");
  }
  document.querySelectorAll(".node").forEach(function (el) {
    el.addEventListener("click", function () {
      var id = el.getAttribute("data-node-id");
      show(id);
      history.replaceState(null, "", "#node-" + id);
    });
    el.addEventListener("keydown", function (e) { if (e.key === "Enter") { el.click(); } });
  });
  var match = /^#node-(\\d+)$/.exec(location.hash);
  var first = match ? match[1] : data.best;
  if (first === null && data.nodes.length) { first = data.nodes[0].id; }
  if (first !== null) { show(first); }
})();
"""


def node_status(node: Node) -> str:
    """valid, buggy, failed, cancelled (stopped in flight by a cancel), or the step an unfinished node has reached."""
    if node.cancelled:
        return "cancelled"
    if node.status == "failed":
        return "failed"
    if node.status == "scored":
        return "valid" if node.valid else "buggy"
    return node.status


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.5g}"


def _children(state: RunState) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {node.id: [] for node in state.nodes}
    for node in state.nodes:
        if node.parent_ids and node.parent_ids[0] in children:
            children[node.parent_ids[0]].append(node.id)
    return children


def _node_box(node: Node, best_id: int | None) -> str:
    status = node_status(node)
    score = _score(node.score if node.valid else None)
    classes = f"node status-{status}" + (" best" if node.id == best_id else "")
    also = "".join(f' <span class="also">+#{p}</span>' for p in node.parent_ids[1:])
    return (
        f'<div class="{classes}" tabindex="0" data-node-id="{node.id}" data-operator="{node.operator}" '
        f'data-status="{status}" data-score="{score}">'
        f'<span class="id">#{node.id}</span> <span class="op">{node.operator}</span> '
        f'<span class="status">{status}</span> <span class="score">{score}</span>{also}</div>'
    )


def _tree(state: RunState, best_id: int | None) -> str:
    children = _children(state)
    roots = [n.id for n in state.nodes if not n.parent_ids or n.parent_ids[0] not in children]
    parts = ['<ul class="tree">']
    stack: list[tuple[str, int | str]] = [("node", r) for r in reversed(roots)]
    while stack:
        kind, value = stack.pop()
        if kind == "close":
            parts.append(str(value))
            continue
        parts.append("<li>" + _node_box(state.nodes[int(value)], best_id))
        kids = children[int(value)]
        if kids:
            parts.append("<ul>")
            stack.append(("close", "</ul></li>"))
            stack.extend(("node", k) for k in reversed(kids))
        else:
            parts.append("</li>")
    parts.append("</ul>")
    return "".join(parts)


def _meta(state: RunState, node: Node) -> str:
    parents = ", ".join(f"#{p}" for p in node.parent_ids) or "none"
    problem = node.failure or node.score_error
    meta = (
        f"parents {parents}; validation {state.metric or 'score'} {_score(node.score if node.valid else None)}, "
        f"held-out test {_score(node.test_score)}; exit {node.exit_code}, "
        f"{node.duration_s or 0:.1f} s, {node.tokens} tokens, ${node.cost_usd:.4f}"
    )
    return meta + (f"; problem: {problem}" if problem else "")


def _script_json(value) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_tree(state: RunState, best_id: int | None = None) -> str:
    """The standalone HTML page of a run's search tree; `best_id` marks the chosen node (default: by validation)."""
    if best_id is None:
        best = state.best_node()
        best_id = best.id if best else None
    data = {
        "best": best_id,
        "nodes": [
            {
                "id": n.id,
                "operator": n.operator,
                "status": node_status(n),
                "meta": _meta(state, n),
                "plan": n.plan,
                "code": n.code,
                "output": (n.stdout_tail + n.stderr_tail).rstrip(),
            }
            for n in state.nodes
        ],
    }
    request = state.request
    task = getattr(request.task, "name", "") if request else ""
    direction = "lower is better" if state.lower_is_better else "higher is better"
    summary = (
        f"task {task or '?'}; {len(state.nodes)} nodes; status {state.status}"
        + (f" ({state.finish_reason})" if state.finish_reason else "")
        + (f"; metric {state.metric} ({direction})" if state.metric else "")
        + (f"; best node #{best_id}" if best_id is not None else "; no valid node")
    )
    title = html.escape(f"airad run {state.run_id}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{title}</h1><div id="summary">{html.escape(summary)}</div></header>'
        f'<main><section id="tree">{_tree(state, best_id)}</section>'
        '<aside id="details"><h2 id="detail-title">click a node</h2><div id="detail-meta"></div>'
        '<h3>plan</h3><pre id="detail-plan"></pre><h3>code</h3><pre id="detail-code"></pre>'
        '<h3>output (tail)</h3><pre id="detail-output"></pre></aside></main>'
        f'<script type="application/json" id="airad-nodes">{_script_json(data)}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )
