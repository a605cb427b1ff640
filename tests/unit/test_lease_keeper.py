"""The daemon's lease keeper rides out NATS failing a round (a server restart): it logs the round and
tries again, instead of ending the daemon with it."""

import anyio
import nats.errors
import structlog.testing

from airad.daemon.daemon import Daemon
from airad.daemon.settings import Settings


class FlakyLeases:
    """Leases whose server times out on the first renewal round."""

    def __init__(self):
        self.renewals = 0

    async def renew(self, run_id: str) -> bool:
        self.renewals += 1
        if self.renewals == 1:
            raise nats.errors.TimeoutError
        return True


class Heartbeats:
    """A presence bucket that keeps what each round announced."""

    def __init__(self):
        self.announced = []

    async def announce(self, info) -> None:
        self.announced.append(info)


async def test_a_round_that_nats_fails_is_logged_and_the_next_goes_on(tmp_path):
    daemon = Daemon(Settings(state_dir=str(tmp_path), lease_ttl_s=0.03))
    daemon.leases = FlakyLeases()
    daemon.presence = Heartbeats()
    daemon._owned["r1"] = anyio.CancelScope()
    adoptions = []

    async def adopt_orphans():
        adoptions.append(len(adoptions))
        if len(adoptions) == 2:
            raise nats.errors.ConnectionClosedError
        return 0

    daemon.adopt_orphans = adopt_orphans
    with structlog.testing.capture_logs() as logs, anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon._keep_leases)
            while len(adoptions) < 4:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert len(adoptions) >= 4 and daemon.leases.renewals >= 3, "rounds went on after the failures"
    assert len(daemon.presence.announced) >= 4 and daemon.presence.announced[-1].owner == daemon.owner
    failures = [e for e in logs if e["event"] == "leases.round_failed"]
    assert len(failures) == 2 and "TimeoutError" in failures[0]["error"] and "ConnectionClosed" in failures[1]["error"]
    assert not daemon._owned["r1"].cancel_called, "a renewal that failed is no lost lease"
