"""The `airad` command as a user runs it: a real process, a real embedded nats-server."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess

pytestmark = pytest.mark.integration

SMALL_RUN = """
seed = 2
[task]
kind = "bundled"
name = "breast-cancer"
[policy]
kind = "greedy"
num_drafts = 2
[budget]
max_nodes = 2
"""


def airad(*args, state_dir, timeout=300):
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-m", "airad.cli", *args], env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


async def airad_async(*args, state_dir, env=None, timeout=280) -> tuple[int, str, str]:
    """`airad` without blocking the test's event loop (for tests whose model server runs in it):
    (exit code, stdout, stderr); `env` adds to the environment."""
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "airad.cli", *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, stdout.decode(), stderr.decode()


def test_run_then_inspect_with_runs_show_events(tmp_path):
    require("bwrap")
    request = tmp_path / "small.toml"
    request.write_text(SMALL_RUN)
    state = tmp_path / "state"
    done = airad("run", str(request), state_dir=state)
    assert done.returncode == 0, done.stderr
    assert "run req-1: breast-cancer with greedy" in done.stdout
    assert done.stdout.count("  node ") == 2
    assert "run req-1 finished (max_nodes): 2 nodes" in done.stdout
    assert "best node" in done.stdout and "held-out test roc_auc" in done.stdout
    assert not (state / "nats.json").exists(), "the private nats-server is stopped afterwards"

    runs = airad("runs", "--json", state_dir=state)
    assert runs.returncode == 0, runs.stderr
    [summary] = json.loads(runs.stdout)
    assert summary["run_id"] == "req-1" and summary["status"] == "finished" and summary["nodes"] == 2
    assert summary["metric"] == "roc_auc" and summary["best_score"] > 0.5

    show = airad("show", "req-1", "--json", state_dir=state)
    state_json = json.loads(show.stdout)
    assert [n["operator"] for n in state_json["nodes"]] == ["draft", "draft"]
    table = airad("show", "req-1", state_dir=state)
    assert "NODE  OPERATOR" in table.stdout
    node = airad("show", "req-1", "--node", "1", state_dir=state)
    assert node.returncode == 0, node.stderr
    assert "node 1 of run req-1: draft" in node.stdout and "code:" in node.stdout and "import" in node.stdout
    assert "model's review" in node.stdout
    missing = airad("show", "req-1", "--node", "9", state_dir=state)
    assert missing.returncode == 1 and "has no node 9" in missing.stderr

    events = airad("events", "req-1", "--json", state_dir=state)
    lines = [json.loads(line) for line in events.stdout.splitlines()]
    assert lines[0]["type"] == "run.submitted" and lines[-1]["type"] == "run.finished"
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert "node.scored" in airad("events", "req-1", state_dir=state).stdout


def test_errors_are_clear_and_exit_non_zero(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[task]\nkind = "bundled"\nname = "breast-cancer"\n[budget]\nmax_nodes = 0\n')
    result = airad("submit", str(bad), state_dir=tmp_path / "s")
    assert result.returncode == 2
    assert "$.budget.max_nodes" in result.stderr and ">= 1" in result.stderr

    missing = airad("submit", str(tmp_path / "nope.toml"), state_dir=tmp_path / "s")
    assert missing.returncode == 2 and "cannot read" in missing.stderr

    unknown = airad("show", "no-such-run", state_dir=tmp_path / "s")
    assert unknown.returncode == 1 and "no run 'no-such-run'" in unknown.stderr

    usage = airad("frobnicate", state_dir=tmp_path / "s")
    assert usage.returncode == 2


def test_submit_wait_against_a_running_daemon(nats_url, tmp_path):
    require("bwrap")
    # A lease of 30 s, not the tests' 2 s: this test is about submit --wait, and on a loaded machine a
    # 2 s lease was once lost mid-node (the same daemon took the run back; see issue 20's note).
    daemon = DaemonProcess(nats_url, tmp_path / "daemon", lease_ttl_s=30.0).start().wait_ready()
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"run_id": "cli-wait", "task": {"kind": "bundled", "name": "wine"},
                                   "budget": {"max_nodes": 1}}))
    try:
        result = airad("--nats", nats_url, "submit", str(request), "--wait", "--json", state_dir=tmp_path / "cli")
    finally:
        daemon.stop()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["run_id"] == "cli-wait" and summary["status"] == "finished" and summary["metric"] == "accuracy"
    assert "no daemon is taking requests" not in result.stderr, result.stderr


def test_submit_with_no_daemon_says_the_request_waits_for_one(nats_url, tmp_path):
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"run_id": "nobody-home", "task": {"kind": "bundled", "name": "wine"}}))
    result = airad("--nats", nats_url, "submit", str(request), "--no-model-check", state_dir=tmp_path / "cli")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nobody-home"
    assert "no daemon is taking requests on this NATS now: run nobody-home waits" in result.stderr, result.stderr
