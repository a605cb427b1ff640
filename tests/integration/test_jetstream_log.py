"""What only the JetStream log has to show: message-id de-duplication, streams, appends across connections."""

import nats
import pytest

from airad.events.jetstream import EVENTS_STREAM, JetStreamEventLog, events_subject
from airad.events.log import AppendConflict
from airad.schemas.events import encode_event
from tests.factories import History

pytestmark = pytest.mark.integration


async def test_msg_id_deduplicates_a_republished_event(js):
    event = History().events[0]
    headers = {"Nats-Msg-Id": f"{event.run_id}:{event.seq}"}
    first = await js.publish(events_subject("r1"), encode_event(event), headers=headers)
    again = await js.publish(events_subject("r1"), encode_event(event), headers=headers)
    assert again.duplicate and again.seq == first.seq
    assert await JetStreamEventLog(js).read("r1") == [event]


async def test_an_append_whose_ack_was_lost_is_not_appended_twice(js):
    h = History()
    landed = JetStreamEventLog(js)
    await landed.append(h.events[0])
    retrying = JetStreamEventLog(js)
    retrying._tail["r1"] = (0, 0)
    await retrying.append(h.events[0])
    assert await retrying.read("r1") == h.events


async def test_two_daemons_on_two_connections_cannot_fork_a_run(nats_url, js):
    other = await nats.connect(nats_url)
    try:
        mine, theirs = JetStreamEventLog(js), JetStreamEventLog(other.jetstream())
        h = History().node(0, "draft")
        await mine.append(h.events[0])
        await theirs.append(h.events[1])
        with pytest.raises(AppendConflict):
            await mine.append(h.events[1].__class__(**{**_fields(h.events[1]), "operator": "improve"}))
        await mine.append(h.events[2])
        assert [e.seq for e in await theirs.read("r1")] == [1, 2, 3]
    finally:
        await other.close()


async def test_events_stream_is_file_backed_with_per_run_subjects(js):
    info = await js.stream_info(EVENTS_STREAM)
    assert str(getattr(info.config.storage, "value", info.config.storage)) == "file"
    assert info.config.subjects == ["airad.events.>"]


def _fields(event):
    import msgspec

    return msgspec.structs.asdict(event)


async def test_a_duplicate_ack_for_another_writers_event_is_a_conflict(js):
    """The server de-duplicates by Nats-Msg-Id (`<run>:<seq>`): if the fence lets a writer through
    (its view of the tail was read after the other writer's append, as a leader change can make it),
    its different event of the same seq comes back as a "duplicate". That is no success."""
    mine, theirs = JetStreamEventLog(js), JetStreamEventLog(js)
    h = History().node(0, "draft")
    await mine.append(h.events[0])
    await theirs.append(h.events[1])
    stored = await js.get_last_msg(EVENTS_STREAM, events_subject("r1"))
    mine._tail["r1"] = (1, stored.seq)  # the fence now passes; only the Msg-Id can tell
    with pytest.raises(AppendConflict):
        await mine.append(h.events[1].__class__(**{**_fields(h.events[1]), "operator": "improve"}))
    assert await theirs.read("r1") == h.events[:2]
