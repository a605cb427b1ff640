"""Successive halving over drafts, as an airad search policy.

Round 0 drafts `drafts` solutions. Each later round takes the best `ceil(keep * n)` of the previous
round's `n` survivors (by validation score, in the task's direction; buggy nodes are out) and improves
each once; an improvement that turns out buggy is debugged once. A kept node's result for the round is
the best valid node of (itself, its improvement, the debug fix), so a lineage never gets worse and a
round never empties. After `rounds` rounds, the best survivor is simplified once (the `simplify`
operator), and from then on the run's single best node is improved until the budget ends.

The decision is a pure function of the view: the schedule is re-derived from the tree on every call
(which improvement belongs to which round follows from the order of a node's children), so it needs no
state of its own and replays exactly. It reads validation scores only; the view holds no test score.
Ties go to the earliest node, as `PolicyView.best()` breaks them: a draw from the per-decision RNG
could move a node in or out of a round from one decision to the next, so the RNG is not needed.

The policy is written for `parallel = 1`. With more nodes in flight, every step a round can take is
started at once; a decision that has to wait for a result drafts an extra solution, which the
schedule ignores.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Annotated

from airad.agents.policy_view import NodeView, PolicyView
from msgspec import Meta, Struct

Decision = tuple[str, tuple[int, ...]]
DRAFT: Decision = ("draft", ())


class SuccessiveHalving(Struct, frozen=True, forbid_unknown_fields=True, tag="successive-halving", tag_field="kind"):
    """The policy's parameters, as a request gives them:
    `policy = {kind = "successive-halving", drafts = 4, keep = 0.5, rounds = 2}`."""

    drafts: Annotated[int, Meta(ge=2, description="Drafts made first: round 0's candidates.")] = 4
    keep: Annotated[float, Meta(gt=0, lt=1, description="Fraction of a round's survivors kept for the next.")] = 0.5
    rounds: Annotated[int, Meta(ge=1, description="Rounds of improvement, each on the kept survivors.")] = 2


class _Wait(Exception):
    """A step of the schedule depends on a node still in flight."""


def decide_halving(params: SuccessiveHalving, view: PolicyView, rng: random.Random) -> Decision:
    """The next (operator, parent ids) of successive halving on `view`. `rng` is accepted as the plugin
    API passes it; this policy's choices need no randomness (see the module's docstring)."""
    try:
        return _next_step(params, view)
    except _Wait:
        return DRAFT


def _next_step(params: SuccessiveHalving, view: PolicyView) -> Decision:
    pool = _round_zero(params, view)
    if isinstance(pool, tuple):
        return pool
    used: dict[int, int] = {}
    for _ in range(params.rounds):
        kept = pool[: math.ceil(params.keep * len(pool))]
        step_or_results = _play_round(view, kept, used)
        if isinstance(step_or_results, tuple):
            return step_or_results
        pool = ranked(step_or_results, view.lower_is_better)
    if not any(node.operator == "simplify" for node in view.nodes):
        return "simplify", (pool[0].id,)
    best = view.best()
    return ("improve", (best.id,)) if best is not None else DRAFT


def _round_zero(params: SuccessiveHalving, view: PolicyView) -> list[NodeView] | Decision:
    """Round 0's survivors, best first; or the step that makes them (a draft). A run from the user's
    script starts from its node 0 instead of drafts. Should every root fail, the run's best valid node
    (a later draft, or a fix `policy.decide` made in a draft's place) starts the rounds."""
    if view.baseline:
        roots = [node for node in view.nodes if node.operator == "baseline"][:1]
    else:
        roots = [node for node in view.nodes if node.operator == "draft"][: params.drafts]
        if len(roots) < params.drafts:
            return DRAFT
    _require_done(roots)
    pool = ranked((node for node in roots if is_valid(node)), view.lower_is_better)
    if pool:
        return pool
    best = view.best()
    if best is not None:
        return [best]
    return DRAFT


def _play_round(view: PolicyView, kept: Sequence[NodeView], used: dict[int, int]) -> list[NodeView] | Decision:
    """The results of one round on `kept` (each kept node's best of itself, its improvement and the
    improvement's debug fix); or the first step the round still needs. `used` counts, per node, the
    improvements earlier rounds have taken as theirs."""
    results: list[NodeView] = []
    waiting = False
    for parent in kept:
        index = used.get(parent.id, 0)
        used[parent.id] = index + 1
        improvements = _children(view, parent, "improve")
        if index >= len(improvements):
            return "improve", (parent.id,)
        child = improvements[index]
        if not child.done:
            waiting = True
            continue
        candidates = [parent, child]
        if child.buggy:
            fixes = _children(view, child, "debug")
            if not fixes:
                return "debug", (child.id,)
            if not fixes[0].done:
                waiting = True
                continue
            candidates.append(fixes[0])
        results.append(ranked((node for node in candidates if is_valid(node)), view.lower_is_better)[0])
    if waiting:
        raise _Wait
    return results


def _children(view: PolicyView, node: NodeView, operator: str) -> list[NodeView]:
    """`node`'s children made by `operator`, in the order they were decided."""
    return [view.nodes[child] for child in node.children if view.nodes[child].operator == operator]


def _require_done(nodes: Iterable[NodeView]) -> None:
    if any(not node.done for node in nodes):
        raise _Wait


def is_valid(node: NodeView) -> bool:
    """Finished, not buggy, with a validation score."""
    return node.done and not node.buggy and node.score is not None


def ranked(nodes: Iterable[NodeView], lower_is_better: bool) -> list[NodeView]:
    """Valid nodes best first by validation score in the task's direction; the earliest first on ties."""
    sign = 1.0 if lower_is_better else -1.0
    return sorted(nodes, key=lambda node: (sign * (node.score or 0.0), node.id))
