"""The contract every policy keeps, built-in or a plugin's, as plain checks a test calls: for a range
of run views it decides an operator it declared, on parent nodes that exist and have finished, and
the same view and seed always give the same decision, whatever the process's shared random state;
it never debugs a node that has no script (its generation failed).

`check_policy(plugin, params)` raises AssertionError naming the view and what broke; a plugin's own
tests call it (docs/extending.md), and tests/contract runs it on every built-in policy.
"""

from __future__ import annotations

import random

from airad.agents.plugin_api import PolicyPlugin
from airad.agents.policy_view import NodeView, PolicyView


def _node(
    node_id: int,
    operator: str,
    parents: tuple[int, ...],
    score: float | None,
    done: bool = True,
    code: str = "print(1)\n",
) -> NodeView:
    buggy = done and score is None
    return NodeView(node_id, operator, parents, (), done, buggy, score, f"plan {node_id}", code, "", 0)


def _with_children(nodes: list[NodeView], lower_is_better: bool) -> PolicyView:
    children: dict[int, list[int]] = {n.id: [] for n in nodes}
    for n in nodes:
        for parent in n.parent_ids:
            children[parent].append(n.id)
    linked = tuple(
        NodeView(**{**{f: getattr(n, f) for f in n.__struct_fields__}, "children": tuple(children[n.id])})
        for n in nodes
    )
    return PolicyView(nodes=linked, lower_is_better=lower_is_better, decisions=len(linked))


def sample_views() -> dict[str, PolicyView]:
    """Run views a policy meets: empty, drafting, all buggy, failed generations (no script), a scored
    tree either way of better."""
    drafts = [_node(0, "draft", (), 0.71), _node(1, "draft", (), None), _node(2, "draft", (), 0.78)]
    tree = drafts + [_node(3, "improve", (2,), 0.8), _node(4, "debug", (1,), 0.6), _node(5, "improve", (3,), None)]
    tree += [_node(i, "improve", (i - 3,), 0.7 + i / 100) for i in range(6, 12)]
    return {
        "empty": PolicyView(nodes=(), lower_is_better=False, decisions=0),
        "one draft": _with_children(drafts[:1], False),
        "all buggy": _with_children([_node(i, "draft", (), None) for i in range(6)], False),
        "no script": _with_children([_node(i, "draft", (), None, code="") for i in range(6)], False),
        "one scored, failed generations": _with_children(
            drafts[:1] + [_node(i, "improve", (0,), None, code="") for i in range(1, 3)], False
        ),
        "tree, higher is better": _with_children(tree, False),
        "tree, lower is better": _with_children(tree, True),
        "one in flight": _with_children(drafts + [_node(3, "improve", (2,), None, done=False)], False),
    }


def check_policy(plugin: PolicyPlugin, params: object, seeds: range = range(5)) -> None:
    """Check `plugin.decide` with `params` on every sample view and seed (see the module's docstring)."""
    for name, view in sample_views().items():
        for seed in seeds:
            random.seed(seed)
            first = plugin.decide(params, view, random.Random(f"{seed}:{view.decisions}"))
            random.seed(seed + 1000)
            again = plugin.decide(params, view, random.Random(f"{seed}:{view.decisions}"))
            assert first == again, f"{name}, seed {seed}: {first} then {again} for the same view and seed"
            operator, parents = first
            assert operator in plugin.operators, f"{name}: {operator!r} is not among its operators {plugin.operators}"
            for parent in parents:
                assert 0 <= parent < len(view.nodes), f"{name}: parent {parent} is not a node of the run"
                assert view.nodes[parent].done, f"{name}: parent {parent} has not finished"
                if operator == "debug":
                    assert view.nodes[parent].code.strip(), f"{name}: debugs node {parent}, which has no script"
