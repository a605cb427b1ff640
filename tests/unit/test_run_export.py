"""The airad-run export file: round trip, renaming, and every way a file can be wrong."""

import base64
import json

import pytest

from airad.reports.export import RunExistsError, RunFileError, blob_refs, export_run, import_run, read_export
from airad.events.fold import fold
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog
from airad.schemas.events import encode_event
from tests.export_fixtures import stored_run


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def _join(lines: list[dict]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


async def test_file_layout_header_events_then_deduplicated_blobs():
    log, blobs, events = await stored_run()
    data = await export_run(log, blobs, "r1", exported_at=123.0)
    lines = _lines(data)
    refs = {ref for event in events for ref in blob_refs(event)}
    assert lines[0] == {"kind": "header", "format": "airad-run", "version": 1, "run_id": "r1",
                        "events": len(events), "blobs": len(refs), "exported_at": 123.0}
    raw_events = data.splitlines()[1:1 + len(events)]
    assert raw_events == [b'{"kind":"event","event":' + encode_event(e) + b"}" for e in events]
    blob_lines = lines[1 + len(events):]
    assert {b["ref"] for b in blob_lines} == refs and len(blob_lines) == len(refs)
    assert all(base64.b64decode(b["data"]) == blobs.blobs[b["ref"]] for b in blob_lines)


async def test_round_trip_into_a_fresh_log_folds_the_same():
    log, blobs, events = await stored_run()
    data = await export_run(log, blobs, "r1")
    target_log, target_blobs = InMemoryEventLog(), InMemoryBlobStore()
    assert await import_run(data, target_log, target_blobs) == "r1"
    assert await target_log.read("r1") == events
    assert fold(await target_log.read("r1")) == fold(events)
    assert target_blobs.blobs == {ref: blobs.blobs[ref] for ref in target_blobs.blobs}
    assert set(target_blobs.blobs) == {ref for event in events for ref in blob_refs(event)}


async def test_import_under_a_new_run_id_rewrites_every_event_and_the_request():
    log, blobs, events = await stored_run(request_run_id="r1")
    data = await export_run(log, blobs, "r1")
    assert await import_run(data, log, blobs, run_id="copy-1") == "copy-1"
    copied = await log.read("copy-1")
    assert [e.run_id for e in copied] == ["copy-1"] * len(events)
    assert copied[0].request.run_id == "copy-1"
    original, renamed = fold(events), fold(copied)
    assert renamed.run_id == "copy-1" and renamed.nodes == original.nodes
    assert await log.read("r1") == events


async def test_an_existing_run_is_refused_by_name():
    log, blobs, events = await stored_run()
    data = await export_run(log, blobs, "r1")
    with pytest.raises(RunExistsError, match="run 'r1' already has"):
        await import_run(data, log, blobs)
    assert await log.read("r1") == events


async def test_an_invalid_new_run_id_is_refused():
    log, blobs, _ = await stored_run()
    data = await export_run(log, blobs, "r1")
    with pytest.raises(ValueError, match="not a valid run id"):
        await import_run(data, InMemoryEventLog(), InMemoryBlobStore(), run_id="no spaces/slashes")


async def test_a_tampered_blob_is_rejected_before_anything_is_written():
    log, blobs, _ = await stored_run()
    lines = _lines(await export_run(log, blobs, "r1"))
    lines[-1]["data"] = base64.b64encode(b"not what was hashed").decode()
    target = InMemoryEventLog()
    with pytest.raises(RunFileError, match=f"line {len(lines)}: blob data does not match its ref"):
        await import_run(_join(lines), target, InMemoryBlobStore())
    assert await target.read("r1") == []


@pytest.mark.parametrize("cut", ["last blob", "last event", "mid line"])
async def test_a_truncated_file_is_rejected(cut):
    log, blobs, events = await stored_run()
    data = await export_run(log, blobs, "r1")
    lines = data.splitlines(keepends=True)
    if cut == "last blob":
        data = b"".join(lines[:-1])
        message = "truncated"
    elif cut == "last event":
        data = b"".join(lines[:len(events)])
        message = "truncated"
    else:
        data = data[: len(data) - 40]
        message = f"line {len(lines)}: "
    with pytest.raises(RunFileError, match=message):
        await import_run(data, InMemoryEventLog(), InMemoryBlobStore())


async def test_malformed_lines_are_named_by_number():
    log, blobs, _ = await stored_run()
    lines = _lines(await export_run(log, blobs, "r1"))
    with pytest.raises(RunFileError, match="line 3: "):
        read_export(_join(lines[:2]) + b"{not json\n" + _join(lines[3:]))
    bad_event = [*lines[:3], {"kind": "event", "event": {"type": "node.exploded", "run_id": "r1", "seq": 3, "at": 1.0}}]
    with pytest.raises(RunFileError, match="line 4: not a valid event"):
        read_export(_join(bad_event + lines[4:]))
    with pytest.raises(RunFileError, match="line 5: event seq 5, expected 4"):
        read_export(_join(lines[:4] + lines[5:]))
    with pytest.raises(RunFileError, match="line 1: expected the header"):
        read_export(_join(lines[1:]))
    with pytest.raises(RunFileError, match="line 2: a second header"):
        read_export(_join([lines[0], *lines]))
    with pytest.raises(RunFileError, match="empty file"):
        read_export(b"")


async def test_header_format_version_and_foreign_events_are_checked():
    log, blobs, _ = await stored_run()
    lines = _lines(await export_run(log, blobs, "r1"))
    with pytest.raises(RunFileError, match="version 2 is not supported"):
        read_export(_join([{**lines[0], "version": 2}, *lines[1:]]))
    with pytest.raises(RunFileError, match="format 'aide' is not 'airad-run'"):
        read_export(_join([{**lines[0], "format": "aide"}, *lines[1:]]))
    foreign = {"kind": "event", "event": {**lines[1]["event"], "run_id": "other"}}
    with pytest.raises(RunFileError, match="line 2: event of run 'other'"):
        read_export(_join([lines[0], foreign, *lines[2:]]))


async def test_a_blob_missing_from_the_file_is_named():
    log, blobs, events = await stored_run()
    lines = _lines(await export_run(log, blobs, "r1"))
    header = {**lines[0], "blobs": lines[0]["blobs"] - 1}
    dropped = lines[-1]["ref"]
    with pytest.raises(RunFileError, match=f"references blob {dropped}"):
        read_export(_join([header, *lines[1:-1]]))


async def test_export_of_an_unknown_run_or_a_lost_blob_is_a_lookup_error():
    log, blobs, events = await stored_run()
    with pytest.raises(LookupError, match="no run 'nope'"):
        await export_run(log, blobs, "nope")
    lost = blob_refs(events[3])[0]
    del blobs.blobs[lost]
    with pytest.raises(LookupError, match=f"blob {lost} referenced by event 4"):
        await export_run(log, blobs, "r1")
