"""The search tree of one run as a Textual `Tree`, kept in step with the fold incrementally and lazily."""

from __future__ import annotations

from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from airad.events.fold import Node, RunState
from airad.schemas.request import RunRequest
from airad.tui.labels import node_label
from airad.tui.tree_shape import Key, TreeShape, island_count


class SearchTree(Tree[Key]):
    """Nodes under their first parent (drafts at the top, or under their island).

    `show(state)` touches only what changed: nodes added or removed since the last state and the
    labels of tree lines that exist. A node's children get tree lines only once it is expanded,
    so a run of 10,000 nodes costs as many lines as are open. With `open_all` new nodes come expanded.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("run", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.nodes: tuple[Node, ...] = ()
        self.best_id: int | None = None
        self._request: RunRequest | None = None
        self._shape = TreeShape(0)
        self._items: dict[Key, TreeNode[Key]] = {None: self.root}
        self._filled: set[Key] = {None}
        self._open_all = True

    def show(self, state: RunState, best_id: int | None, open_all: bool = True) -> None:
        """Bring the tree to `state`, whose best valid node is `best_id`; `open_all` expands new nodes
        (for small runs), else a node's children appear when it is expanded."""
        self._open_all = open_all
        if state.request is not self._request:
            self._reset(state.request)
        old, self.nodes = self.nodes, state.nodes
        for node_id in range(len(old) - 1, len(self.nodes) - 1, -1):
            self._drop(node_id)
        for node in self.nodes[len(old) :]:
            self._place(node)
        kept = min(len(old), len(self.nodes))
        for key, item in self._items.items():
            if isinstance(key, int) and key < kept and self.nodes[key] is not old[key]:
                item.set_label(node_label(self.nodes[key], key == best_id))
        previous, self.best_id = self.best_id, best_id
        if previous != best_id:
            for key in (previous, best_id):
                if isinstance(key, int) and key in self._items and key < len(self.nodes):
                    self._items[key].set_label(node_label(self.nodes[key], key == best_id))

    def reveal(self, node_id: int) -> None:
        """Open the node's ancestors and put the cursor on it."""
        if not 0 <= node_id < len(self.nodes):
            return
        for key in self._ancestry(node_id)[:-1]:
            self._fill(key)
            self._items[key].expand()
        self.call_after_refresh(self.move_cursor, self._items[node_id])

    def follow(self, node_id: int) -> Key:
        """Put the cursor on the node's line now, or on its nearest ancestor shown when a collapsed one
        hides it (opening nothing); returns the key of the line the cursor is on."""
        shown = self._nearest_shown(node_id)
        if shown is not None:
            self._current_lines()
            self.move_cursor(self._items[shown])
        return shown

    def cursor_key(self) -> Key:
        """The key of the line under the cursor (a node id or an island), None when no line has it."""
        self._current_lines()
        node = self.cursor_node
        return None if node is None else node.data

    def highlighted(self) -> int | None:
        """The search node under the cursor, if any."""
        node = self.cursor_node
        return node.data if node is not None and isinstance(node.data, int) and node.data < len(self.nodes) else None

    def _current_lines(self) -> None:
        """Lay out the tree's lines again if a change left them stale: the cursor and each item's line
        are then current (reading `last_line` lays them out when needed)."""
        _ = self.last_line

    def _ancestry(self, node_id: int) -> list[Key]:
        """The keys from the top of the tree down to `node_id` (islands included, the root not)."""
        path: list[Key] = []
        key: Key = node_id
        while key is not None:
            path.append(key)
            key = self._shape.home(key) if isinstance(key, int) else None
        return path[::-1]

    def _nearest_shown(self, node_id: int) -> Key:
        """The node itself when its line is shown, else its deepest ancestor that has a shown line."""
        shown: Key = None
        for key in self._ancestry(node_id):
            item = self._items.get(key)
            if item is None:
                break
            shown = key
            if not item.is_expanded:
                break
        return shown

    def _reset(self, request: RunRequest | None) -> None:
        self.clear()
        self._request, self.nodes, self.best_id = request, (), None
        self._shape = TreeShape(island_count(request))
        self._items, self._filled = {None: self.root}, {None}
        for island in self._shape.kids(None):
            self._items[island] = self.root.add(f"island {island.number}", data=island, expand=True)
            self._filled.add(island)

    def _place(self, node: Node) -> None:
        home = self._shape.add(node)
        parent = self._items.get(home)
        if parent is None:
            return
        parent.allow_expand = True
        if home in self._filled:
            self._materialize(node.id, parent)

    def _materialize(self, node_id: int, parent: TreeNode[Key]) -> None:
        kids = self._shape.kids(node_id)
        label = node_label(self.nodes[node_id], node_id == self.best_id)
        self._items[node_id] = parent.add(label, data=node_id, expand=self._open_all, allow_expand=bool(kids))
        if self._open_all:
            self._fill(node_id)

    def _fill(self, key: Key) -> None:
        if key in self._filled:
            return
        self._filled.add(key)
        for kid in self._shape.kids(key):
            self._materialize(kid, self._items[key])

    def _drop(self, node_id: int) -> None:
        home = self._shape.pop()
        self._filled.discard(node_id)
        item = self._items.pop(node_id, None)
        if item is not None:
            item.remove()
        parent = self._items.get(home)
        if isinstance(home, int) and parent is not None and not self._shape.kids(home):
            parent.allow_expand = False

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Key]) -> None:
        """Give an expanded node's children their tree lines the first time it opens."""
        self._fill(event.node.data)
