"""A whole run whose model is a real HTTP server misbehaving: each fault lands on its node, the search goes on,
and the API key never reaches an event."""

from __future__ import annotations

import json
import time

import anyio
import pytest

from airad.daemon.llm import LiteLLMClient
from airad.daemon.runner import drive_run
from airad.daemon.run_services import RunServices
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.schemas.events import NodeAnalyzed, RunSubmitted, encode_event
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget, BundledTask, ModelSpec, RunRequest
from tests.fakes import InlineExecutor
from tests.openai_server import garbage, hang, ok, openai_server, status, tool_call  # noqa: F401
from tests.unit.test_runner import GOOD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
KEY = "sk-live-do-not-leak"
REVIEW = json.dumps({"is_bug": False, "summary": "Trained a tree.", "metric": 0.93, "lower_is_better": False})


async def test_each_model_fault_is_recorded_on_its_node_and_the_run_finishes(openai_server, tmp_path):
    openai_server.queue(
        status(429, retry_after=0.1), ok(GOOD),            # node 0: rate limited, then answers
        tool_call("submit_review", REVIEW),                # node 0 analyze: a tool call
        status(500), status(500),                           # node 1: server errors past the retries
        ok("I would rather not write code today."), ok("Still no code, sorry."),  # node 2: prose twice
        garbage(), garbage(),                               # node 3: a non-JSON body twice
        hang(3.0), ok(GOOD),                                # node 4: a timeout, then an answer
        ok(f"```json\n{REVIEW}\n```"),                      # node 4 analyze: JSON in text
    )
    # A local server's defaults retry no timeout; node 4 shows the hosted behaviour, asked for explicitly.
    model = ModelSpec(name="openai/test-model", api_base=f"{openai_server.url}/v1", api_key_env="AIRAD_TEST_KEY",
                      timeout_s=1.0, retry_timeouts=True)
    request = RunRequest(task=BundledTask(name="breast-cancer"), model=model, budget=Budget(max_nodes=5),
                         policy=GreedyPolicy(num_drafts=5, debug_prob=0.0))
    log = InMemoryEventLog()
    await log.append(RunSubmitted(run_id="faulty", seq=1, at=time.time(), request=request))
    services = RunServices(
        log=log, blobs=InMemoryBlobStore(), index=InMemoryRunIndex(),
        llm=LiteLLMClient(env={"AIRAD_TEST_KEY": KEY}, retries=1, backoff_s=0.01),
        executors={"local": InlineExecutor()}, limiters={"local": anyio.CapacityLimiter(1)},
        tasks_root=tmp_path / "tasks", owner="test",
    )
    state = await drive_run(services, "faulty")

    nodes = state.nodes
    assert state.status == "finished" and len(nodes) == 5
    assert nodes[0].status == "scored" and nodes[0].valid
    assert nodes[1].status == "failed" and "InternalServerError" in nodes[1].failure
    assert nodes[2].status == "failed" and "no usable answer" in nodes[2].failure
    assert nodes[3].status == "failed" and "model call failed" in nodes[3].failure
    assert nodes[4].status == "scored" and nodes[4].valid
    analyzed = {e.node_id: e for e in await log.read("faulty") if isinstance(e, NodeAnalyzed)}
    assert analyzed[0].via == "tool" and analyzed[0].metric == 0.93
    assert analyzed[4].via == "json" and analyzed[4].summary == "Trained a tree."
    assert nodes[0].reported_metric == 0.93 and nodes[0].score != 0.93, "the harness score stands beside the model's"
    assert all(r.headers.get("Authorization") == f"Bearer {KEY}" for r in openai_server.requests)
    assert not any(KEY.encode() in encode_event(e) for e in await log.read("faulty"))
