"""Messages that go up: batches from the workers to their screen, and a screen's wish to open a run."""

from __future__ import annotations

from textual.message import Message

from airad.events.log import RunSummary
from airad.schemas.events import Event


class EventsArrived(Message):
    """A batch of a run's events, in `seq` order."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class RunsArrived(Message):
    """Every run's summary, whenever the index changed."""

    def __init__(self, summaries: list[RunSummary]) -> None:
        super().__init__()
        self.summaries = summaries


class OpenRun(Message):
    """Show a run: live, or its replay from the first event."""

    def __init__(self, run_id: str, replay: bool = False) -> None:
        super().__init__()
        self.run_id = run_id
        self.replay = replay
