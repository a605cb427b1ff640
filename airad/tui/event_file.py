"""Read a run's events from a JSON-lines file: `airad events RUN --json` output or an `airad export` file."""

from __future__ import annotations

from pathlib import Path

import msgspec

from airad.schemas.events import Event, decode_event

_any = msgspec.json.Decoder()


def event_of_line(line: bytes) -> Event | None:
    """The event a line holds: a bare event (`airad events RUN --json`) or an `airad export` line
    `{"kind": "event", "event": {...}}`; None for anything else (a header, a blob, a blank line)."""
    if not line.strip():
        return None
    try:
        return decode_event(line)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        return None
    record = _any.decode(line)
    if not isinstance(record, dict) or record.get("kind") != "event":
        return None
    try:
        return msgspec.convert(record.get("event"), Event)
    except msgspec.ValidationError:
        return None


def read_event_file(path: Path) -> list[Event]:
    """The events of the first run in the file, in `seq` order; lines of other kinds are skipped."""
    events = [e for e in map(event_of_line, path.read_bytes().splitlines()) if e is not None]
    if not events:
        raise ValueError(f"{path}: no events in it")
    run_id = events[0].run_id
    return sorted((e for e in events if e.run_id == run_id), key=lambda e: e.seq)
