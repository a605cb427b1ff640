"""Helpers of the TUI tests: the screen as plain text, waiting on a condition, the visible tree,
committed text snapshots (`UPDATE_SNAPSHOTS=1 pytest tests/tui` rewrites them)."""

from __future__ import annotations

import io
import os
import random
import time
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Tree

from airad.schemas.events import NodeSelected
from airad.schemas.policies import EvolutionaryPolicy
from airad.schemas.request import BundledTask, RunRequest
from tests.factories import History

SNAPSHOTS = Path(__file__).parent / "snapshots"


def screen_text(app: App) -> str:
    """What the terminal shows, as text without styles, each line's trailing blanks dropped."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text(styles=False).splitlines()) + "\n"


def match_snapshot(name: str, text: str) -> None:
    """`text` equals the committed snapshot `name`; UPDATE_SNAPSHOTS=1 writes it instead."""
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}: run UPDATE_SNAPSHOTS=1 pytest tests/tui to write it"
    assert text == path.read_text(), f"screen differs from {path.name} (UPDATE_SNAPSHOTS=1 rewrites it):\n{text}"


async def until(pilot: Pilot, predicate, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Let the app run until `predicate()` holds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def press(pilot: Pilot, *keys: str, then, what: str = "") -> None:
    """Press keys, then wait until `then()` holds: on a loaded machine Pilot may return before the
    app has handled them."""
    await pilot.press(*keys)
    await until(pilot, then, what=what or f"the effect of {keys}")


async def settled_text(pilot: Pilot) -> str:
    """The screen once two looks 50 ms apart agree."""
    text = screen_text(pilot.app)
    for _ in range(100):
        await pilot.pause(0.05)
        again = screen_text(pilot.app)
        if again == text:
            return text
        text = again
    raise AssertionError(f"the screen never settled:\n{text}")


def tree_lines(tree: Tree) -> list[str]:
    """The labels of the tree's visible lines, indented two spaces per level."""
    lines: list[str] = []

    def walk(node, depth: int) -> None:
        for child in node.children:
            lines.append("  " * depth + str(child.label))
            if child.is_expanded:
                walk(child, depth + 1)

    walk(tree.root, 0)
    return lines


def wide_run(nodes: int, drafts: int = 5, run_id: str = "wide", islands: int = 0) -> History:
    """A run of `nodes` scored nodes: `drafts` drafts, then each node improves an earlier one at random."""
    request = RunRequest(task=BundledTask(name="wine"), policy=EvolutionaryPolicy(num_islands=islands)) if islands else None
    history = History(run_id, request)
    rng = random.Random(nodes)
    for i in range(nodes):
        parents = () if i < drafts else (rng.randrange(i),)
        history.node(i, "improve" if parents else "draft", parents, score=0.5 + (i % 97) / 200)
    return history


def selected_count(events) -> int:
    """How many nodes the events select."""
    return sum(isinstance(e, NodeSelected) for e in events)
