"""The model layer against a real OpenAI-compatible HTTP server: litellm, retries, limits, keys.

Nothing here mocks litellm: `LiteLLMClient.complete` goes through litellm and the OpenAI SDK to a
scripted aiohttp server on loopback (tests/openai_server.py). What litellm raises for each failure,
as observed with litellm 1.81: 429 -> RateLimitError, 500 -> InternalServerError,
503 -> ServiceUnavailableError, a read timeout -> Timeout, a 200 with a non-JSON body ->
InternalServerError (so it is retried), a 200 with no choices -> a response that `complete` rejects.
"""

from __future__ import annotations

import asyncio
import time
import json
import os

import msgspec

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest  # noqa: E402

from airad.agents.analysis import REVIEW_TOOL, parse_review  # noqa: E402
from airad.agents.operators import Message  # noqa: E402
from airad.daemon.llm import LiteLLMClient, LLMError  # noqa: E402
from airad.schemas.request import ModelSpec  # noqa: E402
from tests.openai_server import (  # noqa: E402, F401  (openai_server is a fixture)
    ScriptedServer,
    empty_choices,
    garbage,
    hang,
    ok,
    openai_server,
    status,
    tool_call,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

KEY = "sk-test-123"
MESSAGES = (Message("system", "You are terse."), Message("user", "Say hello."))


def spec(server: ScriptedServer, *, timeout_s: float = 5.0, v1: bool = True, **settings) -> ModelSpec:
    """The server's model. With `api_base` set it is a local server's, whose retry defaults are 1 try
    again and no timeout retried; `settings` (`retries`, `retry_timeouts`) set them as for a hosted API."""
    base = f"{server.url}/v1" if v1 else server.url
    return ModelSpec(
        name="openai/test-model", api_base=base, api_key_env="AIRAD_TEST_KEY", timeout_s=timeout_s, max_tokens=64,
        temperature=0.2, **settings,
    )


def client(**options) -> LiteLLMClient:
    options.setdefault("retries", 2)
    return LiteLLMClient(env={"AIRAD_TEST_KEY": KEY}, backoff_s=0.01, **options)


async def test_plain_success_sends_key_and_reads_usage(openai_server: ScriptedServer):
    openai_server.queue(ok("hello there"))
    c = await client().complete(spec(openai_server), MESSAGES)
    assert (c.text, c.prompt_tokens, c.completion_tokens, c.attempts) == ("hello there", 11, 7, 1)
    assert c.tool_arguments is None and c.model == "openai/test-model" and c.cost_usd == 0.0
    [sent] = openai_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "test-model"
    assert sent.body["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
    assert sent.body["temperature"] == 0.2 and sent.body["max_tokens"] == 64
    assert "tools" not in sent.body


async def test_api_base_without_v1_posts_to_chat_completions(openai_server: ScriptedServer):
    c = await client().complete(spec(openai_server, v1=False), MESSAGES)
    assert c.text == "hello"
    assert [r.path for r in openai_server.requests] == ["/chat/completions"]


async def test_429_is_retried_after_retry_after(openai_server: ScriptedServer):
    openai_server.queue(status(429, retry_after=0.3), ok("after the wait"))
    c = await client().complete(spec(openai_server), MESSAGES)
    assert (c.text, c.attempts) == ("after the wait", 2)
    first, second = openai_server.requests
    # The backoff alone would be ~0.02 s: the lower bound proves Retry-After was honoured.
    assert second.arrived - first.arrived >= 0.25


async def test_500_then_success_is_retried(openai_server: ScriptedServer):
    openai_server.queue(status(500), ok("recovered"))
    c = await client().complete(spec(openai_server), MESSAGES)
    assert (c.text, c.attempts) == ("recovered", 2)
    assert len(openai_server.requests) == 2


async def test_503_beyond_the_retry_limit_fails_without_the_key(openai_server: ScriptedServer):
    openai_server.default = status(503, echo_auth=True)
    with pytest.raises(LLMError) as caught:
        await client().complete(spec(openai_server, retries=2), MESSAGES)
    message = str(caught.value)
    assert "ServiceUnavailableError (after 3 tries)" in message and "503" in message and caught.value.kind == "passing"
    assert KEY not in message and "***" in message  # the server quoted the key; it was redacted
    assert len(openai_server.requests) == 3


async def test_non_retryable_status_fails_at_once(openai_server: ScriptedServer):
    openai_server.default = status(400)
    with pytest.raises(LLMError, match="BadRequestError"):
        await client(retries=3).complete(spec(openai_server), MESSAGES)
    assert len(openai_server.requests) == 1


async def test_timeout_then_success_is_retried(openai_server: ScriptedServer):
    openai_server.queue(hang(3.0), ok("in time"))
    c = await client().complete(spec(openai_server, timeout_s=0.5, retry_timeouts=True), MESSAGES)
    assert (c.text, c.attempts) == ("in time", 2)
    assert len(openai_server.requests) == 2


async def test_only_timeouts_fail(openai_server: ScriptedServer):
    openai_server.default = hang(3.0)
    with pytest.raises(LLMError, match="Timeout") as caught:
        await client(retries=1).complete(spec(openai_server, timeout_s=0.5, retry_timeouts=True), MESSAGES)
    assert KEY not in str(caught.value) and caught.value.kind == "timeout"
    assert len(openai_server.requests) == 2


async def test_garbage_body_is_retried_then_fails(openai_server: ScriptedServer):
    # litellm reports a 200 with a non-JSON body as InternalServerError, which is retryable.
    openai_server.default = garbage()
    with pytest.raises(LLMError, match="InternalServerError") as caught:
        await client(retries=1).complete(spec(openai_server), MESSAGES)
    assert KEY not in str(caught.value)
    assert len(openai_server.requests) == 2


async def test_garbage_then_success_recovers(openai_server: ScriptedServer):
    openai_server.queue(garbage(), ok("real text"))
    c = await client().complete(spec(openai_server), MESSAGES)
    assert (c.text, c.attempts) == ("real text", 2)


async def test_empty_choices_is_an_error_not_a_completion(openai_server: ScriptedServer):
    openai_server.queue(empty_choices())
    with pytest.raises(LLMError, match="no message"):
        await client().complete(spec(openai_server), MESSAGES)
    assert len(openai_server.requests) == 1


async def test_tool_call_arguments_reach_parse_review(openai_server: ScriptedServer):
    arguments = json.dumps({"is_bug": False, "summary": "Trained fine.", "metric": 0.91, "lower_is_better": False})
    openai_server.queue(tool_call("submit_review", arguments))
    c = await client().complete(spec(openai_server), MESSAGES, tools=[REVIEW_TOOL])
    assert c.tool_arguments is not None and json.loads(c.tool_arguments) == json.loads(arguments)
    [sent] = openai_server.requests
    assert [t["function"]["name"] for t in sent.body["tools"]] == ["submit_review"]
    assert sent.body["tools"][0]["function"]["parameters"] == REVIEW_TOOL["function"]["parameters"]
    review = parse_review(c.tool_arguments, c.text)
    assert (review.via, review.is_bug, review.metric, review.lower_is_better) == ("tool", False, 0.91, False)


async def test_missing_key_variable_fails_before_any_request(openai_server: ScriptedServer):
    bare = LiteLLMClient(env={"OTHER": "x"}, retries=2, backoff_s=0.01)
    with pytest.raises(LLMError, match="AIRAD_TEST_KEY"):
        await bare.complete(spec(openai_server), MESSAGES)
    assert openai_server.requests == []


async def test_per_model_concurrency_is_capped(openai_server: ScriptedServer):
    openai_server.default = ok("slow", delay=0.3)
    llm = client(concurrency=2)
    results = await asyncio.gather(*(llm.complete(spec(openai_server), MESSAGES) for _ in range(6)))
    assert [c.text for c in results] == ["slow"] * 6
    assert len(openai_server.requests) == 6
    assert openai_server.max_in_flight == 2  # never more than two; and the two slots were used


async def test_requests_per_minute_spaces_the_calls(openai_server: ScriptedServer):
    await client().complete(spec(openai_server), MESSAGES)  # warm litellm's HTTP client first
    llm = client(requests_per_minute=600)  # one call every 0.1 s
    start = time.monotonic()
    await asyncio.gather(*(llm.complete(spec(openai_server), MESSAGES) for _ in range(5)))
    # The fifth call's slot is 0.4 s after the first's: a lower bound, which load cannot break (the
    # arrival times at the server can bunch on a loaded machine, so they are not compared).
    assert time.monotonic() - start >= 0.4
    assert len(openai_server.requests) == 6


async def test_cost_comes_from_litellms_price_map(openai_server: ScriptedServer):
    import litellm

    openai_server.queue(ok("priced"))
    model = ModelSpec(name="openai/gpt-4o-mini", api_base=f"{openai_server.url}/v1", api_key_env="AIRAD_TEST_KEY")
    c = await LiteLLMClient(env={"AIRAD_TEST_KEY": KEY}, retries=0).complete(model, MESSAGES)
    prices = litellm.model_cost["gpt-4o-mini"]
    expected = c.prompt_tokens * prices["input_cost_per_token"] + c.completion_tokens * prices["output_cost_per_token"]
    assert c.cost_usd > 0
    assert c.cost_usd == pytest.approx(expected)


async def test_a_local_server_is_tried_again_once_and_a_timeout_not_at_all(openai_server: ScriptedServer):
    """The defaults for a model with api_base: one more try after a passing fault; none after a
    timeout, and the timed-out request is abandoned on the server (its connection closed)."""
    openai_server.default = status(503)
    with pytest.raises(LLMError, match=r"\(after 2 tries\)"):
        await client(retries=4).complete(spec(openai_server), MESSAGES)
    assert len(openai_server.requests) == 2
    openai_server.requests.clear()
    openai_server.default = hang(30.0)
    with pytest.raises(LLMError, match="Timeout") as caught:
        await client(retries=4).complete(spec(openai_server, timeout_s=0.5), MESSAGES)
    assert caught.value.kind == "timeout" and len(openai_server.requests) == 1
    for _ in range(100):  # the server notices the closed connection at once; the hang would last 30 s
        if openai_server.abandoned:
            break
        await asyncio.sleep(0.05)
    assert openai_server.abandoned == 1 and openai_server.in_flight == 0


async def test_an_explicit_retry_setting_wins_over_the_default(openai_server: ScriptedServer):
    openai_server.queue(status(500), status(500), status(500), ok("third time"))
    c = await client(retries=0).complete(spec(openai_server, retries=3), MESSAGES)
    assert (c.text, c.attempts) == ("third time", 4)


@pytest.mark.parametrize(
    "code, kind",
    [(401, "auth"), (403, "auth"), (404, "unknown_model")],
)
async def test_a_refused_key_or_an_unknown_model_is_never_retried(openai_server: ScriptedServer, code, kind):
    openai_server.default = status(code)
    with pytest.raises(LLMError) as caught:
        await client().complete(spec(openai_server, retries=4), MESSAGES)
    assert caught.value.kind == kind and caught.value.broken
    assert len(openai_server.requests) == 1


async def test_the_model_check_tells_a_bad_key_an_unknown_model_and_no_server_apart(openai_server: ScriptedServer):
    llm = client()
    openai_server.check = status(401)
    with pytest.raises(LLMError) as bad_key:
        await llm.check_model(spec(openai_server))
    openai_server.check = status(404)
    with pytest.raises(LLMError) as unknown:
        await llm.check_model(spec(openai_server))
    openai_server.check = ok("OK")
    await llm.check_model(spec(openai_server))
    [*_, sent] = openai_server.requests
    assert sent.body["max_tokens"] == 1, "the check asks for a single token"
    url = openai_server.url
    await openai_server.stop()
    down = ModelSpec(name="openai/test-model", api_base=f"{url}/v1", api_key_env="AIRAD_TEST_KEY", timeout_s=5)
    with pytest.raises(LLMError) as no_server:
        await llm.check_model(down)
    assert (bad_key.value.kind, unknown.value.kind, no_server.value.kind) == ("auth", "unknown_model", "unreachable")


async def test_the_model_check_passes_a_server_that_is_only_slow_or_busy(openai_server: ScriptedServer):
    openai_server.default = status(503)
    await client().check_model(spec(openai_server))  # a passing fault: the server is there
    openai_server.default = hang(30.0)
    await client().check_model(spec(openai_server, timeout_s=0.5))  # so is a busy one


async def test_a_missing_key_is_an_auth_fault_that_the_check_reports(openai_server: ScriptedServer):
    bare = LiteLLMClient(env={}, retries=2, backoff_s=0.01)
    with pytest.raises(LLMError) as caught:
        await bare.check_model(spec(openai_server))
    assert caught.value.kind == "auth" and "AIRAD_TEST_KEY" in str(caught.value)
    assert openai_server.requests == []


async def test_the_review_tool_is_forced_and_the_finish_reason_kept(openai_server: ScriptedServer):
    openai_server.queue(tool_call("submit_review", '{"is_bug": false, "summary": "ok", "metric": 1, "lower_is_better": false}'))
    openai_server.queue(ok("cut off mid", finish="length"))
    llm = client()
    reviewed = await llm.complete(spec(openai_server), MESSAGES, tools=[REVIEW_TOOL])
    cut = await llm.complete(spec(openai_server), MESSAGES)
    sent = openai_server.requests[0].body
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "submit_review"}}
    assert (reviewed.finish_reason, cut.finish_reason, cut.text) == ("tool_calls", "length", "cut off mid")


async def test_two_aliases_on_one_server_share_its_concurrency(openai_server: ScriptedServer):
    openai_server.default = ok("slow", delay=0.3)
    llm = client(concurrency=8)
    one = spec(openai_server, concurrency=1)
    other = msgspec.structs.replace(one, name="openai/another-alias")
    await asyncio.gather(*(llm.complete(m, MESSAGES) for m in (one, other, one, other)))
    assert len(openai_server.requests) == 4 and openai_server.max_in_flight == 1


async def test_seconds_count_every_try_and_its_wait(openai_server: ScriptedServer):
    openai_server.queue(status(429, retry_after=0.4), ok("after"))
    c = await client().complete(spec(openai_server), MESSAGES)
    assert c.attempts == 2 and c.seconds >= 0.4, "the wait for Retry-After is part of the call"
