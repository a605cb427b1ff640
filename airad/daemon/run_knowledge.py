"""Knowledge in a run's life: the atoms its prompts see (recorded by `run.knowledge` when it first
starts) and the distillation of its findings into its domain's knowledge stream when it ends.

Distillation happens once per run: it is skipped when the domain's stream already holds the run's
`knowledge.distilled`, and its append is fenced on the domain's last event, so a daemon that died
mid-way distills on resume and two writers never both add a run. It never fails the run.
"""

from __future__ import annotations

from typing import NamedTuple

import anyio
import structlog
from structlog.typing import FilteringBoundLogger

from airad.agents.distill import DistillError, evidence_atoms, parse_distilled
from airad.agents.findings import Finding, run_findings
from airad.agents.knowledge_prompt import select_atoms
from airad.agents.templates import TemplateProblem
from airad.daemon.llm import LLMError
from airad.daemon.prompts import distill_prompt, store_prompt
from airad.daemon.run_services import RunServices, RunWriter
from airad.events.fold import RunState
from airad.events.knowledge_fold import KnowledgeState, fold_knowledge, supersede
from airad.events.knowledge_log import KnowledgeLog
from airad.events.log import AppendConflict
from airad.schemas.events import RunKnowledge
from airad.schemas.knowledge_events import Atom, KnowledgeDistilled, atom_ref, decode_atoms, encode_atoms
from airad.schemas.request import RunRequest, task_label

APPEND_ATTEMPTS = 5
log = structlog.get_logger("airad.knowledge")


async def run_knowledge(services: RunServices, writer: RunWriter) -> tuple[Atom, ...]:
    """The atoms this run's prompts include: chosen from its domain's current atoms and recorded by
    `run.knowledge` at its first start; read back from that event's blob when the run resumes."""
    state = writer.state
    if state.knowledge is not None:
        return decode_atoms(await services.blobs.get(state.knowledge_ref)) if state.knowledge_ref else ()
    domain = state.request.domain if state.request is not None else None
    if domain is None or services.knowledge is None:
        return ()
    _, current = await _read(services.knowledge, domain)
    atoms = select_atoms(current.current())
    ref = await services.blobs.put(encode_atoms(atoms)) if atoms else ""
    await writer.append(
        RunKnowledge,
        domain=domain,
        atoms=tuple(atom_ref(a) for a in atoms),
        atoms_ref=ref,
        knowledge_seq=current.last_seq,
    )
    log.info("run.knowledge", run_id=state.run_id, domain=domain, atoms=len(atoms))
    return atoms


class DistillCost(NamedTuple):
    """What distilling a run's findings cost; `run.finished` adds it to the run's cost."""

    cost_usd: float = 0.0
    tokens: int = 0


async def distill_run(services: RunServices, state: RunState) -> DistillCost:
    """Add the run's findings to its domain's knowledge, unless already there, and say what that
    cost (also when an earlier daemon did it before dying); errors are logged, never raised
    (cancellation still is: a resumed run distills again)."""
    request = state.request
    if request is None or request.domain is None or services.knowledge is None:
        return DistillCost()
    bound = log.bind(run_id=state.run_id, domain=request.domain)
    try:
        return await _distill(services, services.knowledge, state, request, request.domain, bound)
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:
        bound.warning("knowledge.failed", error=f"{type(exc).__name__}: {exc}")
        return DistillCost()


def _cost(event: KnowledgeDistilled) -> DistillCost:
    return DistillCost(event.cost_usd, event.prompt_tokens + event.completion_tokens)


def _paid_before(events: list, run_id: str) -> DistillCost:
    """What the run's distillation already in the stream cost (a daemon that died after it)."""
    return next((_cost(e) for e in events if isinstance(e, KnowledgeDistilled) and e.run_id == run_id), DistillCost())


async def _distill(
    services: RunServices,
    stream: KnowledgeLog,
    state: RunState,
    request: RunRequest,
    domain: str,
    bound: FilteringBoundLogger,
) -> DistillCost:
    findings = run_findings(state)
    if not findings:
        return DistillCost()
    events, knowledge = await _read(stream, domain)
    if knowledge.distilled(state.run_id):
        return _paid_before(events, state.run_id)
    atoms, details = await _ask_model(services, state, request, findings, knowledge)
    for _ in range(APPEND_ATTEMPTS):
        event = KnowledgeDistilled(
            domain=domain,
            seq=knowledge.last_seq + 1,
            at=services.clock(),
            run_id=state.run_id,
            atoms=supersede(knowledge.current(), atoms),
            **details,
        )
        try:
            await stream.append(event)
        except AppendConflict:
            events, knowledge = await _read(stream, domain)  # another run of the domain appended first
            if knowledge.distilled(state.run_id):
                return _paid_before(events, state.run_id)
            continue
        bound.info("knowledge.distilled", atoms=len(event.atoms), problem=event.problem or None)
        return _cost(event)
    bound.warning("knowledge.failed", error=f"the domain's stream kept moving: {APPEND_ATTEMPTS} appends conflicted")
    return _cost(event)


async def _ask_model(
    services: RunServices,
    state: RunState,
    request: RunRequest,
    findings: tuple[Finding, ...],
    knowledge: KnowledgeState,
) -> tuple[tuple[Atom, ...], dict]:
    """The model's atoms and what the call cost; the evidence-only atoms, with the problem, when the
    call failed or its answer was nonsense."""
    fallback = evidence_atoms(findings, state.run_id, state.metric, state.lower_is_better)
    try:
        prompt = distill_prompt(request, state, task_label(request.task), findings, select_atoms(knowledge.current()))
    except TemplateProblem as exc:
        return fallback, {"problem": f"the distill template could not render: {exc}"[:1000]}
    messages = prompt.messages
    prompt_ref = await store_prompt(services, messages)
    try:
        completion = await services.llm.complete(prompt.model, messages, context=prompt.context)
    except LLMError as exc:
        return fallback, {"prompt_ref": prompt_ref, "problem": f"the model call failed: {exc}"[:1000]}
    details = {
        "model": completion.model,
        "prompt_ref": prompt_ref,
        "completion_ref": await services.blobs.put(completion.text.encode()),
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "cost_usd": completion.cost_usd,
    }
    try:
        return parse_distilled(completion.text, findings, state.run_id, state.metric, state.lower_is_better), details
    except DistillError as exc:
        problem = f"the model's answer was not usable: {exc}; the atoms are the evidence-only ones"[:1000]
        return fallback, {**details, "problem": problem}


async def _read(stream: KnowledgeLog, domain: str) -> tuple[list, KnowledgeState]:
    """The domain's events and their fold."""
    events = await stream.read(domain)
    return events, fold_knowledge(events, domain)
