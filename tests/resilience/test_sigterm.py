"""SIGTERM with runs in flight: the daemon stops taking requests, leaves its runs at a safe point (the
job in flight keeps running, nothing is failed or half-written), exits 0 within a bound, and the next
daemon resumes every run and takes the requests that came in meanwhile.
(tests/integration/test_daemon.py has the single-run case.)"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.resilience.helpers import assert_one_clean_history, create_streams, read_history, request, tag

pytestmark = pytest.mark.integration

EXIT_BOUND_S = 30
NODES = 2  # the stop comes at the first run's first dispatch: each run still has a node to go after it


async def test_sigterm_stops_at_a_safe_point_and_the_next_daemon_resumes(nats_url, tmp_path):
    require("bwrap")
    await create_streams(nats_url)
    first = DaemonProcess(nats_url, tmp_path / "state").start()
    second = DaemonProcess(nats_url, tmp_path / "state")
    runs = ("term-a", "term-b")
    try:
        for run_id in runs:
            await publish_raw(nats_url, request(run_id, max_nodes=NODES))
        await run_events(nats_url, runs[0], until=lambda ev: bool(ev) and ev[-1]["type"] == "node.dispatched")
        first.process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        try:
            code = first.process.wait(timeout=EXIT_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon did not exit within {EXIT_BOUND_S} s of SIGTERM")
        assert code == 0, first.log_text()[-3000:]
        stopped_after = time.monotonic() - began
        late = "term-late"
        await publish_raw(nats_url, request(late, max_nodes=1))
        interrupted, _ = await read_history(nats_url, runs[0])
        assert tag(interrupted[-1]) != "run.finished"
        assert not [e for e in interrupted if tag(e) == "node.failed"], "stopping failed no node"
        late_events, _ = await read_history(nats_url, late)
        assert late_events == [], "a stopped daemon takes no request"
        second.start()
        for run_id in (*runs, late):
            await run_events(nats_url, run_id, timeout_s=240)
        for run_id, nodes in ((runs[0], NODES), (runs[1], NODES), (late, 1)):
            events, _ = await read_history(nats_url, run_id)
            assert_one_clean_history(events, nodes)
            executed = [e for e in events if tag(e) == "node.executed"]
            assert all(e.killed is None for e in executed), "no job was killed by the stop"
        events, _ = await read_history(nats_url, runs[0])
        assert events[: len(interrupted)] == interrupted
        starts = [e for e in events if tag(e) == "run.started"]
        assert len(starts) == 2 and starts[1].resumed
        assert "Traceback" not in first.log_text()
        assert stopped_after < EXIT_BOUND_S
    finally:
        first.kill()
        second.stop()
