"""Step through a run's history: the tree, node and chart as they were after any event."""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual.binding import Binding
from textual.timer import Timer

from airad.events.log import EventLog
from airad.schemas.events import Event, event_tag
from airad.tui.prompt import Prompt
from airad.tui.run_screen import RunScreen
from airad.tui.search_tree import SearchTree
from airad.tui.timeline import seek_target

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
TICK_S = 0.05
INDEX_EVERY_S = 0.05
INDEX_SLICE_S = 0.02


class ReplayScreen(RunScreen):
    """The run screen at a chosen position in the history: state = fold(events[:position]).

    Events still arriving (a live run) are added to the end; the position moves only when asked."""

    HELP = (
        "Replay: the run as it was after the event in the bar below the chart. Up/down move in the "
        "tree, space or enter opens a node's children."
    )
    BINDINGS = [
        Binding("right,l", "step(1)", "Next", priority=True),
        Binding("left,h", "step(-1)", "Prev", priority=True),
        Binding("right_square_bracket", "step(10)", "+10", priority=True),
        Binding("left_square_bracket", "step(-10)", "-10", priority=True),
        Binding("home", "seek(0)", "Start", show=False, priority=True),
        Binding("end", "seek_end", "End", show=False, priority=True),
        Binding("p", "play", "Play/pause"),
        Binding("plus,equals_sign", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("g", "goto", "Seek"),
        Binding("j", "jump", "Jump to node"),
        *(Binding(str(n), f"percent({n * 10})", "Seek to 0%…90%", show=False) for n in range(10)),
    ]

    def __init__(self, run_id: str, *, log: EventLog | None = None, events: Iterable[Event] = ()) -> None:
        super().__init__(run_id, log=log, events=events, follow=False)
        self.speed = SPEEDS.index(10)
        self.playing = False
        self._owed = 0.0
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        """Fold checkpoints ahead while idle, so a later seek anywhere is quick."""
        self.set_interval(INDEX_EVERY_S, self._index_ahead)

    def _index_ahead(self) -> None:
        deadline = time.perf_counter() + INDEX_SLICE_S
        while time.perf_counter() < deadline and self.timeline.add_checkpoint():
            pass

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """No replay of a replay."""
        return action != "replay"

    def bar_text(self) -> str:
        """Play state, speed, position, time since the first event and the event just folded."""
        total = len(self.timeline)
        percent = 100 * self.position // total if total else 0
        state = "▶ playing" if self.playing else "⏸ paused"
        text = (
            f"{state} {SPEEDS[self.speed]} ev/s │ event {self.position}/{total} ({percent}%) "
            f"+{self.timeline.elapsed(self.position):.1f}s"
        )
        if self.position:
            event = self.timeline.events[self.position - 1]
            node = getattr(event, "node_id", None)
            text += f" │ {event_tag(event)}" + ("" if node is None else f" node {node}")
        return text

    def action_step(self, events: int) -> None:
        """Move `events` events forward (or back)."""
        self.seek(self.position + events)

    def action_seek(self, position: int) -> None:
        """Go to an event number."""
        self.seek(position)

    def action_seek_end(self) -> None:
        """Go to the last event held."""
        self.seek(len(self.timeline))

    def action_percent(self, percent: int) -> None:
        """Go to a share of the history."""
        self.seek(round(len(self.timeline) * percent / 100))

    def action_speed(self, change: int) -> None:
        """A faster or slower play speed."""
        self.speed = max(0, min(len(SPEEDS) - 1, self.speed + change))
        self.refresh_bar()

    def action_play(self) -> None:
        """Play from here at the chosen speed, or pause."""
        self.playing = not self.playing
        if self.playing:
            if self.caught_up and self.event_log is None:
                self.seek(0)
            self._owed = 0.0
            self._timer = self.set_interval(TICK_S, self._tick)
        elif self._timer is not None:
            self._timer.stop()
        self.refresh_bar()

    def _tick(self) -> None:
        self._owed += SPEEDS[self.speed] * TICK_S
        steps, self._owed = int(self._owed), self._owed % 1
        if steps:
            self.seek(self.position + steps)
        if self.caught_up and self.event_log is None and self.playing:
            self.action_play()

    def action_goto(self) -> None:
        """Ask where to go: 50%, +10, -10 or an event number."""
        self.app.push_screen(Prompt("seek to", "50%, +10, -10 or an event number"), self._go)

    def _go(self, answer: str | None) -> None:
        if not answer:
            return
        try:
            self.seek(seek_target(answer, self.position, len(self.timeline)))
        except ValueError:
            self.notify(f"cannot seek to {answer!r}: type 50%, +10, -10 or an event number", severity="warning")

    def action_jump(self) -> None:
        """Ask for a node and go to the event that selected it."""
        self.app.push_screen(Prompt("jump to node", "node id"), self._jump)

    def _jump(self, answer: str | None) -> None:
        if not answer:
            return
        position = self.timeline.selection_of(int(answer)) if answer.strip().isdigit() else None
        if position is None:
            self.notify(f"no node {answer!r} in this run", severity="warning")
            return
        self.seek(position)
        self.query_one("#tree", SearchTree).reveal(int(answer))
