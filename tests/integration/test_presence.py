"""Daemon heartbeats in the AIRAD_DAEMONS bucket, on a real nats-server: announced, listed, withdrawn, expired."""

import asyncio
import time

import pytest

from airad.events.presence import DaemonInfo, DaemonPresence, presence_key

pytestmark = pytest.mark.integration


def heartbeat(owner: str, *runs: str) -> DaemonInfo:
    now = time.time()
    return DaemonInfo(
        owner=owner,
        host="host",
        pid=1234,
        started_at=now - 60,
        seen_at=now,
        runs=runs,
        experiments=(),
        max_runs=4,
        version="0.1.0",
    )


async def eventually(condition, timeout_s: float = 30.0) -> None:
    """Poll an async condition until it holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.2)


async def test_announce_list_withdraw(js):
    presence = await DaemonPresence.open(js, ttl_s=60)
    second, first = heartbeat("host-2-bbbbbb", "req-3"), heartbeat("host-1-aaaaaa", "req-1", "req-2")
    await presence.announce(second)
    await presence.announce(first)
    assert await presence.list() == [first, second]

    await presence.withdraw("host-2-bbbbbb")
    await presence.withdraw("host-9-never")  # never announced: no error
    assert await presence.list() == [first]


async def test_announcing_again_replaces_the_heartbeat(js):
    presence = await DaemonPresence.open(js, ttl_s=60)
    await presence.announce(heartbeat("host-1-aaaaaa"))
    later = heartbeat("host-1-aaaaaa", "req-7")
    await presence.announce(later)
    assert await presence.list() == [later]


async def test_an_entry_expires_after_the_ttl(js):
    presence = await DaemonPresence.open(js, ttl_s=1.0)
    await presence.announce(heartbeat("host-1-aaaaaa"))
    assert [info.owner for info in await presence.list()] == ["host-1-aaaaaa"]

    async def gone() -> bool:
        return await presence.list() == []

    await eventually(gone)


async def test_an_owner_id_with_odd_characters_is_stored_under_a_valid_key(js):
    presence = await DaemonPresence.open(js, ttl_s=60)
    odd = heartbeat("host name..local-1 ☃")
    await presence.announce(odd)
    assert await presence.list() == [odd]
    await presence.withdraw(odd.owner)
    assert await presence.list() == []
    assert presence_key(".a b..c.") == "_.a_b._.c._"


async def test_existing_binds_only_a_bucket_a_daemon_created(js):
    assert await DaemonPresence.existing(js) is None
    await (await DaemonPresence.open(js, ttl_s=60)).announce(heartbeat("host-1-aaaaaa"))
    bound = await DaemonPresence.existing(js)
    assert bound is not None
    assert [info.owner for info in await bound.list()] == ["host-1-aaaaaa"]
