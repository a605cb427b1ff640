"""A run through a real daemon (`airad run`) on a real small model's recorded answers: SmolLM2-135M
served by llama.cpp, replayed from tests/cassettes/smollm2.json by tests/cassette_server.py. Each
behaviour a weak model shows is handled and recorded: an answer cut off at max_tokens is asked again
with twice the room; prose without code and code that does not compile are not run; every answer is
kept; an empty code block is no code; the review tool is forced and a review that is not one is recorded as none; a node without a
script is never debugged; a script that crashes is."""

from __future__ import annotations

import json

import pytest

from tests.cassette_server import CassetteServer, answer_text, cassette_server, entry  # noqa: F401  (a fixture)
from tests.conftest import require
from tests.integration.test_cli import airad_async

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REQUEST = """
run_id = "recorded"
seed = 1
[task]
kind = "bundled"
name = "iris"
[policy]
kind = "greedy"
num_drafts = 3
debug_prob = 1.0
[operators]
template_set = "aide"
analyze = true
[budget]
max_nodes = 4
[model]
name = "openai/smollm2"
api_base = "{base}/v1"
api_key_env = "LOCAL_LLM_KEY"
max_tokens = 40
context_tokens = 4096
timeout_s = 30
[executor]
kind = "local"
node_timeout_s = 60
"""


async def _airad(*args: str, state_dir) -> tuple[int, str, str]:
    return await airad_async(*args, state_dir=state_dir, env={"LOCAL_LLM_KEY": "none"}, timeout=280)


async def test_a_run_on_a_real_models_recorded_answers(tmp_path, cassette_server: CassetteServer):
    require("bwrap")
    cassette_server.queue(
        "draft-truncated", "draft-prose",  # node 0: cut off, then prose: no script
        "draft-code", "improve-aira-7",  # node 1: code that does not compile, then a script (it crashes)
        "analyze-tool-forced",  # its review, a real tool call
        "draft-empty-block", "debug-aira-7",  # node 2: an empty code block, then a script
        "analyze-tool-ignored",  # its review: text that is no review
    )
    request = tmp_path / "request.toml"
    request.write_text(REQUEST.format(base=cassette_server.url))
    state_dir = tmp_path / "state"
    code, stdout, stderr = await _airad("run", str(request), state_dir=state_dir)
    assert code == 0, stderr
    assert "run recorded finished (max_nodes): 4 nodes" in stdout, stdout
    _, events_out, _ = await _airad("events", "recorded", "--json", state_dir=state_dir)
    events = [json.loads(line) for line in events_out.splitlines()]
    by_node: dict[int, list[dict]] = {}
    for event in events:
        if "node_id" in event:
            by_node.setdefault(event["node_id"], []).append(event)

    check, *asked = cassette_server.requests
    assert check.body["max_tokens"] == 1, "the model is checked before the first node"
    assert [r.body["max_tokens"] for r in asked[:2]] == [40, 80], "a cut-off answer is asked again with twice the room"

    failed = next(e for e in by_node[0] if e["type"] == "node.failed")
    assert failed["stage"] == "generate" and failed["prompt_ref"]
    assert [c["finish_reason"] for c in failed["calls"]] == ["length", "stop"]
    assert [c["problem"] for c in failed["calls"]] == [
        "cut off at max_tokens (40 tokens)", "the answer contains no Python code block",
    ]
    assert [c["max_tokens"] for c in failed["calls"]] == [40, 80]
    assert failed["llm_seconds"] == pytest.approx(sum(c["seconds"] for c in failed["calls"]), abs=0.01)
    assert failed["completion_tokens"] == sum(c["completion_tokens"] for c in failed["calls"]) > 0

    generated = next(e for e in by_node[1] if e["type"] == "node.generated")
    assert [c["problem"].split(":")[0] for c in generated["calls"]] == ["the script does not compile", ""]
    assert generated["code"].strip() in answer_text(entry("improve-aira-7"))
    executed = next(e for e in by_node[1] if e["type"] == "node.executed")
    assert executed["exit_code"] != 0, "the model's script ran, and crashed"
    reviewed = next(e for e in by_node[1] if e["type"] == "node.analyzed")
    assert reviewed["via"] == "tool" and reviewed["summary"] and reviewed["prompt_ref"]
    second = next(e for e in by_node[2] if e["type"] == "node.generated")
    assert [c["problem"] for c in second["calls"]] == ["the answer's code block is empty", ""], "empty code is no code"
    ignored = next(e for e in by_node[2] if e["type"] == "node.analyzed")
    assert (ignored["via"], ignored["summary"]) == ("none", ""), "an answer that is no review is recorded as none"
    analyze_requests = [r.body for r in cassette_server.requests if r.body.get("tools")]
    assert analyze_requests and all(
        b["tool_choice"] == {"type": "function", "function": {"name": "submit_review"}} for b in analyze_requests
    )

    [last] = [e for e in by_node[3] if e["type"] == "node.selected"]
    assert last["operator"] == "debug" and last["parent_ids"] in ([1], [2]), "only a node with a script is debugged"

    code, shown, stderr = await _airad("show", "recorded", "--node", "0", state_dir=state_dir)
    assert code == 0, stderr
    assert "model answers: 2 in" in shown and "finish length, " in shown and "cut off at max_tokens" in shown
    first_line = answer_text(entry("draft-truncated")).splitlines()[0]
    assert f"     | {first_line}" in shown, "the text of each unused answer is shown"
