"""The prompts of a run's operators: the structured context from the run's fold and surroundings,
rendered by the request's templates (`daemon/template_sets.py`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import anyio
import msgspec

from airad.agents.analysis import ANALYZE_CONTRACT
from airad.agents.distill import RESPONSE_FORMAT as DISTILL_CONTRACT
from airad.agents.distill import findings_json
from airad.agents.findings import Finding
from airad.agents.operators import Message, TaskBrief
from airad.agents.policy_view import policy_view
from airad.agents.prompt_context import (
    BudgetLeft,
    Compute,
    DistillContext,
    OperatorContext,
    Surroundings,
    TaskContext,
    knowledge_items,
    operator_context,
)
from airad.agents.prompt_fit import fit_context
from airad.agents.templates import messages
from airad.daemon.run_services import RunServices
from airad.daemon.template_sets import templates_of
from airad.events.fold import Node, RunState
from airad.schemas.environment import ExecutionEnvironment
from airad.schemas.knowledge_events import Atom
from airad.schemas.request import ModelSpec, RunRequest, model_for, operators_of
from airad.schemas.tags import struct_tag
from airad.tasks.base import Task


class Prompt(msgspec.Struct, frozen=True):
    """Rendered messages, the context they were rendered from (the offline coder reads it), the model
    they go to, and what was shortened to fit its context window."""

    messages: tuple[Message, ...]
    context: dict
    model: ModelSpec
    shortened: tuple[str, ...] = ()


async def store_prompt(services: RunServices, messages: Sequence[Message]) -> str:
    """Put the messages sent to a model in the blob store, as [[role, content], ...] JSON: its ref."""
    return await services.blobs.put(json.dumps([[m.role, m.content] for m in messages]).encode())


def task_context(name: str, brief: TaskBrief) -> TaskContext:
    """The task as templates see it."""
    direction = "" if brief.lower_is_better is None else "lower" if brief.lower_is_better else "higher"
    return TaskContext(
        name=name,
        description=brief.description.strip(),
        data_overview=brief.data_overview.strip(),
        metric=brief.metric,
        lower_is_better=brief.lower_is_better,
        direction=direction,
        metric_report=brief.metric_report,
        metric_printed=brief.metric_printed,
    )


def budget_left(request: RunRequest, state: RunState, now: float) -> BudgetLeft:
    """What is left of the run's budget, counting the node being made as spent."""
    budget = request.budget
    elapsed = now - (state.submitted_at or now)
    return BudgetLeft(
        nodes=max(0, budget.max_nodes - len(state.nodes)),
        wall_seconds=max(0.0, budget.wall_seconds - elapsed),
        usd=None if budget.usd is None else max(0.0, budget.usd - state.cost_usd),
        tokens=None if budget.tokens is None else max(0, budget.tokens - state.tokens),
    )


async def _environment(services: RunServices, request: RunRequest) -> ExecutionEnvironment | None:
    if services.environments is None:
        return None
    backend = struct_tag(request.executor)
    return await services.environments.of(backend, services.executors[backend], request.executor)


async def surroundings(services: RunServices, state: RunState, task: Task, operator: str) -> Surroundings:
    """The task, compute, packages, time limit and budget a node's prompt is built in."""
    request = _request(state)
    brief = await anyio.to_thread.run_sync(task.brief)
    environment = await _environment(services, request)
    resources = request.executor
    compute = Compute(
        executor=struct_tag(resources),
        cpus=resources.cpus,
        memory_mb=resources.memory_mb,
        gpus=getattr(resources, "gpus", 0),
        gpu_models=environment.gpus if environment else (),
    )
    contract = ANALYZE_CONTRACT if operator == "analyze" else brief.output_contract
    return Surroundings(
        task=task_context(task.name, brief),
        output_contract=contract,
        compute=compute,
        time_limit_s=resources.node_timeout_s,
        budget_left=budget_left(request, state, services.clock()),
        packages=environment.packages if environment else (),
        program=request.program,
    )


def _outputs(state: RunState, node_ids: Sequence[int]) -> dict[int, str]:
    return {i: f"{state.nodes[i].stdout_tail}\n{state.nodes[i].stderr_tail}".strip() for i in node_ids}


async def node_context(
    services: RunServices, state: RunState, task: Task, node: Node, knowledge: Sequence[Atom] = ()
) -> OperatorContext:
    """The structured context of a node's operator (analyze, for a node that has executed)."""
    request = _request(state)
    operator = "analyze" if node.status == "executed" else node.operator
    around = await surroundings(services, state, task, operator)
    shown = (node.id,) if operator == "analyze" else node.parent_ids
    return operator_context(
        operator,
        node.id,
        () if operator == "analyze" else node.parent_ids,
        policy_view(state),
        operators_of(request),
        around,
        knowledge,
        _outputs(state, shown),
    )


async def node_prompt(
    services: RunServices, state: RunState, task: Task, node: Node, knowledge: Sequence[Atom] = ()
) -> Prompt:
    """The prompt of a node's operator (draft, improve, debug, crossover, a plugin's template operator,
    or analyze of the node itself), for the operator's model, shortened to fit its context window
    (`agents/prompt_fit.py`); raises `TemplateProblem` when the templates cannot render it and
    `PromptTooLong` when even the shortened prompt does not fit. The offline coder's copy of the
    context names the built-in job a plugin operator is answered as."""
    request = _request(state)
    context = await node_context(services, state, task, node, knowledge)
    model = model_for(request, context.operator)
    templates = templates_of(operators_of(request))
    plugin = services.plugins.operators.get(context.operator)
    if plugin is not None:
        templates = {**templates, plugin.name: plugin.template}
    window = await services.llm.context_window(model)
    shortened: tuple[str, ...] = ()
    if window is not None:

        def tokens(candidate: OperatorContext) -> int:
            return services.llm.count_tokens(model, messages(templates, candidate))

        context, shortened = fit_context(context, tokens, window - model.max_tokens)
    offline = msgspec.to_builtins(context)
    if plugin is not None:
        offline["operator"] = plugin.offline_as
    return Prompt(messages(templates, context), offline, model, shortened)


def distill_prompt(
    request: RunRequest, state: RunState, task_name: str, findings: Sequence[Finding], current: Sequence[Atom]
) -> Prompt:
    """The prompt asking a model to turn a run's findings into atoms, given the domain's current ones."""
    direction = "lower" if state.lower_is_better else "higher"
    context = DistillContext(
        operator="distill",
        task=TaskContext(
            name=task_name,
            description="",
            data_overview="",
            metric=state.metric,
            lower_is_better=state.lower_is_better,
            direction=direction,
        ),
        output_contract=DISTILL_CONTRACT,
        run_id=state.run_id,
        findings_json=findings_json(findings),
        current_knowledge=knowledge_items(current),
    )
    rendered = messages(templates_of(operators_of(request)), context)
    return Prompt(rendered, msgspec.to_builtins(context), model_for(request, "distill"))


def _request(state: RunState) -> RunRequest:
    if state.request is None:
        raise RuntimeError(f"run {state.run_id} has no request")
    return state.request
