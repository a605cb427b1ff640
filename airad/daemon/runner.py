"""Drive one run: fold its events, decide, carry nodes out (up to `parallel` at once), until a budget ends it.

Every step is an event appended before the next step starts, so a run resumed by another daemon
(or after a crash) carries on from its log: decided-but-unfinished nodes are carried out again,
finished ones never. Decisions see exactly the events appended before them, so a replay of the
log re-derives each one.

A cancel (the `cancel` event, set by the daemon when the run's cancel mark appears) stops the
decisions and the nodes in flight at once: their jobs are stopped, they are recorded as failed, and
the run ends with `run.finished` (reason "cancelled").
"""

from __future__ import annotations

import anyio
import structlog

from airad.agents.baseline import awaiting_baseline
from airad.agents.policy import decide
from airad.agents.policy_view import policy_view
from airad.daemon.run_knowledge import distil, run_knowledge
from airad.daemon.steps import abandon, carry_out
from airad.daemon.run_services import RunServices, RunWriter
from airad.events.fold import RunState, fold
from airad.events.log import AppendConflict
from airad.schemas.events import NodeSelected, RunFinished, RunStarted

log = structlog.get_logger("airad.runner")


def budget_exhausted(state: RunState, now: float) -> tuple[str, str] | None:
    """(finish reason, detail) once a budget is spent, else None."""
    budget = state.request.budget
    if len(state.nodes) >= budget.max_nodes:
        return "max_nodes", f"{len(state.nodes)} nodes"
    if budget.tokens is not None and state.tokens >= budget.tokens:
        return "budget", f"tokens: {state.tokens} used of {budget.tokens}"
    if budget.usd is not None and (state.cost_usd >= budget.usd > 0 or (budget.usd == 0 and state.cost_usd > 0)):
        return "budget", f"usd: {state.cost_usd:.4f} spent of {budget.usd:g}"
    elapsed = now - (state.submitted_at or now)
    if elapsed >= budget.wall_seconds:
        return "wall_seconds", f"{elapsed:.0f} s elapsed of {budget.wall_seconds:g}"
    return None


def _lost_run(group: BaseExceptionGroup) -> AppendConflict | None:
    """The AppendConflict a node task raised when another writer took the run, if that is all the
    group holds: the run was lost, not crashed, and the daemon must see it as such."""
    conflicts, rest = group.split(AppendConflict)
    if conflicts is None or rest is not None:
        return None
    while isinstance(conflicts, BaseExceptionGroup):
        conflicts = conflicts.exceptions[0]
    return conflicts


def _baseline_running(state: RunState) -> bool:
    """Whether the user's script (node 0) was decided but has no score yet: every other decision
    builds on it, so none is made before."""
    return bool(state.nodes) and awaiting_baseline(policy_view(state))


async def _cancel_on(cancel: anyio.Event, scope: anyio.CancelScope) -> None:
    await cancel.wait()
    scope.cancel()


async def drive_run(services: RunServices, run_id: str, cancel: anyio.Event | None = None) -> RunState:
    """Carry a run forward from its log to its end, or until `cancel` is set (then it ends as cancelled)."""
    cancel = cancel or anyio.Event()
    state = fold(await services.log.read(run_id), run_id)
    writer = RunWriter(services, state)
    if state.terminal or state.request is None:
        if state.status == "finished":
            await distil(services, state)  # ended by another path, or a daemon died before distilling it
        await writer.publish_summary()
        return state
    bound = log.bind(run_id=run_id)
    await writer.append(RunStarted, owner=services.owner, resumed=bool(state.owner))
    await writer.publish_summary()
    bound.info("run.started", resumed=bool(state.owner), nodes=len(state.nodes))
    if cancel.is_set():
        return await _finish_cancelled(services, writer)
    knowledge = await run_knowledge(services, writer)
    request = state.request
    try:
        task = await services.tasks.open(request.task, request.seed, services.tasks_root)
    except Exception as exc:
        await writer.append(RunFinished, reason="error", best_node_id=None, detail=f"the task could not be prepared: {exc}"[:1000])
        await writer.publish_summary()
        bound.warning("run.failed", reason=str(exc))
        return writer.state
    working: set[int] = set()
    wake = [anyio.Event()]

    async def work(node_id: int) -> None:
        try:
            await carry_out(services, writer, task, node_id, knowledge)
            await writer.publish_summary()
        finally:
            working.discard(node_id)
            wake[0].set()

    stop, ended = None, False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_cancel_on, cancel, tg.cancel_scope)
            while True:
                wake[0] = anyio.Event()
                for node in writer.state.nodes:
                    if not node.done and node.id not in working:
                        working.add(node.id)
                        tg.start_soon(work, node.id)
                stop = budget_exhausted(writer.state, services.clock())
                while stop is None and len(working) < request.policy.parallel and not _baseline_running(writer.state):
                    action = decide(request.policy, policy_view(writer.state), request.seed)
                    node_id = len(writer.state.nodes)
                    await writer.append(NodeSelected, node_id=node_id, operator=action.operator, parent_ids=action.parent_ids)
                    working.add(node_id)
                    tg.start_soon(work, node_id)
                    stop = budget_exhausted(writer.state, services.clock())
                if stop is not None and not working:
                    ended = True
                    break
                await wake[0].wait()
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _lost_run(group) or group
    if not ended:  # the cancel stopped the loop
        return await _finish_cancelled(services, writer)
    reason, detail = stop
    return await _finish(services, writer, reason, detail)


async def _finish_cancelled(services: RunServices, writer: RunWriter) -> RunState:
    """Stop the nodes in flight and end the run as cancelled."""
    await abandon(services, writer, "the run was cancelled")
    return await _finish(services, writer, "cancelled", "cancelled on request")


async def _finish(services: RunServices, writer: RunWriter, reason: str, detail: str) -> RunState:
    """Distil the run's findings (a stopped run's count too), then end it: distilling comes first,
    so whoever sees the run end sees its knowledge, and `run.finished` carries what it cost."""
    spent = await distil(services, writer.state)
    best = writer.state.best_node()
    await writer.append(
        RunFinished, reason=reason, best_node_id=best.id if best else None, detail=detail,
        distill_cost_usd=spent.cost_usd, distill_tokens=spent.tokens,
    )
    await writer.publish_summary()
    log.info("run.finished", run_id=writer.state.run_id, reason=reason, detail=detail, nodes=len(writer.state.nodes))
    return writer.state
