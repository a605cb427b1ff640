"""Where each search node sits in the tree view: under its first parent, drafts at the top or under
their island (evolutionary runs: drafts seed the islands round-robin, a child lives on its first
parent's island)."""

from __future__ import annotations

from typing import NamedTuple

from airad.events.fold import Node
from airad.schemas.policies import EvolutionaryPolicy
from airad.schemas.request import RunRequest


class Island(NamedTuple):
    """The tree key of an island's group."""

    number: int


Key = int | Island | None


def island_count(request: RunRequest | None) -> int:
    """How many islands the run's policy keeps; 0 when it does not group by island."""
    if request is not None and isinstance(request.policy, EvolutionaryPolicy):
        return request.policy.num_islands
    return 0


class TreeShape:
    """The children of every tree key (None: the top) in id order, kept as nodes come and go."""

    def __init__(self, islands: int):
        self.islands = islands
        self.children: dict[Key, list[Key]] = {None: [Island(i) for i in range(islands)]}
        self._home: list[Key] = []
        self._island: list[int] = []
        self._drafts = 0

    def __len__(self) -> int:
        return len(self._home)

    def add(self, node: Node) -> Key:
        """Place the next node; returns the key it hangs under."""
        if node.parent_ids:
            home: Key = node.parent_ids[0]
            island = self._island[node.parent_ids[0]]
        else:
            island = self._drafts % self.islands if self.islands else 0
            home = Island(island) if self.islands else None
            self._drafts += 1
        self._home.append(home)
        self._island.append(island)
        self.children.setdefault(home, []).append(node.id)
        return home

    def pop(self) -> Key:
        """Forget the last node (a replay going back); returns the key it hung under."""
        node_id = len(self._home) - 1
        home = self._home.pop()
        self._island.pop()
        self.children[home].pop()
        self.children.pop(node_id, None)
        if not isinstance(home, int):
            self._drafts -= 1
        return home

    def home(self, node_id: int) -> Key:
        """The key a node hangs under."""
        return self._home[node_id]

    def kids(self, key: Key) -> list:
        """The keys hanging under `key`, in id order."""
        return self.children.get(key, [])
