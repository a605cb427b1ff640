"""Several NATS servers in one setting, as NATS tools take them (`--nats nats://a,nats://b` or
AIRAD_NATS_URL), and the global options after the command (`airad daemon --nats URL`): a real CLI
process against a real nats-server, with a dead server listed first."""

from __future__ import annotations

import socket

import pytest

from airad.cli.main import build_parser
from airad.events.connect import safe_url, server_urls
from tests.integration.test_cli import airad_async

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_setting_lists_servers_comma_separated_and_hides_their_passwords():
    assert server_urls(" nats://a:4222, nats://b:4222 ,") == ["nats://a:4222", "nats://b:4222"]
    assert safe_url("nats://u:secret@a:4222,nats://b:4222") == "nats://***@a:4222,nats://b:4222"


def test_global_options_go_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["daemon", "--nats", "nats://x:4222"]).nats == "nats://x:4222"
    assert parser.parse_args(["--nats", "nats://a:4222", "runs"]).nats == "nats://a:4222"
    assert parser.parse_args(["--nats", "nats://a:4222", "runs", "--nats", "nats://b:4222"]).nats == "nats://b:4222"
    assert parser.parse_args(["runs", "--state-dir", "/s"]).state_dir == "/s"
    assert parser.parse_args(["runs"]).nats is None


async def test_the_cli_reaches_the_live_server_of_a_list_whose_first_is_down(nats_url, tmp_path):
    servers = f"nats://127.0.0.1:{_closed_port()},{nats_url}"
    code, stdout, stderr = await airad_async("runs", "--json", "--nats", servers, state_dir=tmp_path, timeout=60)
    assert code == 0, stderr
    assert stdout.strip().startswith("[")
    code, _, stderr = await airad_async(
        "runs", state_dir=tmp_path, env={"AIRAD_NATS_URL": f"nats://127.0.0.1:{_closed_port()}"}, timeout=60
    )
    assert code != 0 and "nothing is listening at NATS at nats://127.0.0.1" in stderr, stderr
