"""The nats-server goes away in the middle of runs and comes back on the same port and store: the
daemon reconnects by itself and its runs go on, without losing or forking an event."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from airad.daemon.nats_server import nats_server_binary
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.resilience.helpers import assert_one_clean_history, create_streams, request, settled_summary, folded_summary, tag

pytestmark = pytest.mark.integration


class RestartableNats:
    """A nats-server with JetStream on a fixed port and store dir, stopped and started at will."""

    def __init__(self, store: Path):
        self.store = store
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        with open(self.store.parent / "nats-server.log", "ab") as log:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not come up")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    nats = RestartableNats(tmp_path / "nats" / "jetstream")
    nats.start()
    yield nats
    nats.stop()


async def test_the_daemon_rides_out_a_nats_server_restart(server, tmp_path):
    require("bwrap")
    runs = ("bounce-a", "bounce-b")
    await create_streams(server.url)
    daemon = DaemonProcess(server.url, tmp_path / "state", lease_ttl_s=6.0).start()
    try:
        for run_id in runs:
            await publish_raw(server.url, request(run_id, max_nodes=3))
        await run_events(server.url, runs[0], until=lambda ev: any(e["type"] == "node.dispatched" for e in ev))
        server.stop()
        await anyio.sleep(3)
        server.start()
        await run_events(server.url, runs[0], until=lambda ev: any(e["type"] == "node.scored" for e in ev), timeout_s=120)
        server.stop()
        await anyio.sleep(1)
        server.start()
        for run_id in runs:
            await run_events(server.url, run_id, timeout_s=240)
        for run_id in runs:
            events, summary = await settled_summary(server.url, run_id)
            assert_one_clean_history(events, 3)
            assert summary == folded_summary(events, summary)
            owners = {e.owner for e in events if tag(e) == "run.started"}
            assert len(owners) == 1, "the same daemon carried the run through"
        assert daemon.alive(), daemon.log_text()[-3000:]
        assert "run.crashed" not in daemon.log_text()
    finally:
        daemon.stop()
