"""`airad tui` in a real terminal (tmux on a private socket): a replay from a file, and the live view
of a run that a real daemon process is carrying out."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw
from tests.replay.make_golden import log_path

pytestmark = pytest.mark.integration

NODE_LINE = re.compile(r"\b(\d+) (?:draft|improve|debug)\b")


class Terminal:
    """A tmux server of its own running one command in a 120×40 window."""

    def __init__(self, socket: Path, command: list[str], env: dict[str, str]):
        self.tmux = require("tmux")
        self.socket = socket
        shell = f"{shlex.join(command)}; echo airad exited $?; sleep 30"
        self._tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", shell, env=env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run([self.tmux, "-S", str(self.socket), "-f", "/dev/null", "-u", *args],
                                capture_output=True, text=True, timeout=10, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def screen(self) -> str:
        """What the pane shows now."""
        return self._tmux("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        """Type keys (tmux names: Enter, End, Right, q)."""
        self._tmux("send-keys", "-t", "tui", *keys)

    def wait_for(self, predicate, timeout_s: float = 30.0, what: str = "the screen") -> str:
        """The first screen for which `predicate` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([self.tmux, "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10)


def tui_env(state_dir: Path) -> dict[str, str]:
    return {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@pytest.fixture
def terminals(tmp_path):
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        terminal = Terminal(tmp_path / f"tmux-{len(opened)}", [sys.executable, "-m", "airad.cli", *args],
                            tui_env(tmp_path / "state"))
        opened.append(terminal)
        return terminal

    yield open_terminal
    for terminal in opened:
        terminal.close()


def test_replay_a_file_in_a_real_terminal(terminals):
    terminal = terminals("tui", "--from", str(log_path("greedy")))
    terminal.wait_for(lambda s: "event 0/63" in s, what="the replay at its start")
    terminal.keys("End")
    screen = terminal.wait_for(lambda s: "run.finished" in s, what="the last event")
    assert "run golden-greedy  finished (max_nodes)" in screen and "0 draft" in screen
    terminal.keys("Home", "Right", "Right", "Right")
    terminal.wait_for(lambda s: "event 3/63" in s and "0 draft selected" in s, what="three steps in")
    terminal.keys("q")
    terminal.wait_for(lambda s: "airad exited 0" in s, what="a clean exit")


def test_a_node_appears_while_a_daemon_runs_it(terminals, nats_url, tmp_path):
    require("bwrap")
    daemon = DaemonProcess(nats_url, tmp_path / "daemon").start()
    try:
        terminal = terminals("--nats", nats_url, "tui")
        terminal.wait_for(lambda s: "0 of 0 runs" in s, what="the empty runs list")
        request = {"run_id": "tui-live", "task": {"kind": "bundled", "name": "iris"},
                   "policy": {"kind": "greedy", "num_drafts": 2}, "budget": {"max_nodes": 3}}
        anyio.run(publish_raw, nats_url, json.dumps(request).encode())
        terminal.wait_for(lambda s: "tui-live" in s, timeout_s=60, what="the run in the list")
        terminal.keys("Enter")
        running = terminal.wait_for(
            lambda s: "run tui-live  running" in s and NODE_LINE.search(s) is not None, timeout_s=60,
            what="a node of the running run",
        )
        assert "in flight" in running
        finished = terminal.wait_for(lambda s: "finished (max_nodes)" in s, timeout_s=120, what="the run's end")
        assert set(NODE_LINE.findall(finished)) == {"0", "1", "2"}
        terminal.keys("Escape")
        terminal.wait_for(lambda s: "1 of 1 runs" in s and "3/" in s, what="the list again, with the final counts")
        terminal.keys("q")
        terminal.wait_for(lambda s: "airad exited 0" in s, what="a clean exit")
    finally:
        daemon.stop()


def test_usage_errors_need_no_terminal(tmp_path):
    def airad(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "airad.cli", *args], env=tui_env(tmp_path / "state"),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    replay = airad("tui", "--replay")
    assert replay.returncode == 2 and "--replay needs a RUN" in replay.stderr
    missing = airad("tui", "--from", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "cannot replay" in missing.stderr
