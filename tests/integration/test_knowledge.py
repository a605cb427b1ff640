"""Knowledge across runs with the real daemon, a real nats-server and the offline coder: the first run
of a domain leaves atoms, the second sees them in its prompts and records which; a run the daemon
did not distil before dying is distilled on resume, once; `airad knowledge` shows them."""

import json
import time

import msgspec
import nats
import pytest

from airad.agents.knowledge_prompt import select_atoms
from airad.agents.policy_view import policy_view
from airad.agents.prompt_context import OperatorContext, Surroundings, operator_context
from airad.agents.templates import messages
from airad.daemon.template_sets import templates_of
from airad.events.fold import fold
from airad.events.jetstream import JetStreamBlobStore, JetStreamEventLog, JetStreamRunIndex
from airad.events.knowledge_fold import fold_knowledge
from airad.events.knowledge_log import JetStreamKnowledgeLog
from airad.reports.summary import summarize
from airad.schemas.events import NodeGenerated, NodeSelected, RunFinished, decode_event
from airad.schemas.knowledge_events import decode_atoms
from airad.schemas.request import operators_of
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.integration.test_cli import airad

pytestmark = pytest.mark.integration

DOMAIN = "bc-knowledge"
SECTION = "# Knowledge from earlier runs"


def _request(run_id: str, seed: int) -> bytes:
    return json.dumps({
        "run_id": run_id, "domain": DOMAIN, "seed": seed,
        "task": {"kind": "bundled", "name": "breast-cancer"},
        "policy": {"kind": "greedy", "num_drafts": 2, "debug_prob": 0.0},
        "budget": {"max_nodes": 3},
    }).encode()


async def _knowledge(nats_url: str) -> list:
    nc = await nats.connect(nats_url)
    try:
        return await JetStreamKnowledgeLog(nc.jetstream()).read(DOMAIN)
    finally:
        await nc.close()


async def _prompts(nats_url: str, events: list[dict]) -> list[str]:
    """The user message of every node.generated prompt, from the blob store."""
    nc = await nats.connect(nats_url)
    try:
        blobs = await JetStreamBlobStore.open(nc.jetstream())
        refs = [e["prompt_ref"] for e in events if e["type"] == "node.generated"]
        return [json.loads(await blobs.get(ref))[-1][1] for ref in refs]
    finally:
        await nc.close()


async def _assert_prompts_replay(nats_url: str, events: list, tasks_root) -> None:
    """Every prompt of the run is rebuilt from its own events: the request's templates render the
    context its node.generated references, and that context is the fold up to the node's decision,
    the atoms its run.knowledge event references, and the surroundings (compute, packages, budget)."""
    nc = await nats.connect(nats_url)
    try:
        blobs = await JetStreamBlobStore.open(nc.jetstream())
        state = fold(events)
        atoms = decode_atoms(await blobs.get(state.knowledge_ref))
        templates = templates_of(operators_of(state.request))
        selected = {e.node_id: i for i, e in enumerate(events) if isinstance(e, NodeSelected)}
        for event in events:
            if isinstance(event, NodeGenerated):
                stored = msgspec.json.decode(await blobs.get(event.context_ref), type=OperatorContext)
                before = fold(events[: selected[event.node_id] + 1])
                node = before.nodes[event.node_id]
                around = Surroundings(
                    stored.task, stored.output_contract, stored.compute, stored.time_limit_s, stored.budget_left,
                    stored.packages, state.request.program,
                )
                rebuilt = operator_context(
                    node.operator, node.id, node.parent_ids, policy_view(before), operators_of(state.request), around,
                    atoms, {p: f"{before.nodes[p].stdout_tail}\n{before.nodes[p].stderr_tail}".strip() for p in node.parent_ids},
                )
                assert rebuilt == stored, f"node {event.node_id}'s context is its run's fold"
                prompt = json.loads(await blobs.get(event.prompt_ref))
                assert prompt == [[m.role, m.content] for m in messages(templates, stored)], f"node {event.node_id}'s prompt replays"
                assert "lightgbm==" in prompt[1][1], "the probed packages are in the prompt"
    finally:
        await nc.close()


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def test_a_second_run_in_a_domain_sees_the_first_runs_atoms_and_records_which(nats_url, tmp_path):
    require("bwrap")
    daemon = DaemonProcess(nats_url, tmp_path / "state").start()
    try:
        await publish_raw(nats_url, _request("know-1", seed=3))
        first = await run_events(nats_url, "know-1", timeout_s=240)
        distilled = await _knowledge(nats_url)
        await publish_raw(nats_url, _request("know-2", seed=4))
        second = await run_events(nats_url, "know-2", timeout_s=240)
        after = await _knowledge(nats_url)
    finally:
        daemon.stop()
    log = daemon.log_text()
    assert first[-1]["type"] == "run.finished" and second[-1]["type"] == "run.finished", log

    types = _types(first)
    assert types[2] == "run.knowledge" and types.index("run.knowledge") < types.index("node.selected")
    assert first[2]["domain"] == DOMAIN and first[2]["atoms"] == [] and first[2]["atoms_ref"] == ""
    assert not any(SECTION in p for p in await _prompts(nats_url, first)), "nothing known yet"

    [event] = distilled
    assert event.run_id == "know-1" and event.problem == "" and event.atoms, "the first run's findings became atoms"
    assert all(a.version == 1 and a.evidence[0].run_id == "know-1" for a in event.atoms)
    nodes = {e["node_id"] for e in first if e["type"] == "node.scored" and e["valid"]}
    assert all(set(a.evidence[0].node_ids) <= nodes for a in event.atoms), "evidence names the run's scored nodes"

    seen = [e for e in second if e["type"] == "run.knowledge"]
    assert len(seen) == 1 and _types(second).index("run.knowledge") < _types(second).index("node.selected")
    expected = select_atoms(fold_knowledge(distilled, DOMAIN).current())
    assert seen[0]["atoms"] == [{"atom_id": a.atom_id, "version": a.version} for a in expected]
    assert seen[0]["knowledge_seq"] == 1 and seen[0]["atoms_ref"]
    prompts = await _prompts(nats_url, second)
    assert prompts and all(SECTION in p for p in prompts)
    for atom in expected:
        assert all(f"(atom {atom.atom_id} v{atom.version}," in p for p in prompts)
    plans = " ".join(e["plan"] for e in second if e["type"] == "node.generated")
    assert "(atom " in plans, "the offline coder's plans name the atoms they follow"

    typed = [decode_event(json.dumps(e).encode()) for e in second]
    state = fold(typed)
    assert [(r.atom_id, r.version) for r in state.knowledge] == [(a.atom_id, a.version) for a in expected]
    await _assert_prompts_replay(nats_url, typed, tmp_path / "replay-tasks")
    assert [e.run_id for e in after] == ["know-1", "know-2"]
    current = fold_knowledge(after, DOMAIN)

    state_dir = tmp_path / "cli"
    domains = airad("--nats", nats_url, "knowledge", "ls", "--json", state_dir=state_dir)
    assert domains.returncode == 0, domains.stderr
    [row] = json.loads(domains.stdout)
    assert row["domain"] == DOMAIN and row["runs"] == ["know-1", "know-2"] and row["atoms"] == len(current.current())
    listed = airad("--nats", nats_url, "knowledge", "ls", DOMAIN, state_dir=state_dir)
    assert listed.returncode == 0 and "ATOM" in listed.stdout and current.current()[0].atom_id in listed.stdout
    atom = max(current.current(), key=lambda a: a.version)
    shown = airad("--nats", nats_url, "knowledge", "show", DOMAIN, atom.atom_id, "--json", state_dir=state_dir)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["atom"]["version"] == atom.version and [v["version"] for v in detail["history"]] == list(range(1, atom.version + 1))
    text = airad("--nats", nats_url, "knowledge", "show", DOMAIN, atom.atom_id, state_dir=state_dir)
    assert f"atom {atom.atom_id} v{atom.version} of domain {DOMAIN}" in text.stdout and "history:" in text.stdout
    missing = airad("--nats", nats_url, "knowledge", "show", DOMAIN, "no.such.atom", state_dir=state_dir)
    assert missing.returncode == 1 and "has no atom" in missing.stderr
    unknown = airad("--nats", nats_url, "knowledge", "ls", "nowhere", state_dir=state_dir)
    assert unknown.returncode == 1 and "no knowledge in domain 'nowhere'" in unknown.stderr


async def test_a_run_that_ended_before_it_was_distilled_is_distilled_on_resume_once(nats_url, tmp_path):
    """A daemon that dies after a run's last node but before distilling leaves a log that ends before
    run.finished and a summary that says running: the next daemon adopts the run and distils it."""
    require("bwrap")
    first = DaemonProcess(nats_url, tmp_path / "state").start()
    try:
        await publish_raw(nats_url, _request("know-a", seed=3))
        events = await run_events(nats_url, "know-a", timeout_s=240)
    finally:
        first.stop()
    assert events[-1]["type"] == "run.finished", first.log_text()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        log = JetStreamEventLog(js)
        copied = []
        for raw in events[:-1]:
            event = msgspec.structs.replace(decode_event(json.dumps(raw).encode()), run_id="know-crashed")
            if hasattr(event, "request"):
                event = msgspec.structs.replace(event, request=msgspec.structs.replace(event.request, run_id="know-crashed"))
            copied.append(event)
            await log.append(event)
        assert not isinstance(copied[-1], RunFinished)
        await (await JetStreamRunIndex.open(js)).put(summarize(fold(copied), time.time()))
    finally:
        await nc.close()

    second = DaemonProcess(nats_url, tmp_path / "state").start()
    try:
        resumed = await run_events(nats_url, "know-crashed", timeout_s=120)
        knowledge = await _knowledge(nats_url)
    finally:
        second.stop()
    assert resumed[-1]["type"] == "run.finished" and resumed[-1]["reason"] == "max_nodes", second.log_text()
    assert [e.run_id for e in knowledge] == ["know-a", "know-crashed"]
    original, again = knowledge
    assert [a.atom_id for a in again.atoms] == [a.atom_id for a in original.atoms], "the same findings: the same claims"
    for atom in again.atoms:
        assert (atom.version, atom.supersedes) == (2, 1), "each supersedes the first run's version"
        assert [e.run_id for e in atom.evidence] == ["know-crashed", "know-a"]
    assert _types(resumed).count("run.knowledge") == 1, "the knowledge the run started with is kept"
    assert not [e for e in resumed[len(copied):] if e["type"] == "node.selected"], "no new node: the budget was spent"

    third = DaemonProcess(nats_url, tmp_path / "state").start()
    try:
        await publish_raw(nats_url, _request("know-crashed", seed=3))  # a redelivered request of the finished run
        await publish_raw(nats_url, _request("know-b", seed=5))
        await run_events(nats_url, "know-b", timeout_s=240)
        knowledge = await _knowledge(nats_url)
    finally:
        third.stop()
    assert [e.run_id for e in knowledge] == ["know-a", "know-crashed", "know-b"], "never distilled twice"
