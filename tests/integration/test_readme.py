"""The README works as written: its Python snippets compile as scripts, the client snippet runs
against a real daemon, and a command whose reader stops early (`airad ... | head`) ends quietly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess
from tests.resilience.helpers import create_streams, request

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_snippets(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_python_snippet_compiles_as_a_script(path):
    for number, snippet in enumerate(python_snippets(path)):
        compile(snippet, f"{path.name} snippet {number}", "exec")  # top-level `async with` would fail here


def client_snippet() -> str:
    [snippet] = [s for s in python_snippets(ROOT / "README.md") if "airad.Client(" in s and "asyncio.run" in s]
    return snippet


async def test_the_client_snippet_runs_as_shown(nats_url, tmp_path):
    require("bwrap")
    await create_streams(nats_url)
    small = tmp_path / "small.json"
    small.write_bytes(request("readme-snippet", "wine", max_nodes=2))
    script = client_snippet().replace("nats://127.0.0.1:4222", nats_url).replace("examples/quickstart.toml", str(small))
    (tmp_path / "snippet.py").write_text(script)
    daemon = DaemonProcess(nats_url, tmp_path / "state", lease_ttl_s=30.0).start()
    try:
        done = await anyio.run_process(
            [sys.executable, str(tmp_path / "snippet.py")], cwd=ROOT, check=False, stdin=subprocess.DEVNULL
        )
    finally:
        daemon.stop()
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert "RunSubmitted" in out and "RunFinished" in out and "finished" in out
    assert "test_score" in out, "the nodes table is printed"


def test_a_reader_that_stops_early_is_no_failure(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` gone before airad writes a byte
    env = {**os.environ, "AIRAD_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "airad.cli", "schema"],
        stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, timeout=120,
    )  # fmt: skip
    os.close(write_end)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
