"""Short texts for scores, ages, statuses and tree nodes, shared by the screens."""

from __future__ import annotations

from rich.text import Text

from airad.events.fold import Node

STATUS_STYLE = {
    "running": "yellow",
    "new": "dim",
    "finished": "green",
    "rejected": "red",
    "selected": "dim",
    "generated": "cyan",
    "dispatched": "yellow",
    "executed": "yellow",
    "scored": "green",
    "failed": "red",
    "buggy": "red",
}


def score(value: float | None) -> str:
    """A score to 5 significant digits, '-' when absent."""
    return "-" if value is None else f"{value:.5g}"


def age(seconds: float) -> str:
    """A coarse age: 12s, 5m, 3h, 2d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def node_status(node: Node) -> str:
    """'buggy' for a finished node that failed or could not be scored, else the fold's status."""
    return "buggy" if node.buggy else node.status


def node_label(node: Node, best: bool) -> Text:
    """One tree line: id, operator (with extra parents of a crossover), status, validation score."""
    extra = "×" + ",".join(map(str, node.parent_ids[1:])) if len(node.parent_ids) > 1 else ""
    status = node_status(node)
    label = Text(f"{node.id} ", style="bold")
    label.append(f"{node.operator}{extra} ")
    label.append(status, style=STATUS_STYLE.get(status, ""))
    if node.valid and node.score is not None:
        label.append(f" {score(node.score)}", style="bold green" if best else "")
    if best:
        label.append(" ★", style="bold yellow")
    return label
