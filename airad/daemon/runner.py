"""Drive one run: fold its events, decide, carry nodes out (up to `parallel` at once), until a budget ends it.

Every step is an event appended before the next step starts, so a run resumed by another daemon
(or after a crash) carries on from its log: decided-but-unfinished nodes are carried out again,
finished ones never. Decisions see exactly the events appended before them, so a replay of the
log re-derives each one.

A run's models are checked with one cheap call before its first decision, and again after a node's
generation failed as if the model were broken (a refused key, an unknown model, no server): a model
that fails the check ends the run at once (reason "model", the detail naming the cause) instead of
spending its budget on calls that cannot succeed.

A cancel (the `cancel` event, set by the daemon when the run's cancel mark appears) stops the
decisions and the nodes in flight at once: their jobs are stopped, they are recorded as failed, and
the run ends with `run.finished` (reason "cancelled").
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import structlog
from anyio.abc import TaskGroup

from airad.agents.baseline import awaiting_baseline
from airad.agents.policy import decide
from airad.agents.policy_view import policy_view
from airad.daemon.llm_faults import LLMError
from airad.daemon.run_knowledge import distill_run, run_knowledge
from airad.daemon.run_services import RunServices, RunWriter
from airad.daemon.steps import abandon, carry_out
from airad.events.fold import CANCELLED_NODE_REASON, RunState, fold
from airad.events.log import AppendConflict
from airad.schemas.events import NodeSelected, RunBaselines, RunFinished, RunStarted
from airad.schemas.knowledge_events import Atom
from airad.schemas.request import RunRequest, models_of
from airad.tasks.base import Task
from airad.tasks.baselines import reference_baselines

log = structlog.get_logger("airad.runner")


def budget_exhausted(state: RunState, now: float) -> tuple[str, str] | None:
    """(finish reason, detail) once a budget is spent, else None."""
    assert state.request is not None, "a started run has its request"
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


async def model_problem(services: RunServices, request: RunRequest) -> str | None:
    """Why one of the run's models cannot answer at all (one cheap call each), else None."""
    for model in models_of(request):
        try:
            await services.llm.check_model(model)
        except LLMError as exc:
            return f"the model {model.name} {exc.what}: {exc}"[:1000]
    return None


def _lost_run(group: BaseExceptionGroup) -> AppendConflict | None:
    """The AppendConflict a node task raised when another writer took the run, if that is all the
    group holds: the run was lost, not crashed, and the daemon must see it as such."""
    conflicts, rest = group.split(AppendConflict)
    if conflicts is None or rest is not None:
        return None
    found: AppendConflict | BaseExceptionGroup[AppendConflict] = conflicts
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


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
            await distill_run(services, state)  # ended by another path, or a daemon died before distilling it
        await writer.publish_summary()
        return state
    await writer.append(RunStarted, owner=services.owner, resumed=bool(state.owner))
    await writer.publish_summary()
    log.info("run.started", run_id=run_id, resumed=bool(state.owner), nodes=len(state.nodes))
    if cancel.is_set():
        return await _finish_cancelled(services, writer)
    request = state.request
    problem = await model_problem(services, request)
    if problem is not None:
        log.warning("run.model_unusable", run_id=run_id, problem=problem)
        return await _finish(services, writer, "model", problem)
    knowledge = await run_knowledge(services, writer)
    try:
        task = await services.tasks.open(request.task, request.seed, services.tasks_root)
    except Exception as exc:
        detail = f"the task could not be prepared: {exc}"[:1000]
        await writer.append(RunFinished, reason="error", best_node_id=None, detail=detail)
        await writer.publish_summary()
        log.warning("run.failed", run_id=run_id, reason=str(exc))
        return writer.state
    if services.reference_baselines and writer.state.baselines is None:
        await record_baselines(writer, task)
    return await RunLoop(services, writer, request, task, knowledge).run(cancel)


async def record_baselines(writer: RunWriter, task: Task) -> None:
    """Score the harness's reference baselines on the run's split (in a thread: a model is fitted) and
    record them; a task whose baselines cannot be scored records none, and the run goes on."""
    try:
        found = await anyio.to_thread.run_sync(reference_baselines, task)
    except Exception as exc:
        log.warning("run.baselines_failed", run_id=writer.state.run_id, reason=str(exc))
        found = ()
    await writer.append(RunBaselines, baselines=found)


class RunLoop:
    """A started run's search: it carries out the nodes in flight, decides new ones while the
    policy's `parallel` allows, and ends the run once a budget is spent and no node is working.

    `working` holds the ids of the nodes being carried out; `wake` is set when one of them ends, so
    the loop looks again; `stop` is the (reason, detail) of the budget that ran out, if one has;
    `model_down` is why the run's model cannot answer, once a failed generation and a check found it."""

    def __init__(
        self, services: RunServices, writer: RunWriter, request: RunRequest, task: Task, knowledge: Sequence[Atom]
    ) -> None:
        self.services = services
        self.writer = writer
        self.request = request
        self.task = task
        self.knowledge = knowledge
        self.working: set[int] = set()
        self.wake = anyio.Event()
        self.stop: tuple[str, str] | None = None
        self.model_down: str | None = None

    async def run(self, cancel: anyio.Event) -> RunState:
        """Search until the run ends, or until `cancel` is set: then the nodes in flight are stopped
        and the run ends as cancelled."""
        ended: tuple[str, str] | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_on, cancel, tg.cancel_scope)
                ended = await self._search(tg)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            lost = _lost_run(group)
            if lost is None:
                raise
            raise lost from group
        if ended is None:  # the cancel stopped the search
            return await _finish_cancelled(self.services, self.writer)
        reason, detail = ended
        return await _finish(self.services, self.writer, reason, detail)

    async def _search(self, tg: TaskGroup) -> tuple[str, str]:
        """Start nodes, then wait for one to end, until a budget is spent and none is working; the
        budget's (reason, detail)."""
        while True:
            self.wake = anyio.Event()
            self._resume_unfinished(tg)
            self.stop = self._stop_reason()
            while self.stop is None and self._may_decide():
                await self._select_next(tg)
                self.stop = self._stop_reason()
            if self.stop is not None and not self.working:
                return self.stop
            await self.wake.wait()

    def _stop_reason(self) -> tuple[str, str] | None:
        """Why no more nodes are decided: the model is down, or a budget is spent; None while neither."""
        if self.model_down is not None:
            return "model", self.model_down
        return budget_exhausted(self.writer.state, self.services.clock())

    def _resume_unfinished(self, tg: TaskGroup) -> None:
        """Carry out every decided node that is neither done nor working (on resume: those an earlier
        daemon left unfinished)."""
        for node in self.writer.state.nodes:
            if not node.done and node.id not in self.working:
                self._start(tg, node.id)

    def _may_decide(self) -> bool:
        """Whether another node may be decided now: fewer than `parallel` are working, and the
        baseline (which every decision builds on) is not one of them."""
        return len(self.working) < self.request.policy.parallel and not _baseline_running(self.writer.state)

    async def _select_next(self, tg: TaskGroup) -> None:
        """Decide the next node, record it, and start carrying it out."""
        view = policy_view(self.writer.state)
        action = decide(self.request.policy, view, self.request.seed, self.services.plugins.policies)
        node_id = len(self.writer.state.nodes)
        await self.writer.append(NodeSelected, node_id=node_id, operator=action.operator, parent_ids=action.parent_ids)
        self._start(tg, node_id)

    def _start(self, tg: TaskGroup, node_id: int) -> None:
        self.working.add(node_id)
        tg.start_soon(self._work, node_id)

    async def _work(self, node_id: int) -> None:
        try:
            fault = await carry_out(self.services, self.writer, self.task, node_id, self.knowledge)
            if fault is not None and fault.broken and self.model_down is None:
                self.model_down = await model_problem(self.services, self.request)
            await self.writer.publish_summary()
        finally:
            self.working.discard(node_id)
            self.wake.set()


async def _finish_cancelled(services: RunServices, writer: RunWriter) -> RunState:
    """Stop the nodes in flight and end the run as cancelled."""
    await abandon(services, writer, CANCELLED_NODE_REASON)
    return await _finish(services, writer, "cancelled", "cancelled on request")


async def _finish(services: RunServices, writer: RunWriter, reason: str, detail: str) -> RunState:
    """Distill the run's findings (a stopped run's count too), then end it: distilling comes first,
    so whoever sees the run end sees its knowledge, and `run.finished` carries what it cost."""
    spent = await distill_run(services, writer.state)
    best = writer.state.best_node()
    await writer.append(
        RunFinished,
        reason=reason,
        best_node_id=best.id if best else None,
        detail=detail,
        distill_cost_usd=spent.cost_usd,
        distill_tokens=spent.tokens,
    )
    await writer.publish_summary()
    log.info("run.finished", run_id=writer.state.run_id, reason=reason, detail=detail, nodes=len(writer.state.nodes))
    return writer.state
