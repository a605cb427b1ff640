"""One `airad run` against a real local model server: the request, the command, and reading its events.

Shared by tests/realmodel/test_local_model.py and bench/real_model.py. The server comes from
tests/infra/llama_server.py; the key is a dummy (llama.cpp ignores it, litellm's openai provider
wants one), passed by name as every key is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

KEY_ENV = "LOCAL_LLM_KEY"

REQUEST = """\
seed = {seed}

[task]
kind = "bundled"
name = "{task}"

[policy]
kind = "greedy"
num_drafts = {num_drafts}

[model]
name = "openai/{alias}"
api_base = "{api_base}"
api_key_env = "{key_env}"
context_tokens = {context_tokens}
max_tokens = {max_tokens}
temperature = 0.7
timeout_s = {timeout_s}
concurrency = 1

[budget]
max_nodes = {max_nodes}
wall_seconds = {wall_seconds}

[executor]
kind = "local"
node_timeout_s = 120
"""


def request_toml(
    api_base: str,
    *,
    alias: str = "smollm2",
    context_tokens: int = 4096,
    max_tokens: int = 1024,
    max_nodes: int = 4,
    num_drafts: int = 2,
    task: str = "iris",
    seed: int = 1,
    timeout_s: float = 600.0,
    wall_seconds: float = 3600.0,
) -> str:
    """A greedy run on a bundled task, its model the local server at `api_base`."""
    return REQUEST.format(
        seed=seed,
        task=task,
        num_drafts=num_drafts,
        alias=alias,
        api_base=api_base,
        key_env=KEY_ENV,
        context_tokens=context_tokens,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        max_nodes=max_nodes,
        wall_seconds=wall_seconds,
    )


def airad(*args: str, state_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The `airad` command with this interpreter, its state in `state_dir`, the dummy key set."""
    env = {
        **os.environ,
        "AIRAD_STATE_DIR": str(state_dir),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        KEY_ENV: "none",
    }
    return subprocess.run(
        [sys.executable, "-m", "airad.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def events(run_id: str, state_dir: Path) -> list[dict]:
    """The run's events, as `airad events RUN --json` prints them (one JSON object a line)."""
    done = airad("events", run_id, "--json", state_dir=state_dir)
    if done.returncode != 0:
        raise RuntimeError(f"airad events failed: {done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@dataclass
class Node:
    """What the events say about one node."""

    node_id: int
    operator: str
    events: list[dict] = field(default_factory=list)

    def last(self, kind: str) -> dict | None:
        found = [e for e in self.events if e["type"] == kind]
        return found[-1] if found else None

    @property
    def outcome(self) -> str:
        """ "valid", "buggy" (scored, not valid), "failed at <stage>: <reason>", or "unfinished"."""
        failed = self.last("node.failed")
        if failed is not None:
            return f"failed at {failed['stage']}: {failed['reason']}"
        scored = self.last("node.scored")
        if scored is not None:
            return "valid" if scored["valid"] else f"buggy: {scored.get('error', '')}"
        return "unfinished"

    @property
    def calls(self) -> list[dict]:
        """The model calls of its generation (node.generated or node.failed)."""
        for kind in ("node.generated", "node.failed"):
            event = self.last(kind)
            if event is not None and event.get("calls"):
                return list(event["calls"])
        return []


def nodes(run_events: list[dict]) -> dict[int, Node]:
    """The run's nodes by id, each with its own events."""
    found: dict[int, Node] = {}
    for event in run_events:
        if event["type"] == "node.selected":
            found[event["node_id"]] = Node(event["node_id"], event["operator"])
        if "node_id" in event and event["node_id"] in found:
            found[event["node_id"]].events.append(event)
    return found
