"""A broken model, as a user meets it: `airad run` and `airad submit` against a real HTTP server that
refuses the key or does not know the model, and against a port where no server listens. The run ends
at once with reason "model" and the cause, instead of spending its budget on calls that cannot work."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad_async
from tests.openai_server import ScriptedServer, openai_server, status  # noqa: F401  (openai_server: a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REQUEST = """
[task]
kind = "bundled"
name = "iris"
[policy]
kind = "greedy"
[budget]
max_nodes = 20
[model]
name = "openai/local-model"
api_base = "{base}"
api_key_env = "LOCAL_LLM_KEY"
timeout_s = 10
"""


async def _airad(*args: str, state_dir) -> tuple[int, str, str]:
    return await airad_async(*args, state_dir=state_dir, env={"LOCAL_LLM_KEY": "none"}, timeout=200)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_run_whose_server_is_down_ends_at_once_naming_it(tmp_path):
    require("bwrap")
    request = tmp_path / "down.toml"
    request.write_text(REQUEST.format(base=f"http://127.0.0.1:{_closed_port()}/v1"))
    code, stdout, stderr = await _airad("run", str(request), state_dir=tmp_path / "state")
    assert code == 1, stderr
    assert "finished (model): 0 nodes" in stdout, stdout
    assert "why: the model openai/local-model could not be reached" in stdout


async def test_a_refused_key_ends_the_run_after_one_request(tmp_path, openai_server: ScriptedServer):
    require("bwrap")
    openai_server.default = status(401)
    request = tmp_path / "key.toml"
    request.write_text(REQUEST.format(base=f"{openai_server.url}/v1"))
    code, stdout, stderr = await _airad("run", str(request), state_dir=tmp_path / "state")
    assert code == 1, stderr
    assert "finished (model): 0 nodes" in stdout and "was refused its API key" in stdout, stdout
    assert len(openai_server.requests) == 1, "the check is one call, and a refused key is never retried"
    assert openai_server.requests[0].body["max_tokens"] == 1


async def test_submit_refuses_a_model_its_server_does_not_know(tmp_path, openai_server: ScriptedServer):
    openai_server.default = status(404)
    request = tmp_path / "unknown.toml"
    request.write_text(REQUEST.format(base=f"{openai_server.url}/v1"))
    code, stdout, stderr = await _airad("submit", str(request), state_dir=tmp_path / "state")
    assert code == 1
    assert "the model openai/local-model is not known to its server" in stderr and "nothing was submitted" in stderr
    assert len(openai_server.requests) == 1
