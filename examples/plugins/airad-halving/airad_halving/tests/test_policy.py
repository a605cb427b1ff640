"""The plugin's own tests, with plain pytest and hand-built views: no daemon, no NATS.

Run them with `python -m pytest -q examples/plugins/airad-halving/airad_halving/tests` (airad must be
importable).
"""

from __future__ import annotations

import random

import msgspec
import pytest
from airad.agents.plugin_api import OperatorPlugin, PolicyPlugin
from airad.agents.policy import decide
from airad.agents.policy_view import NodeView, PolicyView
from airad.agents.template_samples import sample_contexts
from airad.agents.templates import plugin_template_problem, render
from airad.daemon.template_sets import bundled_set
from airad.schemas.policies import PluginPolicy
from airad.testing.policy_contract import check_policy

from airad_halving import POLICY, SIMPLIFY, TEMPLATE, SuccessiveHalving, decide_halving


class Tree:
    """A hand-built run: `add` decides a node (with its result), `view` is what the policy sees."""

    def __init__(self, lower_is_better: bool = False):
        self.rows: list[dict] = []
        self.lower_is_better = lower_is_better

    def add(
        self,
        operator: str,
        parents: tuple[int, ...] = (),
        score: float | None = None,
        *,
        buggy: bool = False,
        done: bool = True,
    ) -> int:
        """A node decided now; `score` None with `buggy` False and `done` True: finished without a score."""
        self.rows.append({"operator": operator, "parents": parents, "score": score, "buggy": buggy, "done": done})
        return len(self.rows) - 1

    def add_decision(self, decision: tuple[str, tuple[int, ...]], score: float | None = None, **result) -> int:
        """The node the policy decided, with the result it got."""
        return self.add(decision[0], decision[1], score, **result)

    def view(self) -> PolicyView:
        nodes = []
        for node_id, row in enumerate(self.rows):
            children = tuple(i for i, other in enumerate(self.rows) if node_id in other["parents"])
            depth = 0
            if row["operator"] == "debug":
                depth = nodes[row["parents"][0]].debug_depth + 1
            nodes.append(
                NodeView(
                    id=node_id,
                    operator=row["operator"],
                    parent_ids=row["parents"],
                    children=children,
                    done=row["done"],
                    buggy=row["buggy"],
                    score=None if row["buggy"] or not row["done"] else row["score"],
                    plan=f"plan {node_id}",
                    code=f"print({node_id})\n",
                    error="Traceback: boom" if row["buggy"] else "",
                    debug_depth=depth,
                )
            )
        return PolicyView(nodes=tuple(nodes), lower_is_better=self.lower_is_better, decisions=len(nodes))


def step(tree: Tree, params: SuccessiveHalving, seed: int = 0) -> tuple[str, tuple[int, ...]]:
    """The policy's decision on the tree, through airad's own dispatch (as the daemon calls it)."""
    view = tree.view()
    policy = PluginPolicy(name="successive-halving", params=msgspec.to_builtins(params))
    action = decide(policy, view, seed, {POLICY.name: POLICY})
    return action.operator, action.parent_ids


def test_the_entry_point_objects():
    assert isinstance(POLICY, PolicyPlugin) and POLICY.name == "successive-halving"
    assert POLICY.operators == ("draft", "improve", "debug", "simplify")
    assert isinstance(SIMPLIFY, OperatorPlugin) and SIMPLIFY.name == "simplify"
    assert SIMPLIFY.parents == 1 and SIMPLIFY.offline_as == "improve" and SIMPLIFY.function is None


@pytest.mark.parametrize("params", [SuccessiveHalving(), SuccessiveHalving(drafts=2, keep=0.9, rounds=5)])
def test_the_policy_keeps_airads_policy_contract(params):
    check_policy(POLICY, params)


def test_parameters_are_checked_as_the_daemon_converts_them():
    assert msgspec.convert({"drafts": 3, "rounds": 1}, SuccessiveHalving) == SuccessiveHalving(3, 0.5, 1)
    for bad in ({"drafts": 1}, {"keep": 1.0}, {"keep": 0}, {"rounds": 0}, {"rungs": 3}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, SuccessiveHalving)


def test_it_drafts_exactly_the_number_of_drafts_first():
    params = SuccessiveHalving(drafts=5)
    tree = Tree()
    for n in range(5):
        assert step(tree, params) == ("draft", ())
        tree.add("draft", score=0.5 + n / 100)
    assert step(tree, params)[0] == "improve"


def test_the_same_view_and_seed_give_the_same_decision_and_the_rng_moves_nothing():
    params = SuccessiveHalving(drafts=4, rounds=2)
    tree = Tree()
    for score in (0.7, 0.9, 0.7, 0.8):
        tree.add("draft", score=score)
    view = tree.view()
    first = decide_halving(params, view, random.Random("3:4"))
    assert all(decide_halving(params, view, random.Random("3:4")) == first for _ in range(5))
    assert {step(tree, params, seed) for seed in range(20)} == {first}


def test_the_halving_schedule():
    """4 drafts, keep half, 2 rounds: improve the best 2 drafts, then the best 1 of those lineages,
    simplify the final best once, then keep improving the run's best."""
    params = SuccessiveHalving(drafts=4, keep=0.5, rounds=2)
    tree = Tree()
    d0, d1, d2, d3 = (tree.add("draft", score=s) for s in (0.70, 0.90, 0.60, 0.80))
    # round 1: the best ceil(0.5 * 4) = 2 drafts, best first
    assert step(tree, params) == ("improve", (d1,))
    i1 = tree.add("improve", (d1,), 0.88)  # worse than its parent: the lineage keeps d1
    assert step(tree, params) == ("improve", (d3,))
    i3 = tree.add("improve", (d3,), 0.95)
    # round 2: the best ceil(0.5 * 2) = 1 of the round's results {d1, i3}
    assert step(tree, params) == ("improve", (i3,))
    i3b = tree.add("improve", (i3,), 0.97)
    # rounds done: simplify the final best, once
    assert step(tree, params) == ("simplify", (i3b,))
    s = tree.add("simplify", (i3b,), 0.99)
    assert step(tree, params) == ("improve", (s,))
    tree.add("improve", (s,), 0.50)
    assert step(tree, params) == ("improve", (s,))
    parents = {parent for row in tree.rows for parent in row["parents"]}
    assert parents.isdisjoint({d0, d2, i1})


def test_a_lineage_that_stays_best_is_improved_again_next_round():
    params = SuccessiveHalving(drafts=3, keep=0.5, rounds=2)
    tree = Tree()
    for score in (0.8, 0.6, 0.7):
        tree.add("draft", score=score)
    tree.add_decision(step(tree, params), 0.75)  # improve 0: worse
    tree.add_decision(step(tree, params), 0.65)  # improve 2: worse
    # round 2: results are {0, 2}, kept ceil(0.5 * 2) = 1: node 0 again, its second improvement
    assert step(tree, params) == ("improve", (0,))
    tree.add("improve", (0,), 0.85)
    assert step(tree, params) == ("simplify", (5,))


def test_lower_is_better_ranks_the_other_way():
    params = SuccessiveHalving(drafts=3, keep=0.34, rounds=1)
    tree = Tree(lower_is_better=True)
    for score in (0.30, 0.10, 0.20):
        tree.add("draft", score=score)
    assert step(tree, params) == ("improve", (1,))


def test_ties_go_to_the_earliest_node():
    params = SuccessiveHalving(drafts=3, keep=0.34, rounds=1)
    tree = Tree()
    for score in (0.5, 0.9, 0.9):
        tree.add("draft", score=score)
    assert step(tree, params) == ("improve", (1,))


def test_a_buggy_node_is_never_improved_and_a_buggy_improvement_is_debugged_once():
    params = SuccessiveHalving(drafts=4, keep=0.5, rounds=1)
    tree = Tree()
    tree.add("draft", buggy=True)
    tree.add("draft", score=0.6)
    tree.add("draft", buggy=True)
    tree.add("draft", score=0.7)
    script = [  # (expected decision, its result)
        (("improve", (3,)), {"buggy": True}),  # the best of the 2 valid drafts; buggy drafts are out
        (("debug", (4,)), {"buggy": True}),  # its buggy improvement, debugged once
        (("simplify", (3,)), {"score": 0.72}),  # no second debug: the lineage stays at node 3
        (("improve", (6,)), {"buggy": True}),
        (("improve", (6,)), {"score": 0.71}),  # after the rounds: the best again, never the buggy node
        (("improve", (6,)), {"score": 0.73}),
        (("improve", (9,)), {}),
    ]
    for expected, result in script:
        decision = step(tree, params)
        assert decision == expected
        tree.add_decision(decision, result.get("score"), buggy=result.get("buggy", False))
    view = tree.view()
    for node in view.nodes:
        if node.operator in ("improve", "simplify"):
            assert not view.nodes[node.parent_ids[0]].buggy


def test_a_debug_fix_that_fails_too_leaves_the_lineage_at_its_parent():
    params = SuccessiveHalving(drafts=2, keep=0.5, rounds=1)
    tree = Tree()
    tree.add("draft", score=0.6)
    tree.add("draft", score=0.5)
    assert step(tree, params) == ("improve", (0,))
    tree.add("improve", (0,), buggy=True)
    assert step(tree, params) == ("debug", (2,))
    tree.add("debug", (2,), buggy=True)
    assert step(tree, params) == ("simplify", (0,))


def test_drafts_that_all_fail_are_followed_by_more_drafts_until_one_works():
    params = SuccessiveHalving(drafts=2, rounds=1)
    tree = Tree()
    tree.add("draft", buggy=True)
    tree.add("draft", buggy=True)
    assert step(tree, params) == ("draft", ())
    tree.add("draft", score=0.4)
    assert step(tree, params) == ("improve", (2,))


def test_a_wait_for_a_node_in_flight_drafts_an_extra_node_the_schedule_ignores():
    params = SuccessiveHalving(drafts=2, keep=0.5, rounds=1)
    tree = Tree()
    tree.add("draft", score=0.6)
    tree.add("draft", done=False)
    assert step(tree, params) == ("draft", ())
    tree.rows[1].update(done=True, score=0.7)
    tree.add("draft", score=0.99)  # the extra draft: not one of round 0's
    assert step(tree, params) == ("improve", (1,))


def test_the_view_has_no_test_score_to_read():
    assert not any("test" in field for field in NodeView.__struct_fields__)


def test_simplify_template_passes_the_daemons_check():
    templates = {**bundled_set("aira"), "simplify": TEMPLATE}
    assert plugin_template_problem(templates, "simplify", "improve") is None
    assert plugin_template_problem({**bundled_set("aide"), "simplify": TEMPLATE}, "simplify", "improve") is None


def test_simplify_renders_the_parent_and_the_output_contract():
    templates = {**bundled_set("aira"), "simplify": TEMPLATE}
    full, empty = sample_contexts("improve")
    for context in (full, empty):
        context = msgspec.structs.replace(context, operator="simplify")
        text = render(templates, "simplify", context)
        parent = context.parents[0]
        assert "# Your job: simplify" in text and f"(node {parent.id})" in text
        assert parent.code.strip() in text and context.output_contract in text
        assert context.time_limit in text
