"""`airad tui`: the Textual app. It is handed its sources (an event log, a run index, or events read
from a file) and opens the runs list, one run live, or a replay."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from airad.events.log import EventLog, RunIndex
from airad.schemas.events import Event
from airad.tui.help import HelpScreen, key_rows
from airad.tui.messages import OpenRun
from airad.tui.replay_screen import ReplayScreen
from airad.tui.run_screen import RunScreen
from airad.tui.runs_screen import RunsScreen


class AiradApp(App[None]):
    """A read model over the event log: the runs list, a run live, a replay.

    Give it `events` (read from a file) to replay them with no log at all; `run_id` to open that run
    (its replay with `replay=True`); else it lists the runs of `index`.
    """

    TITLE = "airad"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        *,
        log: EventLog | None = None,
        index: RunIndex | None = None,
        run_id: str | None = None,
        events: list[Event] | None = None,
        replay: bool = False,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.event_log = log
        self.index = index
        self.run_id = run_id
        self.events = events
        self.replay = replay
        self.refresh_s = refresh_s

    def on_mount(self) -> None:
        """Open the first screen."""
        if self.events is not None:
            self.push_screen(ReplayScreen(self.events[0].run_id, events=self.events))
        elif self.run_id is not None:
            self.push_screen(self.run_screen(self.run_id, self.replay))
        elif self.index is not None:
            self.push_screen(RunsScreen(self.index, refresh_s=self.refresh_s))
        else:
            raise ValueError("AiradApp needs events, a run id with a log, or a run index")

    def run_screen(self, run_id: str, replay: bool) -> RunScreen:
        """The live or replay screen of a run, fed by the log (or by the file's events)."""
        if self.event_log is None:
            return ReplayScreen(run_id, events=self.events or [])
        return ReplayScreen(run_id, log=self.event_log) if replay else RunScreen(run_id, log=self.event_log)

    def on_open_run(self, message: OpenRun) -> None:
        """A screen asked for a run."""
        self.push_screen(self.run_screen(message.run_id, message.replay))

    def action_help(self) -> None:
        """The keys of the current screen."""
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(getattr(self.screen, "HELP", ""), key_rows(self.screen)))
