"""Secrets in the daemon's environment and settings never reach an event, a blob or a log.

A real `airad daemon` process runs against a nats-server that wants a password, with an OpenAI key
in its environment (`OPENAI_API_KEY`, which litellm reads by itself) and another key named by a
model spec's `api_key_env`. The model is a local OpenAI-compatible server that fails every call
with an error quoting the request's Authorization header, as careless servers do. Afterwards every
event (`airad events --json` and the raw streams), every blob in the object store, every KV entry,
the daemon's log and every file under its state dir are searched for the secret values.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import msgspec
import nats
import pytest

from airad.client import Client
from airad.events.connect import connect_nats, connect_options
from airad.events.jetstream import BLOB_STREAM, BLOBS_BUCKET, RUNS_BUCKET
from tests.integration.daemon_process import DaemonProcess
from tests.openai_server import ok, openai_server, status  # noqa: F401  (openai_server is a fixture)
from tests.security.servers import AuthNats

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def airad(*args, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airad.cli", *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def request_toml(run_id: str, api_base: str, key_line: str) -> str:
    return f"""
run_id = "{run_id}"
seed = 1
[task]
kind = "bundled"
name = "breast-cancer"
[policy]
kind = "greedy"
num_drafts = 2
[budget]
max_nodes = 2
[model]
name = "openai/test-model"
api_base = "{api_base}"
timeout_s = 5
{key_line}
"""


async def _everything_in_nats(server: AuthNats) -> bytes:
    """Every message of every stream (events, requests, KV buckets, small blobs, object store chunks) plus every large blob."""
    nc = await connect_nats(server.url, connect_options(server.url, **server.client_kwargs), name="leak-scan")
    chunks: list[bytes] = []
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            name = stream.config.name
            if not stream.state.messages:
                continue
            for seq in range(stream.state.first_seq, stream.state.last_seq + 1):
                try:
                    message = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                chunks += [message.subject.encode(), message.data or b"", repr(message.headers).encode()]
        assert (await js.stream_info(BLOB_STREAM)).state.messages, "the runs stored blobs (prompts at least)"
        store = await js.object_store(BLOBS_BUCKET)
        try:
            large = await store.list()
        except nats.js.errors.NotFoundError:
            large = []
        for info in large:
            chunks.append((await store.get(info.name)).data)
        runs = await js.key_value(RUNS_BUCKET)
        for key in await runs.keys():
            chunks.append((await runs.get(key)).value or b"")
    finally:
        await nc.close()
    return b"\n".join(chunks)


async def test_no_secret_reaches_an_event_a_blob_or_a_log(openai_server, tmp_path: Path):  # noqa: F811
    openai_server.default = status(401, echo_auth=True)
    server = AuthNats.start(tmp_path / "nats", "password")
    openai_key = "sk-openai-" + secrets.token_hex(12)
    model_key = "sk-model-" + secrets.token_hex(12)
    nats_password = server.env["AIRAD_TEST_NATS_PASSWORD"]
    secret_values = [openai_key, model_key, nats_password]
    env = {
        **server.env,
        "AIRAD_NATS_AUTH": msgspec.json.encode(server.auth).decode(),
        "OPENAI_API_KEY": openai_key,
        "MY_MODEL_KEY": model_key,
        "AIRAD_STATE_DIR": str(tmp_path / "state"),
    }
    daemon = DaemonProcess(server.url, tmp_path / "state", env=env).start()
    try:
        requests = []
        for run_id, key_line in [("by-name", 'api_key_env = "MY_MODEL_KEY"'), ("from-env", "")]:
            requests.append(tmp_path / f"{run_id}.toml")
            requests[-1].write_text(request_toml(run_id, f"{openai_server.url}/v1", key_line))
        # The client's check asks the model (served by this test's loop, so not from a blocking call): refused.
        checked = [await asyncio.to_thread(airad, "--nats", server.url, "submit", str(r), env=env) for r in requests]
        # The daemon's check passes, then every call is refused: prompts and answers reach the blob store.
        openai_server.check = ok("OK")
        for request in requests:
            submitted = airad("--nats", server.url, "submit", "--no-model-check", str(request), env=env)
            assert submitted.returncode == 0, submitted.stderr
        async with Client(server.url, **server.client_kwargs) as client:
            states = [await client.wait(run_id) for run_id in ("by-name", "from-env")]
        events_json = [airad("--nats", server.url, "events", run_id, "--json", env=env) for run_id in ("by-name", "from-env")]
        everything = await _everything_in_nats(server)
    finally:
        daemon.stop()
        server.stop()

    # The model saw the keys and quoted them back: so there was something to leak.
    sent = {r.headers.get("Authorization") for r in openai_server.requests}
    assert {f"Bearer {model_key}", f"Bearer {openai_key}"} <= sent
    assert all(c.returncode == 1 and "was refused its API key" in c.stderr for c in checked), [c.stderr for c in checked]
    assert all(s.status == "finished" and s.nodes and all(n.status == "failed" for n in s.nodes) for s in states)
    assert all("AuthenticationError" in n.failure for s in states for n in s.nodes)
    for result in events_json:
        assert result.returncode == 0, result.stderr
        assert "node.failed" in result.stdout
    logs = daemon.log_text()
    assert "daemon.ready" in logs
    state_files = b"\n".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    places = {"events --json": "\n".join(r.stdout + r.stderr for r in events_json).encode(), "nats": everything,
              "submit's check": "\n".join(c.stdout + c.stderr for c in checked).encode(),
              "daemon log": logs.encode(), "state dir": state_files}
    for where, text in places.items():
        for secret in secret_values:
            assert secret.encode() not in text, f"a secret reached the {where}"


def test_the_model_layer_redacts_every_secret_looking_variable():
    from airad.daemon.llm_faults import redact, secret_values

    env = {"OPENAI_API_KEY": "sk-aaaaaaaaaa", "GH_TOKEN": "ghp_bbbbbbbbbb", "DB_PASSWORD": "cccccccccc", "HOME": "/root/dddddddd", "X_KEY": "short"}
    found = secret_values(env)
    assert set(found) == {"sk-aaaaaaaaaa", "ghp_bbbbbbbbbb", "cccccccccc"}
    text = "401 for Bearer sk-aaaaaaaaaa (ghp_bbbbbbbbbb, cccccccccc) at /root/dddddddd with sk-explicit"
    assert redact(text, "sk-explicit", found) == "401 for Bearer *** (***, ***) at /root/dddddddd with ***"
