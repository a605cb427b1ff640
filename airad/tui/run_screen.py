"""One run, live: the search tree, the node under the cursor, best score over time."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.worker import Worker

from airad.events.fold import RunState
from airad.events.log import EventLog
from airad.schemas.events import Event, boosted
from airad.schemas.policies import policy_kind
from airad.tui.best_chart import BestChart
from airad.tui.digest import Digest, digest
from airad.tui.feeds import report_failure, tail_events
from airad.tui.labels import STATUS_STYLE, score
from airad.tui.messages import EventsArrived, OpenRun
from airad.tui.node_detail import NodeDetail
from airad.tui.search_tree import SearchTree
from airad.tui.timeline import Timeline
from airad.tui.tree_shape import Key

OPEN_ALL_NODES = 200
CATCH_UP_SLICE_S = 0.03
CATCH_UP_PAUSE_S = 0.002
CATCH_UP_STEP = 250


def header(state: RunState, facts: Digest) -> Text:
    """Two lines about the run: what it is, then how it is going (and the harness's gradient-boosting
    baseline on the same split, when the run recorded one)."""
    text = Text.assemble(
        ("run ", "bold"), (state.run_id, "bold"), "  ", (state.status, STATUS_STYLE.get(state.status, ""))
    )
    if state.terminal:
        text.append(f" ({state.finish_reason or state.rejection})")
    request = state.request
    if request is not None:
        text.append(
            f"  {getattr(request.task, 'name', '?')} · {policy_kind(request.policy)} · "
            f"{request.model.name} · seed {request.seed}"
        )
    text.append(f"\n{len(state.nodes)} nodes ({facts.buggy} buggy, {facts.in_flight} in flight)")
    if facts.best is not None:
        text.append(
            f"  best node {facts.best.id}: {state.metric} {score(facts.best.score)}, "
            f"test {score(facts.best.test_score)}"
        )
    text.append(f"  ${state.cost_usd:.4f}  {state.tokens} tokens")
    baseline = boosted(state.baselines)
    if baseline is not None:
        text.append(f"  baseline (gradient boosting): {score(baseline.validation)}, test {score(baseline.test)}")
    return text


class RunScreen(Screen):
    """Follows a run: a worker tails its events and posts batches; the screen folds them with `evolve`
    (a slice at a time, so keys are answered while a long history is folded) and updates the tree in place."""

    HELP = (
        "One run as it grows. Up/down move in the tree, space or enter opens a node's children, "
        "shift+arrows go to parent and siblings; the right side shows the node under the cursor, which "
        "stays on the newest node until you move it. The chart below plots the best validation score so "
        "far, better upwards, between its worst and best values."
    )
    DEFAULT_CSS = """
    RunScreen #header { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    RunScreen #body { height: 1fr; }
    RunScreen SearchTree { width: 42%; min-width: 28; border-right: vkey $foreground 20%; }
    RunScreen NodeDetail { width: 1fr; }
    RunScreen BestChart { padding: 0 1; }
    RunScreen #bar { height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("b", "best", "Best node"),
        Binding("v", "tab('overview')", "Overview", show=False),
        Binding("c", "tab('code')", "Code", show=False),
        Binding("d", "tab('diff')", "Diff", show=False),
        Binding("o", "tab('output')", "Output", show=False),
        Binding("r", "replay", "Replay"),
    ]

    def __init__(
        self, run_id: str, *, log: EventLog | None = None, events: Iterable[Event] = (), follow: bool = True
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.event_log = log
        self.follow = follow
        self.timeline = Timeline(run_id, events)
        self.position = 0
        self.state = RunState(run_id)
        self._catching_up = False
        self._placed: Key = None

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        with Horizontal(id="body"):
            yield SearchTree(id="tree")
            yield NodeDetail(id="detail")
        yield BestChart(id="chart")
        yield Static(id="bar")
        yield Footer()

    def on_mount(self) -> None:
        """Start tailing the log (if any) and show what is held already."""
        self.query_one(SearchTree).focus()
        if self.event_log is not None:
            tail = tail_events(self.event_log, self.run_id, self.post_message, after_seq=len(self.timeline))
            self.run_worker(tail, name=f"events of {self.run_id}", group="events", exclusive=True, exit_on_error=False)
        if self.follow:
            self.catch_up()
        else:
            self.refresh_view()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed feed is reported, the screen stays."""
        report_failure(self, event)

    def on_events_arrived(self, message: EventsArrived) -> None:
        """Keep the batch; when following the end, fold it in."""
        self.timeline.extend(message.events)
        if self.follow:
            self.catch_up()
        else:
            self.refresh_bar()

    @property
    def caught_up(self) -> bool:
        """True when every event held is folded into the state shown."""
        return self.position == len(self.timeline)

    def catch_up(self) -> None:
        """Fold toward the last event for at most `CATCH_UP_SLICE_S`, show it, and go on after a timer
        (not a queued callback, which this screen's message pump would run without letting the app in)."""
        deadline = time.perf_counter() + CATCH_UP_SLICE_S
        while self.position < len(self.timeline) and time.perf_counter() < deadline:
            self.position = min(len(self.timeline), self.position + CATCH_UP_STEP)
            self.state = self.timeline.state_at(self.position)
        self.refresh_view()
        if not self.caught_up and not self._catching_up:
            self._catching_up = True
            self.set_timer(CATCH_UP_PAUSE_S, self._go_on)

    def _go_on(self) -> None:
        self._catching_up = False
        if self.follow:
            self.catch_up()

    def seek(self, position: int) -> None:
        """Show the run as it was after its first `position` events."""
        self.position = max(0, min(position, len(self.timeline)))
        self.state = self.timeline.state_at(self.position)
        self.refresh_view()

    def refresh_view(self) -> None:
        """Bring every widget to `self.state`."""
        facts = digest(self.state)
        tree = self.query_one(SearchTree)
        following = tree.cursor_key() in (None, self._placed)
        tree.show(
            self.state, facts.best.id if facts.best else None, open_all=self.timeline.node_count <= OPEN_ALL_NODES
        )
        if following or tree.cursor_key() is None:
            self.follow_newest(tree)
        self.query_one("#header", Static).update(header(self.state, facts))
        self.query_one(BestChart).show(facts.series, self.state.metric, self.state.lower_is_better)
        self.show_node(tree.highlighted())
        self.refresh_bar()

    def follow_newest(self, tree: SearchTree) -> None:
        """Put the cursor on the newest node (or the nearest ancestor shown, when a collapsed node hides
        it). The cursor stays with the newest node until the user moves it elsewhere."""
        self._placed = tree.follow(len(self.state.nodes) - 1) if self.state.nodes else None

    def show_node(self, node_id: int | None) -> None:
        """The node under the cursor in the detail tabs (a hint when the cursor is on none)."""
        self.query_one(NodeDetail).show(self.state, node_id)

    def refresh_bar(self) -> None:
        """The line above the footer."""
        self.query_one("#bar", Static).update(self.bar_text())

    def bar_text(self) -> str:
        """Live: how many events; replay overrides this with the position."""
        return f"live · {len(self.timeline)} events" + ("" if self.caught_up else f" (folding: {self.position})")

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        """Show the node the cursor moved onto."""
        self.show_node(self.query_one(SearchTree).highlighted())

    def action_best(self) -> None:
        """Put the cursor on the best valid node."""
        best = digest(self.state).best
        if best is None:
            self.notify("no valid node yet")
        else:
            self.query_one(SearchTree).reveal(best.id)

    def action_tab(self, tab: str) -> None:
        """Switch the detail tab."""
        self.query_one(NodeDetail).active = tab

    def action_replay(self) -> None:
        """Step through this run from its first event."""
        self.post_message(OpenRun(self.run_id, replay=True))

    def action_back(self) -> None:
        """Back to the runs list, or quit when the app opened on this run."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()
