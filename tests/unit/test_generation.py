"""The generate step and the run's model checks, against in-memory fakes: every answer is recorded,
a truncated answer is asked again with more room, empty code is no code, a node without a script is
never debugged, a broken model ends the run, an answer that is no review is recorded as none."""

import json

from airad.daemon.llm import Completion, LLMError
from airad.daemon.runner import drive_run
from airad.schemas.events import NodeAnalyzed, NodeFailed, NodeGenerated
from airad.schemas.request import Budget, GreedyPolicy, ModelSpec
from tests.fakes import ScriptedLLM
from tests.unit.test_runner import CRASH, GOOD, NONSENSE, _services, _submit

MODEL = ModelSpec(name="openai/small", max_tokens=100, context_tokens=100_000)


def _cut(text: str = "Plan: start.\n```python\nimport pandas as pd\nx = (") -> Completion:
    return Completion(text=text, model=MODEL.name, prompt_tokens=40, completion_tokens=100, seconds=2.0, finish_reason="length")


def _answer(text: str, seconds: float = 1.0) -> Completion:
    return Completion(text=text, model=MODEL.name, prompt_tokens=40, completion_tokens=30, seconds=seconds, finish_reason="stop")


async def _events(services, kind):
    return [e for e in await services.log.read("r") if isinstance(e, kind)]


async def test_a_truncated_answer_is_named_and_asked_again_with_twice_the_room(tmp_path):
    llm = ScriptedLLM([_cut(), _answer(GOOD, 3.0)])
    services = _services(tmp_path, llm)
    await _submit(services, model=MODEL, budget=Budget(max_nodes=1))
    state = await drive_run(services, "r")
    assert llm.max_tokens == [100, 200]
    [generated] = await _events(services, NodeGenerated)
    first, second = generated.calls
    assert (first.finish_reason, first.max_tokens, first.problem) == ("length", 100, "cut off at max_tokens (100 tokens)")
    assert (second.finish_reason, second.max_tokens, second.problem) == ("stop", 200, "")
    assert second.completion_ref == generated.completion_ref and first.completion_ref != second.completion_ref
    assert await services.blobs.get(first.completion_ref) == _cut().text.encode(), "the cut answer is kept"
    assert generated.llm_seconds == 5.0 and generated.attempts == 2, "llm_seconds is every call's time"
    assert (generated.prompt_tokens, generated.completion_tokens) == (80, 130)
    assert state.nodes[0].calls == generated.calls and state.nodes[0].llm_seconds == 5.0


async def test_more_room_never_exceeds_the_context_window(tmp_path):
    llm = ScriptedLLM([_cut(), _cut(), GOOD])
    services = _services(tmp_path, llm)
    small = ModelSpec(name="openai/small", max_tokens=100, context_tokens=1_000)
    await _submit(services, model=small, budget=Budget(max_nodes=1))
    await drive_run(services, "r")
    [failed] = await _events(services, NodeFailed)
    prompt = json.loads(await services.blobs.get(failed.prompt_ref))
    room = 1_000 - sum(len(content) for _, content in prompt) // 4
    assert llm.max_tokens == [100, min(200, room)]
    assert "no usable answer in 2 attempts (1: cut off at max_tokens (100 tokens); 2: cut off" in failed.reason


async def test_a_failed_generation_keeps_every_answer_and_its_prompt(tmp_path):
    empty = "Plan: nothing yet.\n```python\n\n   \n```\n"
    llm = ScriptedLLM([_answer(NONSENSE, 1.5), _answer(empty, 2.5), GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, model=MODEL, budget=Budget(max_nodes=2))
    state = await drive_run(services, "r")
    [failed, *_] = await _events(services, NodeFailed)
    assert [c.problem for c in failed.calls] == ["the answer contains no Python code block", "the answer's code block is empty"]
    assert [await services.blobs.get(c.completion_ref) for c in failed.calls] == [NONSENSE.encode(), empty.encode()]
    assert failed.llm_seconds == 4.0 and failed.prompt_tokens == 80 and failed.prompt_ref
    assert json.loads(await services.blobs.get(failed.prompt_ref))[-1][1] == llm.prompts[0]
    node = state.nodes[0]
    assert node.status == "failed" and node.calls == failed.calls and node.prompt_ref == failed.prompt_ref


async def test_a_node_without_a_script_is_never_debugged(tmp_path):
    """Greedy with debug_prob 1 debugs a buggy leaf whenever there is one: the failed generation
    (node 0) is passed over, the crashed script (node 1) is debugged."""
    llm = ScriptedLLM([NONSENSE, NONSENSE, CRASH, GOOD, GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, policy=GreedyPolicy(num_drafts=2, debug_prob=1.0), budget=Budget(max_nodes=4))
    state = await drive_run(services, "r")
    assert state.nodes[0].status == "failed" and not state.nodes[0].code
    assert state.nodes[1].buggy and state.nodes[1].code
    debugged = [n.parent_ids for n in state.nodes if n.operator == "debug"]
    assert debugged and all(parents == (1,) or state.nodes[parents[0]].code for parents in debugged)
    assert (0,) not in debugged


async def test_a_model_that_fails_its_check_ends_the_run_before_any_node(tmp_path):
    llm = ScriptedLLM([GOOD])
    llm.broken = LLMError("AuthenticationError: 401 invalid key", "auth")
    services = _services(tmp_path, llm)
    await _submit(services, model=MODEL, budget=Budget(max_nodes=5))
    state = await drive_run(services, "r")
    assert state.finish_reason == "model" and not state.nodes and llm.prompts == []
    assert state.finish_detail == "the model openai/small was refused its API key: AuthenticationError: 401 invalid key"


async def test_a_broken_model_mid_run_ends_it_once_the_check_fails(tmp_path):
    unreachable = LLMError("APIConnectionError (after 2 tries): connection refused", "unreachable")
    llm = ScriptedLLM([GOOD, unreachable, GOOD, GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, model=MODEL, policy=GreedyPolicy(num_drafts=4), budget=Budget(max_nodes=4))
    original = llm.complete

    async def complete(model, messages, tools=None, context=None):
        if len(llm.prompts) == 1 and not tools:
            llm.broken = unreachable  # the server goes away after the first node
        return await original(model, messages, tools, context)

    llm.complete = complete
    state = await drive_run(services, "r")
    assert [n.status for n in state.nodes] == ["scored", "failed"]
    assert state.nodes[1].failure.startswith("generate: model call failed: APIConnectionError")
    assert state.finish_reason == "model" and "could not be reached" in state.finish_detail
    assert llm.checks == 2, "once at the start, once after the failed call"


async def test_a_passing_fault_or_a_recovered_server_lets_the_search_go_on(tmp_path):
    llm = ScriptedLLM([LLMError("RateLimitError (after 5 tries): slow down", "passing"),
                       LLMError("APIConnectionError: refused", "unreachable"), GOOD])
    services = _services(tmp_path, llm)
    await _submit(services, model=MODEL, budget=Budget(max_nodes=3))
    state = await drive_run(services, "r")
    assert state.finish_reason == "max_nodes" and [n.status for n in state.nodes] == ["failed", "failed", "scored"]
    assert llm.checks == 2, "the passing fault is not checked; the unreachable server is, and it answers again"


async def test_an_answer_that_is_no_review_is_recorded_as_none_with_its_prompt(tmp_path):
    llm = ScriptedLLM([GOOD])
    original = llm.complete

    async def complete(model, messages, tools=None, context=None):
        if tools:
            return Completion(text="```python\nprint('hi')\n```", model=model.name, finish_reason="stop")
        return await original(model, messages, tools, context)

    llm.complete = complete
    services = _services(tmp_path, llm)
    await _submit(services, budget=Budget(max_nodes=1))
    await drive_run(services, "r")
    [analyzed] = await _events(services, NodeAnalyzed)
    assert (analyzed.via, analyzed.summary, analyzed.finish_reason) == ("none", "", "stop")
    prompt = json.loads(await services.blobs.get(analyzed.prompt_ref))
    assert "submit_review" in prompt[-1][1] or "review" in prompt[-1][1].lower()
