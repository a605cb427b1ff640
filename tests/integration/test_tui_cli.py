"""`airad tui` refuses what it cannot show before the app starts: a run the log does not hold, a replay
file that is missing or holds no events. No terminal is needed, since it errors before the app."""

import os
import subprocess
import sys

import pytest

from airad.events.jetstream import JetStreamEventLog
from tests.replay.make_golden import load

pytestmark = pytest.mark.integration

EXIT_FAILED = 1


def airad_tui(*args: str, state_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "airad.cli", *args], env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def assert_one_line_error(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == EXIT_FAILED, (done.returncode, done.stdout, done.stderr)
    assert done.stderr == f"airad: {message}\n"
    assert done.stdout == ""


def test_an_unknown_run_is_an_error_on_an_empty_server(nats_url, tmp_path):
    done = airad_tui("--nats", nats_url, "tui", "nosuch", state_dir=tmp_path / "state")
    assert_one_line_error(done, "no run nosuch in this log (airad runs lists them)")


async def test_an_unknown_run_is_an_error_beside_a_known_one(nats_url, js, tmp_path):
    log = JetStreamEventLog(js)
    for event in load("greedy"):
        await log.append(event)
    for args in (("nosuch",), ("nosuch", "--replay"), ("golden-greedyy",)):
        done = airad_tui("--nats", nats_url, "tui", *args, state_dir=tmp_path / "state")
        assert_one_line_error(done, f"no run {args[0]} in this log (airad runs lists them)")


def test_a_replay_file_that_is_missing_or_holds_no_events_is_an_error(tmp_path):
    missing = tmp_path / "nope.jsonl"
    done = airad_tui("tui", "--from", str(missing), state_dir=tmp_path / "state")
    assert_one_line_error(done, f"cannot replay {missing}: [Errno 2] No such file or directory: '{missing}'")

    not_events = tmp_path / "notes.txt"
    not_events.write_text('a note\n{"kind": "header"}\n[1, 2]\n')
    done = airad_tui("tui", "--from", str(not_events), state_dir=tmp_path / "state")
    assert_one_line_error(done, f"cannot replay {not_events}: {not_events}: no events in it")

    done = airad_tui("tui", "--from", str(tmp_path), state_dir=tmp_path / "state")
    assert done.returncode == EXIT_FAILED and done.stderr.startswith(f"airad: cannot replay {tmp_path}: ")
