"""The execution cache as a user meets it: `airad run` (a real daemon, nats-server and sandboxed local
executor) with a model (a real HTTP server) that answers every draft with the same script. The first
node runs; the others are recorded as cached from it, never dispatched, and scored the same."""

from __future__ import annotations

import json

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad_async
from tests.openai_server import ScriptedServer, ok, openai_server  # noqa: F401  (openai_server: a fixture)
from tests.unit.test_runner import GOOD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REQUEST = """
run_id = "{run_id}"
[task]
kind = "bundled"
name = "breast-cancer"
[policy]
kind = "greedy"
num_drafts = 3
[budget]
max_nodes = 3
[operators]
analyze = false
[model]
name = "openai/local-model"
api_base = "{base}"
api_key_env = "LOCAL_LLM_KEY"
[executor]
kind = "local"
cache = {cache}
"""


async def _events(tmp_path, server: ScriptedServer, cache: str = "true") -> list[dict]:
    run_id = f"same-script-{cache}"
    request = tmp_path / f"{run_id}.toml"
    request.write_text(REQUEST.format(run_id=run_id, base=f"{server.url}/v1", cache=cache))
    env = {"LOCAL_LLM_KEY": "none"}
    code, stdout, stderr = await airad_async("run", str(request), state_dir=tmp_path / "state", env=env, timeout=200)
    assert code == 0, stdout + stderr
    code, stdout, stderr = await airad_async("events", run_id, "--json", state_dir=tmp_path / "state", timeout=60)
    return [json.loads(line) for line in stdout.splitlines()]


async def test_identical_scripts_run_once_and_are_recorded_as_cached(tmp_path, openai_server: ScriptedServer):
    require("bwrap")
    openai_server.default = ok(GOOD)
    events = await _events(tmp_path, openai_server, "true")
    dispatched = [e["node_id"] for e in events if e["type"] == "node.dispatched"]
    executed = {e["node_id"]: e for e in events if e["type"] == "node.executed"}
    scored = {e["node_id"]: e for e in events if e["type"] == "node.scored"}
    assert dispatched == [0], dispatched
    assert [executed[n]["cached_from"] for n in (0, 1, 2)] == [None, 0, 0]
    assert executed[1]["outputs"] == executed[0]["outputs"] and executed[1]["duration_s"] == 0.0
    assert scored[0]["valid"] and scored[1]["score"] == scored[2]["score"] == scored[0]["score"]
    # With `cache = false` every node runs: tests/unit/test_runner.py.
