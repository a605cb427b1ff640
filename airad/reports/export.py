"""A run as one self-contained, replayable file, and back into any event log.

The file is JSON lines: a header, then one line per event (the event exactly as msgspec
encodes it), then one line per blob the events reference, base64-encoded and checked
against its SHA-256 on both ends:

    {"kind":"header","format":"airad-run","version":1,"run_id":"r1","events":N,"blobs":M,"exported_at":...}
    {"kind":"event","event":{"type":"run.submitted","run_id":"r1","seq":1,...}}
    {"kind":"blob","ref":"<sha256 hex>","data":"<base64>"}
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import msgspec
from msgspec import Struct

from airad.events.fold import fold
from airad.events.log import BlobStore, EventLog
from airad.schemas.events import (
    Event,
    NodeAnalyzed,
    NodeExecuted,
    NodeGenerated,
    RunKnowledge,
    RunSubmitted,
    decode_event,
    encode_event,
)
from airad.schemas.request import RunId, is_derived_run_id

FORMAT = "airad-run"
VERSION = 1


class RunFileError(ValueError):
    """The data is not a complete, intact airad run export."""


class RunExistsError(Exception):
    """The target log already holds events of the run being imported."""


class ExportHeader(Struct, frozen=True, tag="header", tag_field="kind"):
    """The first line of an export: what follows and how much of it."""

    format: str
    version: int
    run_id: str
    events: int
    blobs: int
    exported_at: float


class EventLine(Struct, frozen=True, tag="event", tag_field="kind"):
    """One event, kept as the raw JSON msgspec wrote."""

    event: msgspec.Raw


class BlobLine(Struct, frozen=True, tag="blob", tag_field="kind"):
    """One blob: its SHA-256 and its bytes (base64 in JSON)."""

    ref: str
    data: bytes


_line_decoder = msgspec.json.Decoder(ExportHeader | EventLine | BlobLine)
_encoder = msgspec.json.Encoder()


def blob_refs(event: Event) -> list[str]:
    """The blob references an event carries, in field order, without empty ones."""
    match event:
        case NodeGenerated():
            refs = [event.prompt_ref, event.completion_ref]
        case NodeExecuted():
            refs = [event.stdout_ref, event.stderr_ref, *event.outputs.values()]
        case NodeAnalyzed():
            refs = [event.completion_ref]
        case RunKnowledge():
            refs = [event.atoms_ref]
        case _:
            refs = []
    return [ref for ref in refs if ref]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def export_run(log: EventLog, blobs: BlobStore, run_id: str, *, exported_at: float | None = None) -> bytes:
    """The export file of `run_id`; LookupError when the run has no events or a referenced blob is missing."""
    events = await log.read(run_id)
    if not events:
        raise LookupError(f"no run {run_id!r} in the log")
    refs: dict[str, int] = {}
    for event in events:
        for ref in blob_refs(event):
            refs.setdefault(ref, event.seq)
    blob_lines = []
    for ref, seq in refs.items():
        try:
            data = await blobs.get(ref)
        except KeyError:
            raise LookupError(f"run {run_id}: blob {ref} referenced by event {seq} is not in the blob store") from None
        if _sha256(data) != ref:
            raise LookupError(f"run {run_id}: blob {ref} in the blob store does not match its hash")
        blob_lines.append(_encoder.encode(BlobLine(ref, data)))
    header = ExportHeader(
        FORMAT, VERSION, run_id, len(events), len(blob_lines), time.time() if exported_at is None else exported_at
    )
    lines = [_encoder.encode(header)]
    lines += [b'{"kind":"event","event":' + encode_event(event) + b"}" for event in events]
    lines += blob_lines
    return b"\n".join(lines) + b"\n"


def header_of(data: bytes) -> ExportHeader:
    """The checked header line of an export."""
    return _check_header(_decode_line(1, data.split(b"\n", 1)[0]))


def read_export(data: bytes) -> tuple[ExportHeader, list[Event], dict[str, bytes]]:
    """Parse and check an export: header, gapless events of one run that fold, every referenced blob intact."""
    lines = data.splitlines()
    if not lines:
        raise RunFileError("empty file: no header line")
    header = _check_header(_decode_line(1, lines[0]))
    events: list[Event] = []
    stored: dict[str, bytes] = {}
    for number, line in enumerate(lines[1:], start=2):
        item = _decode_line(number, line)
        if isinstance(item, ExportHeader):
            raise RunFileError(f"line {number}: a second header")
        elif isinstance(item, EventLine):
            events.append(_check_event(number, item, header.run_id, len(events) + 1))
        else:
            if _sha256(item.data) != item.ref:
                raise RunFileError(f"line {number}: blob data does not match its ref {item.ref}")
            stored[item.ref] = item.data
    if len(events) != header.events or len(stored) != header.blobs:
        raise RunFileError(
            f"truncated or padded: the header promises {header.events} events and {header.blobs} blobs, "
            f"the file has {len(events)} and {len(stored)}"
        )
    for event in events:
        missing = [ref for ref in blob_refs(event) if ref not in stored]
        if missing:
            raise RunFileError(f"event {event.seq} references blob {missing[0]}, which the file lacks")
    try:
        fold(events, header.run_id)
    except ValueError as exc:
        raise RunFileError(f"the events do not fold into a run: {exc}") from None
    return header, events, stored


def _decode_line(number: int, line: bytes) -> ExportHeader | EventLine | BlobLine:
    try:
        return _line_decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise RunFileError(f"line {number}: {exc}") from None


def _check_header(item) -> ExportHeader:
    if not isinstance(item, ExportHeader):
        raise RunFileError("line 1: expected the header, not an event or a blob")
    if item.format != FORMAT:
        raise RunFileError(f"line 1: format {item.format!r} is not {FORMAT!r}")
    if item.version != VERSION:
        raise RunFileError(f"line 1: version {item.version} is not supported (this airad reads version {VERSION})")
    return item


def _check_event(number: int, item: EventLine, run_id: str, expected_seq: int) -> Event:
    try:
        event = decode_event(item.event)
    except msgspec.DecodeError as exc:
        raise RunFileError(f"line {number}: not a valid event: {exc}") from None
    if event.run_id != run_id:
        raise RunFileError(f"line {number}: event of run {event.run_id!r} in the export of run {run_id!r}")
    if event.seq != expected_seq:
        raise RunFileError(f"line {number}: event seq {event.seq}, expected {expected_seq}")
    return event


def renamed(events: Sequence[Event], run_id: str) -> list[Event]:
    """The events as if they belonged to run `run_id` (a client-chosen id in the request follows too)."""
    result = []
    for event in events:
        event = msgspec.structs.replace(event, run_id=run_id)
        if isinstance(event, RunSubmitted) and event.request.run_id is not None:
            event = msgspec.structs.replace(event, request=msgspec.structs.replace(event.request, run_id=run_id))
        result.append(event)
    return result


async def import_run(data: bytes, log: EventLog, blobs: BlobStore, run_id: str | None = None) -> str:
    """Append an export's events (renamed to `run_id` when given) and store its blobs; return the run id.

    Everything is checked before anything is written. RunFileError for a malformed file, ValueError
    for an invalid `run_id`, RunExistsError when the target log already has events of that run.
    """
    header, events, stored = read_export(data)
    target = import_target(header.run_id, run_id)
    existing = await log.read(target)
    if existing:
        raise RunExistsError(
            f"run {target!r} already has {len(existing)} events in this log; import it under another id (--run-id)"
        )
    for ref, blob in stored.items():
        if await blobs.put(blob) != ref:
            raise RuntimeError(f"the blob store filed blob {ref} under another hash")
    for event in renamed(events, target) if target != header.run_id else events:
        await log.append(event)
    return target


def import_target(exported_id: str, run_id: str | None = None) -> str:
    """The id an imported run gets: `run_id` when given, else its exported id, except that ids of the
    form `req-N` belong to this log's own request stream (the next request numbered N would take it)
    and an exported one becomes `imported-req-N`."""
    if run_id is not None:
        if is_derived_run_id(run_id):
            raise ValueError(f"{run_id!r}: ids of the form req-N are given by this log's intake; choose another")
        return _valid_run_id(run_id)
    return f"imported-{exported_id}" if is_derived_run_id(exported_id) else exported_id


def _valid_run_id(run_id: str) -> str:
    try:
        return msgspec.convert(run_id, RunId)
    except msgspec.ValidationError:
        raise ValueError(
            f"{run_id!r} is not a valid run id "
            "(letters, digits, '_' and '-', starting with a letter or digit, at most 64)"
        ) from None
