"""Two daemons given the same run: the fenced append lets only one of them write; the other stops its
copy of the run and says so in its log. The run keeps one history, no fork."""

from __future__ import annotations

import anyio
import pytest
from structlog.testing import capture_logs

from airad.daemon.daemon import Daemon
from airad.daemon.settings import load_settings
from tests.fakes import ScriptedLLM, SleepingExecutor
from tests.integration.daemon_process import publish_raw, run_events
from tests.resilience.helpers import assert_one_clean_history, read_history, request, tag
from tests.unit.test_runner import GOOD

pytestmark = pytest.mark.integration


def _daemon(tmp_path, name: str) -> Daemon:
    settings = load_settings(env={}, state_dir=str(tmp_path / name), lease_ttl_s=30)
    return Daemon(settings, llm=ScriptedLLM(lambda prompt: GOOD), executors={"local": SleepingExecutor(seconds=0.5)}, owner=name)


async def test_a_second_writer_of_a_run_is_fenced_off_and_stops(nats_url, tmp_path):
    first, second = _daemon(tmp_path, "first"), _daemon(tmp_path, "second")
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            await tg.start(first.serve, nats_url)
            await tg.start(second.serve, nats_url)
            await publish_raw(nats_url, request("twice", task="breast-cancer", max_nodes=4))
            await run_events(nats_url, "twice", until=lambda ev: any(e["type"] == "node.dispatched" for e in ev))
            owner = first if "twice" in first._owned else second
            other = second if owner is first else first

            async def always(run_id: str) -> bool:
                return True

            # As if its lease view were stale: both now drive the run, and only the fence can stop one
            # (a renewal round finding the lease not held would stop it first on a slow machine).
            other.leases.acquire = always
            other.leases.renew = always
            assert await other.start_run("twice")
            await run_events(nats_url, "twice", timeout_s=120)
            with anyio.fail_after(60):
                while first._owned or second._owned:
                    await anyio.sleep(0.1)
            tg.cancel_scope.cancel()
    events, _ = await read_history(nats_url, "twice")
    assert_one_clean_history(events, 4)
    lost = [entry for entry in logs if entry["event"] == "run.lost"]
    assert len(lost) == 1 and lost[0].get("run_id") == "twice", [e for e in logs if e.get("log_level") != "debug"]
    assert "another writer" in lost[0]["reason"] or "does not follow" in lost[0]["reason"]
    assert not [entry for entry in logs if entry["event"] == "run.crashed"]
    writers = {e.owner for e in events if tag(e) == "run.started"}
    assert writers <= {"first", "second"}
