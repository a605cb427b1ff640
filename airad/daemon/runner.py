"""Drive one run: fold its events, decide, generate, execute, score, until a budget ends it.

Every step is an event appended before the next step starts, so a run resumed by another
daemon (or after a crash) carries on from its log: decided-but-unfinished nodes are carried
out again, finished ones never.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog

from airad.agents.answers import AnswerError, parse_answer
from airad.agents.operators import build_prompt
from airad.agents.policy import decide
from airad.agents.view import policy_view
from airad.daemon.llm import LLM, LLMError
from airad.events.fold import Node, RunState, evolve, fold
from airad.events.log import BlobStore, EventLog, RunIndex
from airad.events.summary import summarize
from airad.executors.base import Executor, JobLost, JobSpec
from airad.schemas.events import (
    NodeDispatched,
    NodeExecuted,
    NodeFailed,
    NodeGenerated,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunFinished,
    RunStarted,
)
from airad.tasks.base import Task
from airad.tasks.registry import open_task

TAIL_CHARS = 4000
log = structlog.get_logger("airad.runner")


@dataclass
class RunServices:
    """What every run shares inside one daemon."""

    log: EventLog
    blobs: BlobStore
    index: RunIndex
    llm: LLM
    executors: Mapping[str, Executor]
    limiters: Mapping[str, anyio.CapacityLimiter]
    tasks_root: Path
    owner: str
    generation_attempts: int = 2
    clock: Callable[[], float] = field(default=time.time)


class RunWriter:
    """Appends a run's next events with gapless seq and daemon timestamps, folding each into `state`."""

    def __init__(self, services: RunServices, state: RunState):
        self.services = services
        self.state = state

    async def append(self, event_type, **fields) -> RunState:
        """Build, append (fenced) and fold one event."""
        event = event_type(run_id=self.state.run_id, seq=self.state.last_seq + 1, at=self.services.clock(), **fields)
        await self.services.log.append(event)
        self.state = evolve(self.state, event)
        return self.state

    async def publish_summary(self) -> None:
        """Refresh the run's line in the KV index."""
        await self.services.index.put(summarize(self.state, self.services.clock()))


def budget_exhausted(state: RunState, now: float) -> str | None:
    """The finish reason when a budget is spent, else None."""
    budget = state.request.budget
    if len(state.nodes) >= budget.max_nodes:
        return "max_nodes"
    if state.cost_usd >= budget.usd > 0 or (budget.usd == 0 and state.cost_usd > 0):
        return "usd"
    if now - (state.submitted_at or now) >= budget.wall_seconds:
        return "wall_seconds"
    return None


async def drive_run(services: RunServices, run_id: str) -> RunState:
    """Carry a run forward from its log to its end (or until cancelled)."""
    state = fold(await services.log.read(run_id), run_id)
    writer = RunWriter(services, state)
    if state.terminal or state.request is None:
        await writer.publish_summary()
        return state
    bound = log.bind(run_id=run_id)
    await writer.append(RunStarted, owner=services.owner, resumed=bool(state.owner))
    await writer.publish_summary()
    bound.info("run.started", resumed=bool(state.owner), nodes=len(state.nodes))
    task = await anyio.to_thread.run_sync(open_task, state.request.task, state.request.seed, services.tasks_root)
    while True:
        node = writer.state.pending_node
        if node is not None:
            await carry_out(services, writer, task, node)
            await writer.publish_summary()
            continue
        reason = budget_exhausted(writer.state, services.clock())
        if reason is not None:
            best = writer.state.best_node()
            await writer.append(RunFinished, reason=reason, best_node_id=best.id if best else None)
            await writer.publish_summary()
            bound.info("run.finished", reason=reason, nodes=len(writer.state.nodes))
            return writer.state
        request = writer.state.request
        action = decide(request.policy, policy_view(writer.state), request.seed)
        await writer.append(
            NodeSelected, node_id=len(writer.state.nodes), operator=action.operator, parent_ids=action.parent_ids
        )


async def carry_out(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Take one node from wherever its events left it to scored or failed."""
    if node.status == "selected":
        await generate(services, writer, task, node)
    node = writer.state.nodes[node.id]
    if node.status in ("generated", "dispatched"):
        await execute(services, writer, task, node)
    node = writer.state.nodes[node.id]
    if node.status == "executed":
        await score(services, writer, task, node)


async def generate(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Ask the model; parse its answer into plan + code; retry a nonsense answer, then fail the node."""
    request = writer.state.request
    brief = await anyio.to_thread.run_sync(task.brief)
    messages = build_prompt(node.operator, brief, policy_view(writer.state), node.parent_ids)
    prompt_ref = await services.blobs.put(json.dumps([[m.role, m.content] for m in messages]).encode())
    problem = ""
    for attempt in range(1, services.generation_attempts + 1):
        try:
            completion = await services.llm.complete(request.model, messages)
        except LLMError as exc:
            await writer.append(NodeFailed, node_id=node.id, stage="generate", reason=f"model call failed: {exc}")
            return
        completion_ref = await services.blobs.put(completion.text.encode())
        try:
            answer = parse_answer(completion.text)
        except AnswerError as exc:
            problem = str(exc)
            continue
        await writer.append(
            NodeGenerated, node_id=node.id, plan=answer.plan, code=answer.code, model=completion.model,
            prompt_ref=prompt_ref, completion_ref=completion_ref, prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens, cost_usd=completion.cost_usd,
            llm_seconds=completion.seconds, attempts=attempt,
        )
        return
    await writer.append(
        NodeFailed, node_id=node.id, stage="generate",
        reason=f"no usable answer after {services.generation_attempts} attempts: {problem}",
    )


async def execute(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Run the node's script on the run's executor and record what happened."""
    request = writer.state.request
    backend = request.executor.__struct_config__.tag
    executor = services.executors[backend]
    if node.status == "dispatched":
        await executor.cancel(node.handle)
    remaining = request.budget.wall_seconds - (services.clock() - (writer.state.submitted_at or services.clock()))
    spec = JobSpec(
        job_id=f"{writer.state.run_id}/{node.id}",
        files={"solution.py": node.code},
        inputs_dir=str(task.public_dir),
        timeout_s=max(1.0, min(request.executor.node_timeout_s, remaining)),
        outputs=(task.submission_path,),
    )
    async with services.limiters[backend]:
        handle = await executor.submit(spec)
        with anyio.CancelScope(shield=True):
            await writer.append(NodeDispatched, node_id=node.id, executor=backend, handle=handle)
        finished = False
        try:
            result = await executor.wait(handle)
            finished = True
        except JobLost as exc:
            await writer.append(NodeFailed, node_id=node.id, stage="execute", reason=str(exc))
            return
        finally:
            if not finished:
                with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                    await executor.cancel(handle)
    outputs = {name: await services.blobs.put(data) for name, data in result.outputs.items()}
    await writer.append(
        NodeExecuted, node_id=node.id, exit_code=result.exit_code, duration_s=result.duration_s,
        timed_out=result.timed_out, stdout_tail=_tail(result.stdout), stderr_tail=_tail(result.stderr),
        stdout_ref=await services.blobs.put(result.stdout), stderr_ref=await services.blobs.put(result.stderr),
        outputs=outputs,
    )


async def score(services: RunServices, writer: RunWriter, task: Task, node: Node) -> None:
    """Have the harness score the node's submission: validation as fitness, test on its own event."""
    ref = node.outputs.get(task.submission_path)
    submission = await services.blobs.get(ref) if ref else None
    grades = await anyio.to_thread.run_sync(task.grade, submission)
    validation = grades.validation
    error = validation.error
    if node.timed_out:
        error = error or "the script ran past its time limit"
    elif node.exit_code not in (0, None) and not validation.valid:
        error = f"the script exited with code {node.exit_code}; {error}"
    await writer.append(
        NodeScored, node_id=node.id, metric=grades.metric, lower_is_better=grades.lower_is_better,
        valid=validation.valid and node.exit_code == 0 and not node.timed_out,
        score=validation.score, error=error,
    )
    await writer.append(NodeTested, node_id=node.id, score=grades.test.score)


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]
