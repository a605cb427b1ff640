"""A node's generate step: ask the model for a plan and a script until an answer is usable, and record
every answer it gave, used or not.

The rule for an answer cut off at `max_tokens` (finish reason "length"): it is not used, whatever it
holds, and the next attempt asks with twice the room, as far as the model's context window allows
after the prompt. An answer with no code, an empty code block or code that does not compile is not
used either; the node fails once `generation_attempts` answers were unusable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
from msgspec import structs

from airad.agents.answers import Answer, AnswerError, parse_answer
from airad.agents.prompt_fit import PromptTooLong
from airad.agents.templates import TemplateProblem
from airad.daemon.llm import Completion, LLMError
from airad.daemon.prompts import Prompt, node_context, node_prompt, store_prompt
from airad.daemon.run_services import RunServices, RunWriter
from airad.events.fold import Node
from airad.schemas.events import ModelCall, NodeFailed, NodeGenerated
from airad.schemas.knowledge_events import Atom
from airad.schemas.request import ModelSpec
from airad.tasks.base import Task

BASELINE_PLAN = (
    "The user's own script, run as given: no model wrote it. The harness scores it like any node, "
    "and the search improves on it."
)


async def generate(
    services: RunServices, writer: RunWriter, task: Task, node: Node, knowledge: Sequence[Atom] = ()
) -> LLMError | None:
    """Ask the model; parse its answer into plan + code; retry an unusable answer, then fail the node.
    A `baseline` node asks no model: its code is the user's script from the request. Returns the
    model's fault when a call failed (the node is failed by then), so the run can check its model."""
    request = writer.state.request
    assert request is not None, "a run whose nodes are generated has its request"
    if node.operator == "baseline":
        await writer.append(
            NodeGenerated,
            node_id=node.id,
            plan=BASELINE_PLAN,
            code=request.baseline or "",
            model="user",
            prompt_ref="",
            completion_ref="",
        )
        return None
    plugin = services.plugins.operators.get(node.operator)
    if plugin is not None and plugin.function is not None:
        await _generate_by_function(services, writer, task, node, knowledge)
        return None
    try:
        prompt = await node_prompt(services, writer.state, task, node, knowledge)
    except (TemplateProblem, PromptTooLong) as exc:
        prefix = "template " if isinstance(exc, TemplateProblem) else ""
        await writer.append(NodeFailed, node_id=node.id, stage="generate", reason=f"{prefix}{exc}"[:1000])
        return None
    return await _ask(services, writer, node, prompt, plugin.parse if plugin is not None else parse_answer)


async def _ask(
    services: RunServices, writer: RunWriter, node: Node, prompt: Prompt, parse: Callable[[str], Answer]
) -> LLMError | None:
    prompt_ref = await store_prompt(services, prompt.messages)
    context_ref = await services.blobs.put(msgspec.json.encode(prompt.context))
    calls: list[ModelCall] = []
    model = prompt.model
    for attempt in range(1, services.generation_attempts + 1):
        try:
            completion = await services.llm.complete(model, prompt.messages, context=prompt.context)
        except LLMError as exc:
            reason = f"model call failed: {exc}"
            await writer.append(
                NodeFailed,
                node_id=node.id,
                stage="generate",
                reason=reason[:1000],
                prompt_ref=prompt_ref,
                **_spent(calls),
            )
            return exc
        completion_ref = await services.blobs.put(completion.text.encode())
        answer, problem = _usable(completion, model, parse)
        calls.append(_call(completion, completion_ref, model, problem))
        if answer is not None:
            await writer.append(
                NodeGenerated,
                node_id=node.id,
                plan=answer.plan,
                code=answer.code,
                model=completion.model,
                prompt_ref=prompt_ref,
                completion_ref=completion_ref,
                context_ref=context_ref,
                shortened=prompt.shortened,
                attempts=attempt,
                **_spent(calls),
            )
            return None
        if completion.finish_reason == "length":
            model = await _more_room(services, model, prompt)
    problems = "; ".join(f"{i}: {c.problem}" for i, c in enumerate(calls, 1))
    reason = f"no usable answer in {len(calls)} attempts ({problems})"
    await writer.append(
        NodeFailed, node_id=node.id, stage="generate", reason=reason[:1000], prompt_ref=prompt_ref, **_spent(calls)
    )
    return None


def _spent(calls: list[ModelCall]) -> dict:
    """What a node's model calls cost, as its event's fields."""
    return {
        "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "completion_tokens": sum(c.completion_tokens for c in calls),
        "cost_usd": sum(c.cost_usd for c in calls),
        "llm_seconds": round(sum(c.seconds for c in calls), 3),
        "calls": tuple(calls),
    }


def _usable(completion: Completion, model: ModelSpec, parse: Callable[[str], Answer]) -> tuple[Answer | None, str]:
    """The parsed answer, or why it cannot be used."""
    if completion.finish_reason == "length":
        return None, f"cut off at max_tokens ({model.max_tokens} tokens)"
    try:
        return parse(completion.text), ""
    except AnswerError as exc:
        return None, str(exc)


def _call(completion: Completion, completion_ref: str, model: ModelSpec, problem: str) -> ModelCall:
    return ModelCall(
        completion_ref=completion_ref,
        finish_reason=completion.finish_reason,
        max_tokens=model.max_tokens,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cost_usd=completion.cost_usd,
        seconds=round(completion.seconds, 3),
        problem=problem,
    )


async def _more_room(services: RunServices, model: ModelSpec, prompt: Prompt) -> ModelSpec:
    """`model` with twice its `max_tokens`, no more than its context window leaves after the prompt."""
    wanted = model.max_tokens * 2
    window = await services.llm.context_window(model)
    if window:
        wanted = min(wanted, window - services.llm.count_tokens(model, prompt.messages))
    return structs.replace(model, max_tokens=wanted) if wanted > model.max_tokens else model


async def _generate_by_function(
    services: RunServices, writer: RunWriter, task: Task, node: Node, knowledge: Sequence[Atom]
) -> None:
    """A plugin operator that is a pure function of its context: no model is asked."""
    plugin = services.plugins.operators[node.operator]
    context = await node_context(services, writer.state, task, node, knowledge)
    try:
        plan, code = plugin.function(context)  # type: ignore[misc]
    except Exception as exc:
        reason = f"operator {node.operator!r} failed: {type(exc).__name__}: {exc}"[:1000]
        await writer.append(NodeFailed, node_id=node.id, stage="generate", reason=reason)
        return
    await writer.append(
        NodeGenerated,
        node_id=node.id,
        plan=plan,
        code=code,
        model=f"plugin:{node.operator}",
        prompt_ref="",
        completion_ref="",
        context_ref=await services.blobs.put(msgspec.json.encode(context)),
    )
