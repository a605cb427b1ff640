"""A run's events as they arrive, and the state after any prefix of them without refolding from the start."""

from __future__ import annotations

from collections.abc import Iterable

from airad.events.fold import RunState, evolve
from airad.schemas.events import Event, NodeSelected

CHECKPOINT_EVERY = 250


class Timeline:
    """The events of one run and `state_at(i) == fold(events[:i])`.

    States are kept every `CHECKPOINT_EVERY` events as they are first passed, plus the last state
    asked for and every state of the last fold that started at a checkpoint, so seeking anywhere folds
    at most a checkpoint's worth and stepping back one event at a time folds nothing most of the time.
    """

    def __init__(self, run_id: str, events: Iterable[Event] = ()):
        self.run_id = run_id
        self.events: list[Event] = []
        self._selected: dict[int, int] = {}
        self._checkpoints: list[RunState] = [RunState(run_id)]
        self._cursor: tuple[int, RunState] = (0, self._checkpoints[0])
        self._window: tuple[int, list[RunState]] = (0, [])
        self.extend(events)

    def __len__(self) -> int:
        return len(self.events)

    def extend(self, events: Iterable[Event]) -> None:
        """Add events in `seq` order; ones already held (a redelivery) are skipped, a gap is an error."""
        for event in events:
            if event.run_id != self.run_id:
                raise ValueError(f"event of run {event.run_id!r} in the timeline of {self.run_id!r}")
            if event.seq <= len(self.events):
                continue
            if event.seq != len(self.events) + 1:
                raise ValueError(f"run {self.run_id}: event seq {event.seq} after {len(self.events)}")
            self.events.append(event)
            if isinstance(event, NodeSelected):
                self._selected[event.node_id] = len(self.events)

    def state_at(self, position: int) -> RunState:
        """The run after its first `position` events (clamped to what is held)."""
        position = max(0, min(position, len(self.events)))
        first, window = self._window
        if first <= position < first + len(window):
            state = window[position - first]
        else:
            state = self._fold_to(position)
        self._cursor = (position, state)
        return state

    def add_checkpoint(self) -> bool:
        """Fold the events after the last checkpoint into the next one (ahead of any seek, when idle);
        False when every full interval of the events held has its checkpoint."""
        start = (len(self._checkpoints) - 1) * CHECKPOINT_EVERY
        if start + CHECKPOINT_EVERY > len(self.events):
            return False
        state = self._checkpoints[-1]
        for event in self.events[start : start + CHECKPOINT_EVERY]:
            state = evolve(state, event)
        self._checkpoints.append(state)
        return True

    def _fold_to(self, position: int) -> RunState:
        start, state = self._cursor
        checkpoint = min(position // CHECKPOINT_EVERY, len(self._checkpoints) - 1)
        window: list[RunState] | None = None
        if not start <= position or checkpoint * CHECKPOINT_EVERY > start:
            start, state = checkpoint * CHECKPOINT_EVERY, self._checkpoints[checkpoint]
            if position - start <= CHECKPOINT_EVERY:
                window = [state]
                self._window = (start, window)
        for index in range(start, position):
            state = evolve(state, self.events[index])
            if window is not None:
                window.append(state)
            if index + 1 == len(self._checkpoints) * CHECKPOINT_EVERY:
                self._checkpoints.append(state)
        return state

    @property
    def node_count(self) -> int:
        """How many nodes the events held so far select."""
        return len(self._selected)

    def selection_of(self, node_id: int) -> int | None:
        """The position just after the node's `node.selected` event, None for an unknown node."""
        return self._selected.get(node_id)

    def elapsed(self, position: int) -> float:
        """Seconds from the first event to the last one folded at `position`."""
        if position <= 0 or not self.events:
            return 0.0
        return self.events[min(position, len(self.events)) - 1].at - self.events[0].at


def seek_target(text: str, position: int, total: int) -> int:
    """Where a typed seek goes: `50%`, `+10` / `-10` (events from here) or `123` (an event number)."""
    text = text.strip()
    if not text:
        raise ValueError("type 50%, +10, -10 or an event number")
    if text.endswith("%"):
        target = round(total * float(text[:-1]) / 100)
    elif text[0] in "+-":
        target = position + int(text)
    else:
        target = int(text)
    return max(0, min(target, total))
