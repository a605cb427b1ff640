"""Monte-Carlo tree search over solutions.

The tree's root is virtual: drafts are its children (in a run from the user's script, that script
is its only child). Statistics are derived from the view every
time (nothing is kept between decisions): a finished node is one visit of itself and each of its
ancestors, worth its fitness normalised to [0, 1] within the run (buggy = 0). Selection follows UCT
from the root through finished nodes that still have somewhere to go; a node with fewer than
`num_children` children is expanded (improve), a buggy node is debugged while its debug chain is
within depth and time limits. Buggy subtrees keep their visits: nothing is silently pruned.
"""

from __future__ import annotations

import math
import random

from airad.agents.policy_view import NodeView, PolicyView
from airad.schemas.events import Operator
from airad.schemas.policies import MctsPolicy

ROOT = -1


class _Tree:
    def __init__(self, params: MctsPolicy, view: PolicyView):
        self.params = params
        self.view = view
        self.nodes = view.nodes
        fitness = view.fitness()
        self.visits: dict[int, int] = {ROOT: 0}
        self.value: dict[int, float] = {ROOT: 0.0}
        for node in self.nodes:
            self.visits.setdefault(node.id, 0)
            self.value.setdefault(node.id, 0.0)
            if not node.done:
                continue
            gain = fitness.get(node.id, 0.0)
            for ancestor in self.ancestors(node.id):
                self.visits[ancestor] = self.visits.get(ancestor, 0) + 1
                self.value[ancestor] = self.value.get(ancestor, 0.0) + gain
        self._open: dict[int, bool] = {}

    def ancestors(self, node_id: int) -> list[int]:
        chain = [node_id]
        while self.nodes[chain[-1]].parent_ids:
            chain.append(self.nodes[chain[-1]].parent_ids[0])
        return chain + [ROOT]

    def children(self, node_id: int) -> tuple[int, ...]:
        if node_id == ROOT:
            return tuple(n.id for n in self.nodes if not n.parent_ids)
        return self.nodes[node_id].children

    def can_debug(self, node: NodeView) -> bool:
        if not node.can_be_debugged() or node.debug_depth >= self.params.max_debug_depth:
            return False
        seconds, current = 0.0, node
        while True:
            seconds += current.duration_s
            if current.operator != "debug" or not current.parent_ids:
                break
            current = self.nodes[current.parent_ids[0]]
        return seconds < self.params.max_debug_seconds

    def is_open(self, node_id: int) -> bool:
        """Whether selecting this node can lead to an action somewhere in its subtree."""
        if node_id not in self._open:
            node = self.nodes[node_id]
            children = node.children
            if not node.done:
                result = False
            elif node.buggy:
                result = self.can_debug(node) if not children else any(self.is_open(c) for c in children)
            else:
                result = len(children) < self.params.num_children or any(self.is_open(c) for c in children)
            self._open[node_id] = result
        return self._open[node_id]

    def uct(self, parent: int, child: int) -> float:
        visits = self.visits[child]
        if visits == 0:
            return math.inf
        exploit = self.value[child] / visits
        explore = self.params.uct_c * math.sqrt(math.log(max(self.visits[parent], 1)) / visits)
        return exploit + explore


def decide_mcts(params: MctsPolicy, view: PolicyView, rng: random.Random) -> tuple[Operator, tuple[int, ...]]:
    """One MCTS decision as (operator, parent ids)."""
    tree = _Tree(params, view)
    current = ROOT
    while True:
        children = tree.children(current)
        if current == ROOT:
            if len(children) < params.num_children and not view.baseline:  # the user's script is the only root
                return "draft", ()
        else:
            node = view.nodes[current]
            if node.buggy and not children:
                return "debug", (current,)
            if not node.buggy and len(children) < params.num_children:
                return "improve", (current,)
        candidates = [c for c in children if tree.is_open(c)]
        if not candidates:
            return "draft", ()
        scores = [tree.uct(current, c) for c in candidates]
        top = max(scores)
        current = rng.choice([c for c, s in zip(candidates, scores, strict=False) if s == top])
