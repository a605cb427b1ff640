"""One suite for every KnowledgeLog: in-memory and JetStream (a real nats-server)."""

import pytest

from airad.events.jetstream import JetStreamEventLog
from airad.events.knowledge_log import InMemoryKnowledgeLog, JetStreamKnowledgeLog
from airad.events.log import AppendConflict
from airad.schemas.knowledge_events import Atom, KnowledgeDistilled


@pytest.fixture(params=["memory", "jetstream"])
async def knowledge(request):
    if request.param == "memory":
        yield InMemoryKnowledgeLog()
        return
    import nats

    from airad.events.jetstream import ensure_streams

    nc = await nats.connect(request.getfixturevalue("nats_url"))
    js = nc.jetstream()
    await ensure_streams(js)
    yield JetStreamKnowledgeLog(js)
    await nc.close()


def _event(seq: int, run_id: str, domain: str = "bc") -> KnowledgeDistilled:
    atom = Atom(atom_id="family.lightgbm", version=seq, kind="model_family", effect="helped", claim="LightGBM helped.", confidence=0.5)
    return KnowledgeDistilled(domain=domain, seq=seq, at=float(seq), run_id=run_id, atoms=(atom,))


async def test_appends_read_back_in_order_per_domain(knowledge):
    assert await knowledge.read("bc") == [] and await knowledge.domains() == []
    first, second, other = _event(1, "r1"), _event(2, "r2"), _event(1, "r9", domain="titanic")
    for event in (first, other, second):
        await knowledge.append(event)
    assert await knowledge.read("bc") == [first, second]
    assert await knowledge.read("titanic") == [other]
    assert await knowledge.domains() == ["bc", "titanic"]


async def test_appends_are_fenced_on_the_domains_last_event(knowledge):
    await knowledge.append(_event(1, "r1"))
    with pytest.raises(AppendConflict):
        await knowledge.append(_event(1, "r2"))
    with pytest.raises(AppendConflict):
        await knowledge.append(_event(3, "r2"))
    await knowledge.append(_event(2, "r2"))
    assert [e.run_id for e in await knowledge.read("bc")] == ["r1", "r2"]


async def test_a_second_writer_with_a_stale_view_fails(knowledge):
    await knowledge.append(_event(1, "r1"))
    if isinstance(knowledge, JetStreamKnowledgeLog):
        stale = JetStreamKnowledgeLog(knowledge.js)
        assert await stale.read("bc")  # remembers the fence at seq 1
    else:
        stale = knowledge
    await knowledge.append(_event(2, "r2"))
    with pytest.raises(AppendConflict):
        await stale.append(_event(2, "r3"))
    assert [e.run_id for e in await knowledge.read("bc")] == ["r1", "r2"]


async def test_knowledge_has_its_own_jetstream_stream(js):
    await JetStreamKnowledgeLog(js).append(_event(1, "r1"))
    assert await JetStreamEventLog(js).read("bc") == [], "a domain named like a run stays out of the run's events"
    info = await js.stream_info("AIRAD_KNOWLEDGE")
    assert info.config.subjects == ["airad.knowledge.>"] and info.state.messages == 1
