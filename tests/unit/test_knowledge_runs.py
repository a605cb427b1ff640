"""Knowledge in a run's life, against in-memory logs: the atoms a run sees are recorded once, and a
run's findings are distilled once, even when a daemon dies before or after distilling; a model that
answers nonsense, or a knowledge log that fails, never fails the run."""

import anyio
import pytest

from airad.agents.knowledge_prompt import TOP_K, select_atoms
from airad.daemon.run_knowledge import distill_run, run_knowledge
from airad.daemon.run_services import RunServices, RunWriter
from airad.daemon.runner import drive_run
from airad.events.fold import fold
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.events.knowledge_fold import fold_knowledge
from airad.events.knowledge_log import InMemoryKnowledgeLog
from airad.offline.coder import answer
from airad.schemas.events import RunFinished, RunKnowledge, RunSubmitted
from airad.schemas.knowledge_events import Atom, Evidence, KnowledgeDistilled, atom_ref, decode_atoms
from airad.schemas.request import Budget, BundledTask, RunRequest
from tests.fakes import InlineExecutor, ScriptedLLM
from tests.unit.test_distill import _run


def offline(prompt: str) -> str:
    """The offline coder's answer to a user message."""
    return answer([{"role": "user", "content": prompt}])


def _services(tmp_path, llm, knowledge=None, log=None) -> RunServices:
    return RunServices(
        log=log or InMemoryEventLog(), blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=llm,
        executors={"local": InlineExecutor()}, limiters={"local": anyio.CapacityLimiter(1)},
        tasks_root=tmp_path / "tasks", owner="test-daemon", knowledge=knowledge or InMemoryKnowledgeLog(),
    )


async def _distilled(services, domain="bc") -> list[KnowledgeDistilled]:
    return await services.knowledge.read(domain)


async def test_a_runs_findings_are_distilled_once_with_the_models_atoms(tmp_path):
    llm = ScriptedLLM(offline)
    services = _services(tmp_path, llm)
    state = fold(_run().events)
    await distill_run(services, state)
    await distill_run(services, state)
    [event] = await _distilled(services)
    assert event.run_id == "r1" and event.seq == 1 and event.problem == "" and event.model == "airad-offline/coder"
    assert {a.atom_id for a in event.atoms} >= {"family.lightgbm", "family.knn"}
    assert all(a.source == "model" and a.version == 1 for a in event.atoms)
    assert "# Your job: distill" in (await services.blobs.get(event.prompt_ref)).decode()
    assert (await services.blobs.get(event.completion_ref)).decode().startswith('{"atoms"')
    assert len(llm.prompts) == 1, "the second call saw the run in the stream and asked no model"


async def test_a_finished_run_counts_what_distilling_it_cost(tmp_path):
    services = _services(tmp_path, ScriptedLLM(offline, cost_usd=0.5))
    await _finished_nodes(services)
    before = fold(await services.log.read("r1"))
    state = await drive_run(services, "r1")
    [distilled] = await _distilled(services)
    finished = (await services.log.read("r1"))[-1]
    assert isinstance(finished, RunFinished) and finished.distill_cost_usd == distilled.cost_usd == 0.5
    assert finished.distill_tokens == distilled.prompt_tokens + distilled.completion_tokens == 150
    assert state.cost_usd == pytest.approx(before.cost_usd + 0.5)
    assert fold(await services.log.read("r1")) == state


@pytest.mark.parametrize("reply, problem", [
    ("I'm sorry, as a language model I prefer poetry.", "the model's answer was not usable: the answer holds no JSON object"),
    (RuntimeError("connection refused"), "the model call failed: connection refused"),
])
async def test_a_model_that_fails_or_answers_nonsense_leaves_the_evidence_only_atoms(tmp_path, reply, problem):
    services = _services(tmp_path, ScriptedLLM([reply]))
    await distill_run(services, fold(_run().events))
    [event] = await _distilled(services)
    assert event.problem.startswith(problem)
    assert event.atoms and all(a.source == "evidence" for a in event.atoms)
    assert event.prompt_ref


async def test_a_run_without_a_domain_or_without_findings_distils_nothing(tmp_path):
    llm = ScriptedLLM(offline)
    services = _services(tmp_path, llm)
    await distill_run(services, fold(_run(domain=None).events))
    empty = fold(_run().events[:1])
    await distill_run(services, empty)
    assert await services.knowledge.domains() == [] and llm.prompts == []


class _BrokenKnowledge(InMemoryKnowledgeLog):
    async def append(self, event):
        raise RuntimeError("the disk is full")


async def test_a_failing_knowledge_log_never_fails_the_run(tmp_path):
    services = _services(tmp_path, ScriptedLLM(offline), knowledge=_BrokenKnowledge())
    await distill_run(services, fold(_run().events))


class _Racing(InMemoryKnowledgeLog):
    """Another run's distillation lands just before this one's first append."""

    def __init__(self, other: KnowledgeDistilled):
        super().__init__()
        self.other = other

    async def append(self, event):
        if self.other is not None:
            other, self.other = self.other, None
            await super().append(other)
        await super().append(event)


def _atom(atom_id: str, effect: str = "helped", confidence: float = 0.5, run_id: str = "r0") -> Atom:
    return Atom(atom_id=atom_id, version=1, kind="model_family", effect=effect, claim=f"{atom_id} {effect}.",
                confidence=confidence, evidence=(Evidence(run_id=run_id, node_ids=(0,), score_deltas=(0.01,)),))


async def test_a_conflicting_append_is_retried_against_the_newer_knowledge(tmp_path):
    other = KnowledgeDistilled(domain="bc", seq=1, at=1.0, run_id="r0", atoms=(_atom("family.lightgbm", confidence=0.4),))
    services = _services(tmp_path, ScriptedLLM(offline), knowledge=_Racing(other))
    await distill_run(services, fold(_run().events))
    first, mine = await _distilled(services)
    assert first.run_id == "r0" and mine.run_id == "r1" and mine.seq == 2
    lgbm = next(a for a in mine.atoms if a.atom_id == "family.lightgbm")
    assert (lgbm.version, lgbm.supersedes) == (2, 1) and [e.run_id for e in lgbm.evidence] == ["r1", "r0"]


async def _submit(services, run_id: str, domain: str | None = "bc") -> None:
    request = RunRequest(task=BundledTask(name="breast-cancer"), domain=domain, run_id=run_id)
    await services.log.append(RunSubmitted(run_id=run_id, seq=1, at=1.0, request=request))


async def test_the_atoms_a_run_sees_are_recorded_once_and_read_back_on_resume(tmp_path):
    services = _services(tmp_path, ScriptedLLM(offline))
    atoms = tuple(_atom(f"family.f{i}", confidence=i / 20) for i in range(12))
    await services.knowledge.append(KnowledgeDistilled(domain="bc", seq=1, at=1.0, run_id="r0", atoms=atoms))
    await _submit(services, "r2")
    seen = await run_knowledge(services, RunWriter(services, fold(await services.log.read("r2"))))
    assert seen == select_atoms(atoms) and len(seen) == TOP_K and seen[0].atom_id == "family.f11"
    [_, recorded] = await services.log.read("r2")
    assert isinstance(recorded, RunKnowledge)
    assert recorded.domain == "bc" and recorded.knowledge_seq == 1 and recorded.atoms == tuple(atom_ref(a) for a in seen)
    assert decode_atoms(await services.blobs.get(recorded.atoms_ref)) == seen
    state = fold(await services.log.read("r2"))
    assert state.knowledge == recorded.atoms and state.knowledge_ref == recorded.atoms_ref

    newer = (_atom("family.best", confidence=0.9),)
    await services.knowledge.append(KnowledgeDistilled(domain="bc", seq=2, at=2.0, run_id="r1", atoms=newer))
    again = await run_knowledge(services, RunWriter(services, state))
    assert again == seen, "a resumed run keeps the knowledge it started with"
    assert len(await services.log.read("r2")) == 2

    await _submit(services, "plain", domain=None)
    assert await run_knowledge(services, RunWriter(services, fold(await services.log.read("plain")))) == ()
    assert len(await services.log.read("plain")) == 1


class _Hanging:
    """A model that never answers the distill prompt: the daemon dies while waiting."""

    def __init__(self):
        self.called = anyio.Event()

    async def check_model(self, model):
        return None

    async def context_window(self, model):
        return model.context_tokens

    def count_tokens(self, model, messages):
        return sum(len(m.content) for m in messages) // 4

    async def complete(self, model, messages, tools=None, context=None):
        self.called.set()
        await anyio.sleep_forever()


async def _finished_nodes(services) -> None:
    """The run's nodes are all done and its budget is spent: the next drive distills and finishes it."""
    for event in _run(budget=Budget(max_nodes=7)).events:
        await services.log.append(event)


def _runs_distilled(events) -> list[str]:
    return [e.run_id for e in events]


async def test_a_daemon_killed_while_distilling_distils_on_resume_and_never_twice(tmp_path):
    hanging = _Hanging()
    services = _services(tmp_path, hanging)
    await _finished_nodes(services)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive_run, services, "r1")
            await hanging.called.wait()
            tg.cancel_scope.cancel()
    assert not fold(await services.log.read("r1")).terminal and await _distilled(services) == []

    llm = ScriptedLLM(offline)
    services.llm = llm
    state = await drive_run(services, "r1")
    assert state.status == "finished" and state.finish_reason == "max_nodes"
    assert _runs_distilled(await _distilled(services)) == ["r1"]
    await drive_run(services, "r1")
    assert _runs_distilled(await _distilled(services)) == ["r1"] and len(llm.prompts) == 1


class _DiesBeforeFinishing(InMemoryEventLog):
    """The daemon dies after distilling, just before it appends run.finished."""

    armed = True

    async def append(self, event):
        if isinstance(event, RunFinished) and self.armed:
            self.armed = False
            raise RuntimeError("power cut")
        await super().append(event)


async def test_a_daemon_killed_after_distilling_finishes_the_run_without_distilling_again(tmp_path):
    llm = ScriptedLLM(offline, cost_usd=0.25)
    services = _services(tmp_path, llm, log=_DiesBeforeFinishing())
    await _finished_nodes(services)
    before = fold(await services.log.read("r1"))
    with pytest.raises(RuntimeError, match="power cut"):
        await drive_run(services, "r1")
    assert _runs_distilled(await _distilled(services)) == ["r1"]
    state = await drive_run(services, "r1")
    assert state.status == "finished"
    assert _runs_distilled(await _distilled(services)) == ["r1"] and len(llm.prompts) == 1
    finished = (await services.log.read("r1"))[-1]
    assert (finished.distill_cost_usd, finished.distill_tokens) == (0.25, 150), "the cost paid before the crash"
    assert state.cost_usd == pytest.approx(before.cost_usd + 0.25) and state.tokens == before.tokens + 150
    knowledge = fold_knowledge(await _distilled(services), "bc")
    assert knowledge.distilled("r1") and knowledge.current()
