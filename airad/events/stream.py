"""The guard every fenced, folded stream (a run's, an experiment's, a domain's knowledge) applies before it
folds an event, and what such a fold is; `airad.events.writer` appends to those streams."""

from __future__ import annotations

from typing import Protocol


def check_next(noun: str, stream_id: str, last_seq: int, event_id: str, event_seq: int) -> None:
    """Refuse an event that belongs to another stream or does not follow the stream's last event exactly;
    `noun` names the kind of stream in the error (run, experiment, domain)."""
    if event_id != stream_id:
        raise ValueError(f"event for {noun} {event_id!r} folded into {noun} {stream_id!r}")
    if event_seq != last_seq + 1:
        raise ValueError(f"{noun} {stream_id}: expected seq {last_seq + 1}, got {event_seq}")


class Folded(Protocol):
    """The fold of a stream: it knows the `seq` of the last event folded into it."""

    @property
    def last_seq(self) -> int: ...
