"""The cassette server (tests/cassette_server.py): a real small model's recorded answers, served again.

The cassette (tests/cassettes/smollm2.json) holds real answers of SmolLM2-135M-Instruct from
llama-cpp-python's server. These tests check the cassette holds each case the docs promise, that the
server hands each recorded body back verbatim (over plain HTTP and through litellm, as the daemon's
`LiteLLMClient` reads it), and how it picks an answer when nothing is queued.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp  # noqa: E402
import pytest  # noqa: E402

from airad.agents.analysis import REVIEW_TOOL  # noqa: E402
from airad.agents.answers import AnswerError, parse_answer  # noqa: E402
from airad.agents.operators import Message  # noqa: E402
from airad.daemon.llm import LiteLLMClient  # noqa: E402
from airad.schemas.request import ModelSpec  # noqa: E402
from tests.cassette_server import (  # noqa: E402, F401  (cassette_server is a fixture)
    CASSETTE,
    CassetteServer,
    answer_text,
    cassette_server,
    entry,
    load_cassette,
)
from tests.cassettes.record import has_empty_block, is_prose, prompt_messages  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

KEY_ENV = "LOCAL_LLM_KEY"
FORCED = {"type": "function", "function": {"name": REVIEW_TOOL["function"]["name"]}}


def spec(server: CassetteServer, max_tokens: int = 1024) -> ModelSpec:
    return ModelSpec(
        name="openai/smollm2",
        api_base=server.url + "/v1",
        api_key_env=KEY_ENV,
        max_tokens=max_tokens,
        temperature=0.7,
        timeout_s=10.0,
    )


def client() -> LiteLLMClient:
    return LiteLLMClient(env={KEY_ENV: "none"}, backoff_s=0.01)


def messages(prompt_set: str, operator: str) -> tuple[Message, ...]:
    return tuple(Message(m["role"], m["content"]) for m in prompt_messages(prompt_set, operator))


async def post(server: CassetteServer, body: dict) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


def without_fresh_fields(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("id", "created", "model")}


def test_the_cassette_holds_each_case_of_a_weak_model():
    cassette = load_cassette()
    assert CASSETTE.stat().st_size < 200_000
    meta = cassette["meta"]
    for key in ("model_file", "llama_cpp_python", "n_threads", "n_ctx", "date"):
        assert meta.get(key), key
    labels = [e["label"] for e in cassette["entries"]]
    assert len(labels) == len(set(labels))
    for e in cassette["entries"]:
        assert e["shape"]["operator"] and e["shape"]["max_tokens"] > 0 and "seed" in e["request"]
        assert e["response"]["choices"] and e["response"]["usage"]["completion_tokens"] > 0

    def finish(label: str) -> str:
        return entry(label)["response"]["choices"][0]["finish_reason"]

    assert finish("draft-truncated") == "length" and entry("draft-truncated")["shape"]["max_tokens"] <= 64
    # What the recorder looked for, and what airad's parser makes of it: no script either way.
    assert is_prose(entry("draft-prose")["response"]) and has_empty_block(entry("draft-empty-block")["response"])
    for label in ("draft-prose", "draft-empty-block"):
        with pytest.raises(AnswerError):
            parse_answer(answer_text(entry(label)))
    ignored, forced = entry("analyze-tool-ignored"), entry("analyze-tool-forced")
    assert ignored["shape"]["tools"] and ignored["shape"]["tool_choice"] is None
    assert not ignored["response"]["choices"][0]["message"].get("tool_calls")
    assert forced["shape"]["tool_choice"] == FORCED
    [call] = forced["response"]["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "submit_review"
    assert {e["shape"]["operator"] for e in cassette["entries"] if e["ordinary"]} >= {"draft", "improve", "debug"}


async def test_queued_entries_are_served_verbatim(cassette_server: CassetteServer):
    cassette_server.queue("draft-prose", "draft-truncated")
    for label in ("draft-prose", "draft-truncated"):
        body = await post(cassette_server, {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}]})
        recorded = entry(label)["response"]
        assert without_fresh_fields(body) == without_fresh_fields(recorded)
        assert body["model"] == "smollm2" and body["id"] != recorded["id"]
    assert cassette_server.served == ["draft-prose", "draft-truncated"]
    assert [r.body["messages"][0]["content"] for r in cassette_server.requests] == ["hi", "hi"]


async def test_answers_reach_the_daemons_client_through_litellm(cassette_server: CassetteServer):
    labels = ("draft-code", "draft-truncated", "draft-prose", "draft-empty-block")
    cassette_server.queue(*labels)
    llm = client()
    for label in labels:
        completion = await llm.complete(spec(cassette_server), messages("aide", "draft"))
        recorded = entry(label)["response"]
        assert completion.text == answer_text(entry(label))
        assert completion.finish_reason == recorded["choices"][0]["finish_reason"]
        assert completion.completion_tokens == recorded["usage"]["completion_tokens"]
        assert completion.prompt_tokens == recorded["usage"]["prompt_tokens"]
        assert completion.tool_arguments is None
    sent = cassette_server.requests[0]
    assert sent.headers["Authorization"] == "Bearer none"
    assert sent.body["model"] == "smollm2" and sent.body["max_tokens"] == 1024
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]


async def test_a_forced_tool_call_arrives_as_tool_arguments(cassette_server: CassetteServer):
    cassette_server.queue("analyze-tool-forced", "analyze-tool-ignored")
    llm = client()
    forced = await llm.complete(spec(cassette_server, 512), messages("aide", "analyze"), tools=[REVIEW_TOOL])
    [call] = entry("analyze-tool-forced")["response"]["choices"][0]["message"]["tool_calls"]
    assert forced.tool_arguments == call["function"]["arguments"]
    assert forced.finish_reason == "tool_calls"
    ignored = await llm.complete(spec(cassette_server, 512), messages("aide", "analyze"), tools=[REVIEW_TOOL])
    assert ignored.tool_arguments is None and ignored.text == answer_text(entry("analyze-tool-ignored"))
    assert all(r.body["tools"][0]["function"]["name"] == "submit_review" for r in cassette_server.requests)


async def test_without_a_queue_the_answer_follows_the_requests_shape(cassette_server: CassetteServer):
    offered = {
        "model": "smollm2",
        "messages": prompt_messages("aide", "analyze"),
        "tools": [REVIEW_TOOL],
        "max_tokens": 512,
    }
    assert without_fresh_fields(await post(cassette_server, offered)) == without_fresh_fields(
        entry("analyze-tool-ignored")["response"]
    )
    assert without_fresh_fields(
        await post(cassette_server, {**offered, "tool_choice": FORCED})
    ) == without_fresh_fields(entry("analyze-tool-forced")["response"])

    debug = {"model": "smollm2", "messages": prompt_messages("aira", "debug"), "max_tokens": 1024}
    ordinary_debug = [
        e["label"] for e in load_cassette()["entries"] if e["ordinary"] and e["shape"]["operator"] == "debug"
    ]
    for _ in range(len(ordinary_debug) + 1):
        await post(cassette_server, debug)
    assert cassette_server.served[2:] == [*ordinary_debug, ordinary_debug[0]]  # cycling

    unknown = {"model": "smollm2", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}
    await post(cassette_server, unknown)
    assert entry(cassette_server.served[-1])["ordinary"]


async def test_a_model_check_gets_the_probe_and_leaves_the_queue(cassette_server: CassetteServer):
    cassette_server.queue("draft-prose")
    probe = await post(
        cassette_server, {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    )
    assert probe["usage"]["completion_tokens"] == 1
    await post(
        cassette_server, {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 256}
    )
    assert cassette_server.served == ["probe", "draft-prose"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{cassette_server.url}/v1/models") as response:
            listed = await response.json()
    assert [m["id"] for m in listed["data"]] == ["smollm2"]


def test_queueing_an_unknown_label_fails_at_once():
    server = CassetteServer()
    with pytest.raises(KeyError, match="draft-haiku"):
        server.queue("draft-prose", "draft-haiku")
    assert not server.script
