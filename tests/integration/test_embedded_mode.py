"""`airad run` and `airad submit --wait` on the embedded nats-server, as a user stops them: a signal says
what was stopped and stops the server, running the file again resumes its run, and two commands on one
state dir share one server, which the last of them stops."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airad.daemon.nats_server import EmbeddedNats
from tests.conftest import require
from tests.integration.test_cli import airad

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WINE_RUN = """
seed = {seed}
[task]
kind = "bundled"
name = "wine"
[policy]
kind = "greedy"
num_drafts = 2
[budget]
max_nodes = 2
[executor]
kind = "local"
node_timeout_s = 120
"""


class Command:
    """`airad ARGS` as a background process in its own session, its output in files beside the state dir."""

    def __init__(self, *args: str, state_dir: Path, name: str):
        self.state_dir = state_dir
        self.stdout_file = state_dir.parent / f"{name}.out"
        self.stderr_file = state_dir.parent / f"{name}.err"
        env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        with open(self.stdout_file, "w") as stdout, open(self.stderr_file, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "airad.cli", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )

    @property
    def stdout(self) -> str:
        """What it printed on stdout so far."""
        return self.stdout_file.read_text()

    @property
    def stderr(self) -> str:
        """What it printed on stderr so far."""
        return self.stderr_file.read_text()

    def wait_for(self, text: str, timeout: float = 240) -> None:
        """Wait until `text` is on its stdout; fails if it ends first or takes longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            assert self.process.poll() is None, f"ended with {self.process.returncode}: {self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} in {timeout}s: {self.stdout}"
            time.sleep(0.2)

    def stop(self, signum: int) -> int:
        """Send `signum`; its exit code."""
        self.process.send_signal(signum)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        """SIGKILL it if it still runs, and stop the server a killed command leaves behind."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            EmbeddedNats(self.state_dir).stop_recorded()


@pytest.fixture
def commands():
    """The background commands a test started, killed if a test leaves one running."""
    started: list[Command] = []
    yield started
    for command in started:
        command.kill()


def _request(tmp_path: Path, seed: int = 1) -> Path:
    path = tmp_path / f"wine-{seed}.toml"
    path.write_text(WINE_RUN.format(seed=seed))
    return path


def _server_pid(state_dir: Path) -> int:
    return json.loads((state_dir / "nats.json").read_text())["pid"]


def _running(pid: int) -> bool:
    """Whether `pid` runs; a zombie (stopped, not yet reaped by whoever adopted it) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def _assert_server_stopped(state_dir: Path, pid: int) -> None:
    assert not _running(pid), "the embedded nats-server was left running"
    assert not (state_dir / "nats.json").exists()


def _runs(state_dir: Path) -> list[dict]:
    listed = airad("runs", "--json", state_dir=state_dir)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_ctrl_c_says_how_to_resume_and_running_the_file_again_resumes_that_run(tmp_path, commands):
    require("bwrap")
    state, request = tmp_path / "state", _request(tmp_path)
    run = Command("run", str(request), state_dir=state, name="first")
    commands.append(run)
    run.wait_for("node   0")
    server = _server_pid(state)

    assert run.stop(signal.SIGINT) == 130
    assert "airad: interrupted; run req-1 stopped at " in run.stderr
    assert "of 2 nodes. Run the same command again to resume it" in run.stderr
    _assert_server_stopped(state, server)
    [interrupted] = _runs(state)
    assert interrupted["run_id"] == "req-1" and interrupted["status"] in ("new", "running")

    again = airad("run", str(request), state_dir=state)
    assert again.returncode == 0, again.stderr
    assert "resuming run req-1 of this request (interrupted at " in again.stdout
    assert "run req-1 finished (max_nodes): 2 nodes" in again.stdout
    [finished] = _runs(state)
    assert finished["run_id"] == "req-1" and finished["status"] == "finished" and finished["nodes"] == 2


def test_sigterm_stops_the_run_and_its_server(tmp_path, commands):
    require("bwrap")
    state = tmp_path / "state"
    run = Command("run", str(_request(tmp_path)), state_dir=state, name="run")
    commands.append(run)
    run.wait_for("node   0")
    server = _server_pid(state)

    assert run.stop(signal.SIGTERM) == 143
    assert "airad: interrupted; run req-1 stopped at " in run.stderr
    _assert_server_stopped(state, server)


def test_two_runs_share_one_server_which_the_last_to_end_stops(tmp_path, commands):
    require("bwrap")
    state = tmp_path / "state"
    first = Command("run", str(_request(tmp_path, seed=1)), state_dir=state, name="first")
    commands.append(first)
    first.wait_for("node   0")
    server = _server_pid(state)
    first.process.send_signal(signal.SIGSTOP)  # held until the second has joined, so that they overlap
    try:
        second = Command("run", str(_request(tmp_path, seed=2)), state_dir=state, name="second")
        commands.append(second)
        second.wait_for("run req-2: wine")
    finally:
        first.process.send_signal(signal.SIGCONT)
    assert _server_pid(state) == server, "the second uses the first's server"
    assert "note: 1 other run is unfinished" in second.stdout

    assert first.process.wait(timeout=300) == 0, first.stderr
    assert second.process.wait(timeout=300) == 0, second.stderr
    for output in (first.stdout, second.stdout):
        assert "finished (max_nodes): 2 nodes" in output
    _assert_server_stopped(state, server)
    assert sorted((r["run_id"], r["status"]) for r in _runs(state)) == [("req-1", "finished"), ("req-2", "finished")]


def test_sigterm_to_submit_wait_leaves_no_server(tmp_path, commands):
    state = tmp_path / "state"
    submit = Command("submit", "--wait", "--no-model-check", str(_request(tmp_path)), state_dir=state, name="submit")
    commands.append(submit)
    submit.wait_for("run req-1 submitted; waiting")
    server = _server_pid(state)

    assert submit.stop(signal.SIGTERM) == 143
    assert "airad: interrupted; stopped following run req-1" in submit.stderr
    _assert_server_stopped(state, server)
