"""The highly available deployment's files (deploy/, docs/deployment.md), checked cheaply: the systemd
units parse and run what they should, the example settings load, the nats-server config passes the
server's own check, and every nats-server command line of the doc's "Try it on one machine" uses only
flags the shipped nats-server has. The daemon image is not built here (minutes: see the Containerfile
and docs/deployment.md); its files are checked statically."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from airad.daemon.nats_server import nats_server_binary
from airad.daemon.settings import load_settings
from airad.events.connect import server_urls

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOC = ROOT / "docs" / "deployment.md"

# systemd options that break bubblewrap's namespaces or its /proc, the per-job cgroups, or the jobs
# (a seccomp filter is inherited): the daemon's unit must not set them.
SANDBOX_BREAKERS = (
    "RestrictNamespaces",
    "PrivateUsers",
    "ProtectControlGroups",
    "ProtectKernelTunables",
    "ProtectProc",
    "ProcSubset",
    "SystemCallFilter",
    "MemoryDenyWriteExecute",
)


def unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file read as INI, keys kept as written (systemd's are case-sensitive)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(), source=str(path))
    return parser


def seconds(value: str) -> float:
    """A systemd time span such as `60s`, `2min` or `90` (seconds) in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m)?", value.strip())
    assert match, f"not a time span: {value!r}"
    number, suffix = float(match[1]), match[2] or "s"
    return number * {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60}[suffix]


def section(markdown: str, heading: str) -> str:
    """The text of the `## heading` section, up to the next `## ` heading."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def shell_lines(markdown: str) -> list[str]:
    """The command lines of the ```sh blocks of `markdown`, continuation lines joined."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_the_daemon_unit_runs_airad_daemon_with_its_config_restarts_it_and_lets_it_hand_back_its_runs():
    service = unit(DEPLOY / "systemd" / "airad-daemon.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "airad" and argv[1:] == ["daemon", "--config", "/etc/airad/airad.toml"]
    assert service["Restart"] in ("always", "on-failure") and seconds(service["RestartSec"]) >= 1
    assert service["EnvironmentFile"].lstrip("-") == "/etc/airad/airad.env"
    assert service["User"] not in ("", "root", "0")
    # SIGTERM to the daemon alone, time to release its leases, then the rest of the cgroup killed.
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert seconds(service["TimeoutStopSec"]) >= 30
    # The local executor's per-job cgroups: a delegated subtree, the daemon in a leaf of it.
    assert service["Delegate"] == "yes" and service["DelegateSubgroup"]
    assert not set(SANDBOX_BREAKERS) & set(service), "a hardening option that breaks the sandbox"
    assert "multi-user.target" in unit(DEPLOY / "systemd" / "airad-daemon.service")["Install"]["WantedBy"]


def test_the_nats_server_unit_runs_each_server_from_its_config_and_stops_it_in_lame_duck_mode():
    service = unit(DEPLOY / "systemd" / "nats-server@.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "nats-server" and argv[1:] == ["-c", "/etc/nats/%i.conf"]
    assert service["KillSignal"] == "SIGUSR2" and service["Restart"] in ("always", "on-failure")
    assert service["User"] not in ("", "root", "0")


def test_the_example_settings_load_and_ask_every_stream_of_three_servers():
    settings = load_settings(DEPLOY / "airad.toml", env={})
    assert settings.nats_replicas == 3
    assert len(server_urls(settings.nats_url or "")) == 3
    assert settings.sandbox is True and settings.state_dir == "/var/lib/airad"
    # Secrets are named, never given: the password's variable is one airad.env lists, with no value.
    variable = settings.nats_auth.password_env
    assert variable and settings.nats_auth.password_file is None
    env_lines = [line for line in (DEPLOY / "airad.env").read_text().splitlines() if line and not line.startswith("#")]
    assert f"{variable}=" in env_lines
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*=", line) for line in env_lines), env_lines


def test_the_example_nats_config_passes_the_servers_own_check():
    config = DEPLOY / "nats" / "n1.conf"
    env = {**os.environ, "AIRAD_NATS_PASSWORD": "not-a-secret"}
    check = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)], capture_output=True, text=True, env=env, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    text = config.read_text()
    assert "$AIRAD_NATS_PASSWORD" in text and re.search(r"^\s*jetstream\s*\{", text, re.M)
    assert len(re.findall(r"nats://[^\s]+:6222", text)) == 3


def test_every_nats_server_line_of_try_it_uses_flags_the_shipped_nats_server_has():
    binary = nats_server_binary()
    usage = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", usage.stdout + usage.stderr))
    assert {"-js", "-sd", "--cluster", "--routes", "--cluster_name"} <= known, "nats-server --help changed shape"
    try_it = section(DOC.read_text(), "Try it on one machine")
    servers = [line for line in shell_lines(try_it) if Path(shlex.split(line)[0]).name == "nats-server"]
    assert len(servers) == 3
    clients, routes = set(), None
    for line in servers:
        argv = [arg for arg in shlex.split(line) if arg != "&"]
        flags = [arg for arg in argv[1:] if arg.startswith("-")]
        assert set(flags) <= known, f"unknown nats-server flags {set(flags) - known} in: {line}"
        options = {flag: value for flag, value in zip(argv, argv[1:], strict=False) if flag.startswith("-")}
        clients.add(options["-p"])
        assert options["--cluster"] in options["--routes"].split(",")
        assert routes in (None, options["--routes"])
        routes = options["--routes"]
    exported = re.search(r"AIRAD_NATS_URL=(\S+)", try_it)
    assert exported and {url.rsplit(":", 1)[1] for url in server_urls(exported[1])} == clients


def test_the_daemon_image_is_airad_daemon_on_the_runtime_images_base_with_bubblewrap():
    containerfile = (DEPLOY / "Containerfile").read_text()
    runtime_base = re.search(r"^ARG BASE=(\S+)", (ROOT / "Containerfile").read_text(), re.M)
    assert runtime_base and f"ARG BASE={runtime_base[1]}" in containerfile
    assert "bubblewrap" in containerfile
    # pip install . of the checkout, held to the lock
    assert "-c /tmp/airad-build/src/constraints.txt /tmp/airad-build/src" in containerfile
    entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"\]', containerfile, re.M)
    assert entrypoint and f"COPY deploy/airad-entrypoint.sh {entrypoint[1]}" in containerfile
    script = (DEPLOY / "airad-entrypoint.sh").read_text()
    assert script.rstrip().splitlines()[-1] == 'exec airad daemon "$@"'
    # The build script copies into its context every path the Containerfile copies from it.
    build = (DEPLOY / "build-daemon-image.sh").read_text()
    for source in ("pyproject.toml", "README.md", "constraints.txt", "airad", "deploy/airad-entrypoint.sh"):
        assert (ROOT / source).exists()
        assert Path(source).name in build
    for script_path in (DEPLOY / "airad-entrypoint.sh", DEPLOY / "build-daemon-image.sh"):
        assert os.access(script_path, os.X_OK), f"{script_path} is not executable"
    assert subprocess.run(["sh", "-n", str(DEPLOY / "airad-entrypoint.sh")]).returncode == 0
    assert subprocess.run(["bash", "-n", str(DEPLOY / "build-daemon-image.sh")]).returncode == 0


def test_the_doc_names_only_files_that_exist_and_the_readme_links_it():
    doc = DOC.read_text()
    named = set(re.findall(r"`(deploy/[\w./@-]+)`", doc))
    assert {"deploy/systemd/airad-daemon.service", "deploy/Containerfile", "deploy/airad.toml"} <= named
    assert all((ROOT / path).exists() for path in named), sorted(p for p in named if not (ROOT / p).exists())
    assert "docs/deployment.md" in (ROOT / "README.md").read_text()
    tomllib.loads((DEPLOY / "airad.toml").read_text())  # plain TOML too, as any tool reads it
