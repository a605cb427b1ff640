"""The wire contract from outside: a Node.js client written from the docs alone (the official NATS
JavaScript client and ajv in strict mode; tests/conformance/js/conformance.mjs, docs/clients.md)
against a real nats-server and a real daemon process. It compiles every schema, validates every
example request, submits a run and an experiment, rebuilds the nodes from the events, sends the
malformed set and reuses a run id both ways; each check is one JSON line, and all must pass."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import anyio
import msgspec
import pytest

from airad.client import to_request
from airad.schemas.experiment import ExperimentRequest
from airad.schemas.request_files import inline_files
from tests.conftest import missing, require
from tests.integration.daemon_process import DaemonProcess
from tests.resilience.helpers import create_streams

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "conformance" / "js"
EXAMPLES = ROOT / "examples"


def example_requests(work: Path) -> list[Path]:
    """Every request file under examples/ (a TOML file with a `task` table or a `tasks` list; daemon
    settings and the plugins' pyproject.toml are not requests) as the JSON a client publishes: its
    named files inlined, as `airad submit` reads it (`<name>.json`), and the typed request with its
    defaults filled in, as `airad submit` publishes it (`<name>.published.json`). Written under
    `work/examples/run/` or `work/examples/experiment/`."""
    written = []
    for path in sorted([*EXAMPLES.glob("*.toml"), *EXAMPLES.glob("*/*.toml")]):
        data = tomllib.loads(path.read_text())
        if "task" not in data and "tasks" not in data:
            continue
        kind = "experiment" if "tasks" in data else "run"
        inlined = inline_files(data, path.parent)
        published = to_request(path, ExperimentRequest) if kind == "experiment" else to_request(path)
        name = "-".join(path.relative_to(EXAMPLES).with_suffix("").parts)
        folder = work / "examples" / kind
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(inlined))
        (folder / f"{name}.published.json").write_bytes(msgspec.json.encode(published))
        written.append(folder / f"{name}.json")
    return written


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def test_a_node_client_holds_to_the_documented_contract(nats_url: str, tmp_path: Path) -> None:
    node = require("node")
    require("bwrap")
    if not (CLIENT / "node_modules" / "nats").is_dir() or not (CLIENT / "node_modules" / "ajv").is_dir():
        missing(f"{CLIENT}/node_modules is missing: scripts/install-infra.sh runs npm ci there")
    work = tmp_path / "work"
    assert len(example_requests(work)) >= 5, "examples/ should hold the quickstart, experiment and more"

    anyio.run(create_streams, nats_url)
    daemon = DaemonProcess(nats_url, tmp_path / "state", lease_ttl_s=30.0).start()
    try:
        daemon.wait_ready()
        command = [node, str(CLIENT / "conformance.mjs"), nats_url, str(work)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=CLIENT)
        except subprocess.TimeoutExpired as exc:  # what it printed so far says which check hung
            result = subprocess.CompletedProcess(command, -1, _text(exc.stdout), _text(exc.stderr) + "\ntimed out")
    finally:
        daemon.stop()
    print(result.stdout)  # every check, shown with the failure (or with -rP)
    checks = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    failed = [check for check in checks if not check.get("ok")]
    report = "\n".join(json.dumps(check) for check in failed)
    assert checks, f"no check ran (exit {result.returncode}):\n{result.stderr[-4000:]}"
    assert not failed, f"{len(failed)} of {len(checks)} checks failed:\n{report}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, result.stderr[-4000:]
