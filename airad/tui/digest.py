"""What the run screen's header and chart say about a state, computed in one pass over its nodes."""

from __future__ import annotations

from msgspec import Struct

from airad.events.fold import Node, RunState


class Digest(Struct, frozen=True):
    """Counts, the best valid node and the best validation score after each valid node, in id order."""

    buggy: int
    in_flight: int
    best: Node | None
    series: list[float]


def digest(state: RunState) -> Digest:
    """Walk the nodes once: buggy and unfinished counts, the best valid node (earliest on ties), and
    the best-so-far validation score as the run went on."""
    buggy = in_flight = 0
    best: Node | None = None
    best_score = 0.0
    series: list[float] = []
    lower = state.lower_is_better
    for node in state.nodes:
        if node.buggy:
            buggy += 1
        elif not node.done:
            in_flight += 1
        elif node.valid and node.score is not None:
            if best is None or (node.score < best_score if lower else node.score > best_score):
                best, best_score = node, node.score
            series.append(best_score)
    return Digest(buggy, in_flight, best, series)
