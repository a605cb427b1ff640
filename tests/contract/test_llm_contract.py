"""One suite, every LLM: litellm against a real OpenAI-compatible HTTP server, the offline coder
(the `airad-offline/coder` litellm provider, the daemon's default model), and the scripted fake the
unit tests run the daemon with. The shared tests are in `llm_contract.py`; each class adds what
only its implementation promises."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch when litellm imports

import asyncio  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import anyio  # noqa: E402
import pytest  # noqa: E402

from airad.agents.analysis import REVIEW_TOOL  # noqa: E402
from airad.agents.answers import parse_answer  # noqa: E402
from airad.agents.operators import Message  # noqa: E402
from airad.daemon.llm import LiteLLMClient, LLMError  # noqa: E402
from airad.schemas.request import ModelSpec  # noqa: E402
from tests.contract.llm_contract import MESSAGES, LLMContract, analyze_messages, draft_messages, prompt  # noqa: E402
from tests.fakes import ScriptedLLM  # noqa: E402
from tests.openai_server import Behaviour, ScriptedServer, ok, status, tool_call  # noqa: E402

KEY = "sk-contract-0123456789"
KEY_ENV = "AIRAD_CONTRACT_KEY"


def _as_dicts(messages: Sequence[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.content} for m in messages]


# --- litellm over HTTP ---------------------------------------------------------------------------

ECHO = "\0echo"  # the text of a behaviour that the server below answers with its echo of the prompt


def echo(messages: Sequence[dict]) -> str:
    """What the echo server says to `messages`: a digest of all of them, and the last one's text."""
    digest = hashlib.sha256(json.dumps(list(messages), sort_keys=True).encode()).hexdigest()[:12]
    return f"[{len(messages)} messages, {digest}] you said: {messages[-1]['content']}"


class EchoServer(ScriptedServer):
    """The scripted server whose `ok(ECHO)` answer repeats the request's messages back, so that each
    prompt has an answer of its own (a crossed answer, or an altered prompt, shows)."""

    def _respond(self, b: Behaviour, body: dict, auth: str):
        if b.kind == "ok" and b.text == ECHO:
            b = ok(echo(body.get("messages") or [{"content": ""}]))
        return super()._respond(b, body, auth)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
@pytest.mark.timeout(60)
class TestLiteLLMOverHTTP(LLMContract):
    """`LiteLLMClient` through litellm and the OpenAI SDK to a scripted server on loopback."""

    @pytest.fixture
    async def server(self):
        server = EchoServer(default=ok(ECHO, delay=0.05))
        await server.start()
        try:
            yield server
        finally:
            await server.stop()

    @pytest.fixture
    async def llm(self):
        yield LiteLLMClient(env={KEY_ENV: KEY}, retries=0, backoff_s=0.01)
        await asyncio.sleep(0.05)  # let litellm's logging worker finish before the test's loop closes

    @pytest.fixture
    def model(self, server) -> ModelSpec:
        return ModelSpec(
            name="openai/test-model", api_base=f"{server.url}/v1", api_key_env=KEY_ENV, timeout_s=10, max_tokens=64,
        )

    @pytest.fixture
    def oracle(self):
        return lambda messages: echo(_as_dicts(messages))

    @pytest.fixture
    def review_ready(self, server):
        arguments = {"is_bug": False, "summary": "Trained; metric printed.", "metric": 54.3, "lower_is_better": True}
        server.queue(tool_call("submit_review", json.dumps(arguments)))

    @pytest.fixture(params=["http-400", "unreachable"])
    def failure(self, request, server, model):
        if request.param == "http-400":
            server.queue(status(400))
            return model, "BadRequestError"
        closed = f"http://127.0.0.1:{_closed_port()}/v1"
        gone = ModelSpec(name=model.name, api_base=closed, api_key_env=KEY_ENV, timeout_s=5)
        return gone, "Connection error"  # litellm reports a refused connection as InternalServerError

    async def test_usage_is_the_servers_and_seconds_cover_the_call(self, llm, model, server):
        server.queue(ok("priced", delay=0.3))
        completion = await llm.complete(model, MESSAGES)
        assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ("priced", 11, 7)
        assert completion.attempts == 1 and completion.seconds >= 0.3
        [sent] = server.requests
        assert sent.body["messages"] == _as_dicts(MESSAGES) and "tools" not in sent.body

    async def test_concurrent_calls_are_in_flight_together(self, llm, model, server):
        server.default = ok(ECHO, delay=0.3)
        with anyio.fail_after(20):
            await asyncio.gather(*(llm.complete(model, prompt(k)) for k in range(6)))
        assert len(server.requests) == 6 and server.max_in_flight > 1

    async def test_the_failing_call_names_no_key(self, llm, model, server):
        server.queue(status(400, echo_auth=True))
        with pytest.raises(LLMError) as caught:
            await llm.complete(model, MESSAGES)
        assert KEY not in str(caught.value) and "***" in str(caught.value)

    async def test_a_call_cancelled_in_flight_gives_back_its_concurrency_slot(self, model, server, oracle):
        single = LiteLLMClient(env={KEY_ENV: KEY}, retries=0, concurrency=1)
        await single.complete(model, prompt(1))  # the first call imports litellm; this test is about the second
        server.queue(ok("never read", delay=5))
        with anyio.move_on_after(0.5) as scope:
            await single.complete(model, MESSAGES)
        assert scope.cancelled_caught
        with anyio.fail_after(10):  # a slot kept by the cancelled call would block this one for good
            completion = await single.complete(model, prompt(7))
        assert completion.text == oracle(prompt(7))
        await asyncio.sleep(0.05)


# --- the offline coder ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
class TestOfflineCoder(LLMContract):
    """`LiteLLMClient` with the daemon's default model, `airad-offline/coder` (a litellm custom provider)."""

    @pytest.fixture
    async def llm(self):
        yield LiteLLMClient(retries=0, backoff_s=0.01)
        await asyncio.sleep(0.05)

    @pytest.fixture
    def model(self) -> ModelSpec:
        from airad.offline.provider import MODEL

        assert ModelSpec().name == MODEL  # the daemon's default model is the offline coder
        return ModelSpec(name=MODEL)

    @pytest.fixture
    def oracle(self):
        from airad.offline.coder import answer

        return lambda messages: answer(_as_dicts(messages))

    @pytest.fixture
    def failure(self):
        # Nothing the coder is sent makes it fail; what can fail on its way is the call itself.
        from airad.offline.provider import MODEL

        return ModelSpec(name=MODEL, api_key_env="AIRAD_CONTRACT_UNSET_KEY"), "AIRAD_CONTRACT_UNSET_KEY"

    async def test_a_draft_prompt_gets_a_plan_and_a_script_and_estimated_usage(self, llm, model):
        from airad.offline.provider import estimate_tokens

        messages = draft_messages("Predict the cultivar of a wine.")
        completion = await llm.complete(model, messages)
        answer = parse_answer(completion.text)
        assert answer.plan and "import" in answer.code
        assert completion.prompt_tokens == estimate_tokens("".join(m.content for m in messages)) > 0
        assert completion.completion_tokens == estimate_tokens(completion.text) > 0
        assert completion.cost_usd == 0.0

    async def test_answers_are_the_same_from_a_fresh_client_and_differ_between_prompts(self, llm, model):
        first = await llm.complete(model, draft_messages("Predict the cultivar of a wine."))
        fresh = LiteLLMClient(retries=0)
        again = await fresh.complete(model, draft_messages("Predict the cultivar of a wine."))
        assert again.text == first.text  # replays and resumed runs rely on this
        rounds = [draft_messages(f"Predict the cultivar, round {k}.") for k in range(4)]
        others = {(await llm.complete(model, messages)).text for messages in rounds}
        assert len(others | {first.text}) > 1

    async def test_without_tools_the_review_comes_as_json_in_text(self, llm, model):
        from airad.agents.analysis import parse_review

        completion = await llm.complete(model, analyze_messages())
        assert completion.tool_arguments is None
        review = parse_review(None, completion.text)
        assert (review.via, review.is_bug, review.metric, review.lower_is_better) == ("json", False, 54.3, True)


# --- the scripted fake ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
class TestScriptedFake(LLMContract):
    """`tests.fakes.ScriptedLLM`, answering by a function of the prompt, as the unit tests use it."""

    @staticmethod
    def say(text: str) -> str:
        return f"fake answer {hashlib.sha256(text.encode()).hexdigest()[:8]} to: {text[:60]}"

    @pytest.fixture
    def outage(self) -> list[str]:
        """Messages of failures to raise, one per call, before answering again."""
        return []

    @pytest.fixture
    def llm(self, outage):
        def answer(text: str):
            return RuntimeError(outage.pop(0)) if outage else self.say(text)

        return ScriptedLLM(answer)

    @pytest.fixture
    def model(self) -> ModelSpec:
        return ModelSpec(name="fake/scripted")

    @pytest.fixture
    def oracle(self):
        return lambda messages: self.say(messages[-1].content)

    @pytest.fixture
    def failure(self, outage, model):
        outage.append("scripted outage of the model")
        return model, "scripted outage of the model"

    async def test_it_records_prompts_and_analyze_calls_consume_no_answer(self, model):
        llm = ScriptedLLM(["first answer", "second answer"])
        assert (await llm.complete(model, MESSAGES)).text == "first answer"
        review = await llm.complete(model, analyze_messages(), tools=[REVIEW_TOOL])
        assert review.tool_arguments is not None and llm.reviews == 1
        assert (await llm.complete(model, prompt(2))).text == "second answer"
        assert llm.prompts == [MESSAGES[-1].content, prompt(2)[-1].content]
