"""NATS with authentication and TLS, configured from settings, against a real nats-server started
with that config: with the right credentials a daemon (the CLI's `airad run`) and `airad.Client`
work; with wrong or missing ones they fail fast with one line naming the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import msgspec
import pytest

from airad.client import Client
from airad.events.connect import NatsConnectError, connect_options, safe_url
from airad.daemon.settings import NatsAuth, load_settings
from tests.conftest import require
from tests.security.servers import AuthNats

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TINY_RUN = """
seed = 1
[task]
kind = "bundled"
name = "breast-cancer"
[policy]
kind = "greedy"
num_drafts = 1
[budget]
max_nodes = 1
"""


@pytest.fixture(params=["password", "token", "nkey", "tls"])
def server(request, tmp_path):
    started = AuthNats.start(tmp_path / "nats", request.param)
    yield started
    started.stop()


def airad(*args, state_dir, env=None, timeout=240):
    environment = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    return subprocess.run([sys.executable, "-m", "airad.cli", *args], env=environment, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def auth_env(server: AuthNats, auth: NatsAuth | None = None) -> dict[str, str]:
    return {**server.env, "AIRAD_NATS_AUTH": msgspec.json.encode(auth or server.auth).decode()}


def test_settings_read_nats_auth_from_toml_and_environment(tmp_path):
    config = tmp_path / "airad.toml"
    config.write_text('[nats_auth]\nuser = "u"\npassword_env = "P"\ntls_ca_file = "/ca.pem"\n')
    assert load_settings(config, env={}).nats_auth == NatsAuth(user="u", password_env="P", tls_ca_file="/ca.pem")
    settings = load_settings(None, env={"AIRAD_NATS_AUTH": '{"token_env": "T"}'})
    assert settings.nats_auth == NatsAuth(token_env="T")
    assert "T" in json.dumps(msgspec.to_builtins(settings)) and "secret" not in json.dumps(msgspec.to_builtins(settings))


def test_connect_options_and_safe_url(tmp_path):
    assert connect_options("nats://h:1") == {}
    assert connect_options("nats://h:1", user="u", password="p") == {"user": "u", "password": "p"}
    assert "tls" in connect_options("tls://h:1")
    with pytest.raises(NatsConnectError, match="nkey seed file .* does not exist"):
        connect_options("nats://h:1", nkey_seed_file=str(tmp_path / "missing.nk"))
    assert safe_url("nats://u:hunter2@h:4222") == "nats://***@h:4222"
    assert safe_url("tls://h:4222") == "tls://h:4222"


def test_a_run_with_the_right_credentials_finishes(server, tmp_path):
    require("bwrap")
    request = tmp_path / "tiny.toml"
    request.write_text(TINY_RUN)
    done = airad("--nats", server.url, "run", "--json", str(request), state_dir=tmp_path / "state", env=auth_env(server))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "finished"
    runs = airad("--nats", server.url, "runs", "--json", state_dir=tmp_path / "state", env=auth_env(server))
    assert runs.returncode == 0, runs.stderr
    assert [r["status"] for r in json.loads(runs.stdout)] == ["finished"]
    assert not (tmp_path / "state" / "nats.json").exists(), "no embedded server was started"


def _fails_clearly(result, *fragments: str, seconds: float) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert seconds < 30, f"took {seconds:.1f}s: it must fail, not hang"
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("airad: "), result.stderr
    for fragment in fragments:
        assert fragment in line, line


WRONG = {
    "password": (NatsAuth(user="airad", password_env="WRONG_PASSWORD"), {"WRONG_PASSWORD": "not-it"}, "refused the credentials"),
    "token": (NatsAuth(token_env="WRONG_TOKEN"), {"WRONG_TOKEN": "not-it"}, "refused the credentials"),
    "nkey": (None, {}, "refused the credentials"),  # another user's seed: made below
    "tls": (NatsAuth(user="airad", password_env="P"), {"P": "x"}, "TLS with NATS at tls://127.0.0.1"),  # no CA: unverifiable
}


@pytest.mark.parametrize("credentials", ["wrong", "missing"])
def test_wrong_or_missing_credentials_fail_fast_with_a_clear_error(server, tmp_path, credentials):
    kind = server.kind
    if credentials == "missing":
        auth, env, expected = NatsAuth(), {}, ("refused the credentials" if kind != "tls" else "TLS with NATS",)
    else:
        auth, env, message = WRONG[kind]
        if kind == "nkey":
            from tests.security.servers import make_nkey_user

            (tmp_path / "other").mkdir()
            _, other_seed = make_nkey_user(tmp_path / "other")
            auth = NatsAuth(nkey_seed_file=str(other_seed))
        expected = (message,)
    started = time.monotonic()
    result = airad("--nats", server.url, "runs", state_dir=tmp_path / "state", env={"AIRAD_NATS_AUTH": msgspec.json.encode(auth).decode(), **env}, timeout=60)
    _fails_clearly(result, *expected, seconds=time.monotonic() - started)
    for secret in server.secrets:
        assert secret not in result.stderr


@pytest.fixture(params=["password", "token"])
def server_with_env_secret(request, tmp_path):
    started = AuthNats.start(tmp_path / "nats", request.param)
    yield started
    started.stop()


def test_a_missing_secret_variable_is_named(server_with_env_secret, tmp_path):
    server = server_with_env_secret
    variable = next(iter(server.env))
    started = time.monotonic()
    result = airad("--nats", server.url, "runs", state_dir=tmp_path / "state", env={"AIRAD_NATS_AUTH": msgspec.json.encode(server.auth).decode()}, timeout=60)
    _fails_clearly(result, f"the variable {variable} is not set", seconds=time.monotonic() - started)


async def test_the_python_client_connects_with_matching_keyword_arguments(server):
    async with Client(server.url, **server.client_kwargs) as client:
        assert await client.runs() == []
    wrong = dict(server.client_kwargs)
    if "password" in wrong:
        wrong["password"] = "not-it"
    if "token" in wrong:
        wrong["token"] = "not-it"
    if "nkey_seed_file" in wrong:
        wrong = {}
    if "tls_ca_file" in wrong:
        wrong.pop("tls_ca_file")
    started = time.monotonic()
    with pytest.raises(NatsConnectError, match="refused the credentials|TLS with NATS"):
        async with Client(server.url, connect_timeout_s=5, **wrong):
            pass
    assert time.monotonic() - started < 15
