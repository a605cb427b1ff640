"""The steps that carry one node from its decision to its end: generate, execute, analyze, score.

Each step appends its event before the next begins, so a resumed run picks a node up at the step
its events stopped at.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from airad.agents.analysis import REVIEW_TOOL, parse_review
from airad.agents.prompt_fit import PromptTooLong
from airad.agents.templates import TemplateProblem
from airad.daemon.execution_cache import earlier_run_of
from airad.daemon.generation import generate
from airad.daemon.llm import LLMError
from airad.daemon.prompts import node_prompt, store_prompt
from airad.daemon.run_services import RunServices, RunWriter
from airad.events.fold import Node
from airad.events.log import AppendConflict
from airad.executors.base import JobLost, JobSpec, job_resources, uncollected_reason
from airad.schemas.events import (
    NodeAnalyzed,
    NodeDispatched,
    NodeExecuted,
    NodeFailed,
    NodeQueued,
    NodeScored,
    NodeTested,
)
from airad.schemas.knowledge_events import Atom
from airad.schemas.request import RunRequest, operators_of
from airad.schemas.tags import struct_tag
from airad.tasks.base import Task
from airad.tasks.grading.node import FinishedNode

TAIL_CHARS = 4000
STAGE_OF_STATUS = {"selected": "generate", "generated": "execute", "dispatched": "execute", "executed": "score"}


async def carry_out(
    services: RunServices, writer: RunWriter, task: Task, node_id: int, knowledge: Sequence[Atom] = ()
) -> LLMError | None:
    """Take one node from wherever its events left it to scored or failed; an unexpected error fails
    the node (recorded, the search goes on) instead of the run. `knowledge`: the run's atoms.
    Returns the model's fault that failed the node's generation, if one did."""
    try:
        return await _carry_out(services, writer, task, node_id, knowledge)
    except (AppendConflict, anyio.get_cancelled_exc_class()):
        raise
    except Exception as exc:
        node = writer.state.nodes[node_id]
        if not node.done:
            stage = STAGE_OF_STATUS.get(node.status, "score")
            await writer.append(NodeFailed, node_id=node_id, stage=stage, reason=f"internal error: {exc!r}"[:1000])
        return None


async def _carry_out(
    services: RunServices, writer: RunWriter, task: Task, node_id: int, knowledge: Sequence[Atom]
) -> LLMError | None:
    if writer.state.nodes[node_id].status == "selected":
        fault = await generate(services, writer, task, writer.state.nodes[node_id], knowledge)
        if fault is not None:
            return fault
    if writer.state.nodes[node_id].status in ("generated", "dispatched"):
        await execute(services, writer, task, writer.state.nodes[node_id])
    node = writer.state.nodes[node_id]
    analyzes = operators_of(_request(writer)).analyze
    if node.status == "executed" and not node.analyzed and node.operator != "baseline" and analyzes:
        await analyze(services, writer, task, node)
    if writer.state.nodes[node_id].status == "executed":
        await score(services, writer, task, writer.state.nodes[node_id])
    return None


async def execute(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Run the node's script on the run's executor and record what happened. A node already
    dispatched by an earlier daemon is reattached to by its handle, never started twice.

    A daemon that stops (or loses the run) leaves the job running: it is bounded by its own
    timeout, and the next owner of the run collects it."""
    if node.status == "generated" and _request(writer).executor.cache:
        earlier = earlier_run_of(writer.state, node)
        if earlier is not None and await _reuse(services, writer, node, earlier):
            return
    backend = struct_tag(_request(writer).executor)
    executor = services.executors[backend]
    limiter = services.limiters[backend]
    if node.status == "generated" and limiter.available_tokens < 1:
        waiting = limiter.statistics().tasks_waiting
        await writer.append(NodeQueued, node_id=node.id, executor=backend, waiting=waiting)
    async with limiter:
        handle = node.handle
        if node.status == "generated":
            try:
                handle = await executor.prepare(job_spec(services, writer, task, node))
            except Exception as exc:
                reason = _executor_fault(backend, "could not take the job", exc)
                await writer.append(NodeFailed, node_id=node.id, stage="execute", reason=reason)
                return
            with anyio.CancelScope(shield=True):
                await writer.append(NodeDispatched, node_id=node.id, executor=backend, handle=handle)
        try:
            # Shielded: a start cut short by a stopping daemon could leave a job claimed but never run
            # (asyncio kills a child whose spawn was cancelled), which the next daemon would wait on.
            with anyio.CancelScope(shield=True):
                await executor.start(handle)
            result = await executor.wait(handle)
        except JobLost as exc:
            await writer.append(NodeFailed, node_id=node.id, stage="execute", reason=f"job lost: {exc}"[:1000])
            return
        except Exception as exc:
            reason = _executor_fault(backend, "failed", exc)
            await writer.append(NodeFailed, node_id=node.id, stage="execute", reason=reason)
            return
    blobs = [result.stdout, result.stderr, *result.outputs.values()]
    stdout_ref, stderr_ref, *output_refs = await put_blobs(services, blobs)
    await writer.append(
        NodeExecuted,
        node_id=node.id,
        exit_code=result.exit_code,
        duration_s=result.duration_s,
        timed_out=result.timed_out,
        stdout_tail=_tail(result.stdout),
        stderr_tail=_tail(result.stderr),
        stdout_ref=stdout_ref,
        stderr_ref=stderr_ref,
        outputs=dict(zip(result.outputs, output_refs, strict=True)),
        oom=result.oom,
        killed=result.killed,
    )


async def _reuse(services: RunServices, writer: RunWriter, node: Node, earlier: Node) -> bool:
    """Record the earlier node's result as this node's (its `node.executed`, with `cached_from`);
    False when its event cannot be read (the node then runs)."""
    events = await services.log.read(writer.state.run_id)
    found = next((e for e in events if isinstance(e, NodeExecuted) and e.node_id == earlier.id), None)
    if found is None:
        return False
    copied = {f: getattr(found, f) for f in found.__struct_fields__ if f not in ("run_id", "seq", "at", "node_id")}
    copied.update(duration_s=0.0, cached_from=earlier.id)
    await writer.append(NodeExecuted, node_id=node.id, **copied)
    return True


async def put_blobs(services: RunServices, blobs: list[bytes]) -> list[str]:
    """Store several blobs at once (their publishes pipeline) and return their refs in order."""
    refs = [""] * len(blobs)

    async def put(index: int, data: bytes) -> None:
        refs[index] = await services.blobs.put(data)

    async with anyio.create_task_group() as tg:
        for index, data in enumerate(blobs):
            tg.start_soon(put, index, data)
    return refs


async def abandon(services: RunServices, writer: RunWriter, reason: str) -> None:
    """End every node still in flight now (the run was cancelled): stop its job if it has one, then
    record it as failed at the stage it had reached."""
    backend = struct_tag(_request(writer).executor)
    for node in writer.state.nodes:
        if node.done:
            continue
        if node.status == "dispatched":
            with anyio.move_on_after(30):
                try:
                    await services.executors[backend].cancel(node.handle)
                except Exception:  # the job may be gone already; the node ends either way
                    pass
        await writer.append(NodeFailed, node_id=node.id, stage=STAGE_OF_STATUS.get(node.status, "score"), reason=reason)


def job_spec(services: RunServices, writer: RunWriter, task: Task, node: Node) -> JobSpec:
    """The job for a node: its script, the task's public inputs, the request's resources, and a
    time limit that never outlasts the run's wall-clock budget."""
    request = _request(writer)
    resources = request.executor
    remaining = request.budget.wall_seconds - (services.clock() - (writer.state.submitted_at or services.clock()))
    return JobSpec(
        job_id=f"{writer.state.run_id}/{node.id}",
        files={"solution.py": node.code},
        inputs_dir=str(task.public_dir),
        timeout_s=max(1.0, min(resources.node_timeout_s, remaining)),
        outputs=(task.submission_path,),
        **job_resources(resources),
        hidden=tuple(str(path) for path in getattr(task, "private_dirs", ())),
        hide_dataset_packages=getattr(task, "from_packages", False),
    )


def _executor_fault(backend: str, what: str, exc: Exception) -> str:
    return f"the {backend} executor {what}: {type(exc).__name__}: {exc}"[:1000]


async def analyze(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Ask the model to review the execution (its tool forced where the provider allows, JSON in text
    as the fallback); never blocks the node. An answer that is no review is recorded as none."""
    prompt_ref = ""
    try:
        prompt = await node_prompt(services, writer.state, task, node)
        prompt_ref = await store_prompt(services, prompt.messages)
        completion = await services.llm.complete(prompt.model, prompt.messages, [REVIEW_TOOL], prompt.context)
    except (LLMError, TemplateProblem, PromptTooLong) as exc:
        summary = f"analysis failed: {exc}"[:1000]
        await writer.append(NodeAnalyzed, node_id=node.id, summary=summary, prompt_ref=prompt_ref)
        return
    review = parse_review(completion.tool_arguments, completion.text)
    await writer.append(
        NodeAnalyzed,
        node_id=node.id,
        summary=review.summary,
        is_bug=review.is_bug,
        metric=review.metric,
        lower_is_better=review.lower_is_better,
        via=review.via,
        completion_ref=await services.blobs.put((completion.tool_arguments or completion.text).encode()),
        model=completion.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cost_usd=completion.cost_usd,
        prompt_ref=prompt_ref,
        finish_reason=completion.finish_reason,
        llm_seconds=round(completion.seconds, 3),
    )


async def score(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Grade the finished node (`airad.tasks.grading`) on the daemon's grader and record its verdict:
    validation as fitness, test on its own event."""
    request = _request(writer)
    ref = node.outputs.get(task.submission_path)
    finished = FinishedNode(
        submission=await services.blobs.get(ref) if ref else None,
        exit_code=node.exit_code,
        timed_out=node.timed_out,
        oom=node.oom,
        killed=node.killed,
        memory_mb=request.executor.memory_mb,
        uncollected=None if ref else uncollected_reason(node.stderr_tail, task.submission_path),
    )
    verdict = await services.grader.grade(task, request, services.tasks_root, finished)
    await writer.append(
        NodeScored,
        node_id=node.id,
        metric=verdict.metric,
        lower_is_better=verdict.lower_is_better,
        valid=verdict.valid,
        score=verdict.score,
        error=verdict.error,
    )
    await writer.append(
        NodeTested,
        node_id=node.id,
        score=verdict.test_score,
        medal=verdict.medal,
        above_median=verdict.above_median,
        medal_thresholds=verdict.medal_thresholds,
    )


def _request(writer: RunWriter) -> RunRequest:
    """The run's request: a run whose nodes are carried out has been submitted."""
    request = writer.state.request
    if request is None:
        raise RuntimeError(f"run {writer.state.run_id} has no request")
    return request


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]
