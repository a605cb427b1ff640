"""A domain's knowledge: the fold of its events, supersession by claim key, and the bounded prompt section."""

import pytest

from airad.agents.knowledge_prompt import atom_line, select_atoms
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import policy_view
from airad.events.fold import fold
from airad.events.knowledge_fold import MAX_EVIDENCE, KnowledgeState, evolve_knowledge, fold_knowledge, supersede
from airad.schemas.knowledge_events import Atom, Evidence, KnowledgeDistilled
from tests.factories import History


def _atom(atom_id: str, effect: str = "helped", confidence: float = 0.5, run_id: str = "r1", claim: str = "") -> Atom:
    return Atom(
        atom_id=atom_id, version=1, kind="features", effect=effect, claim=claim or f"{atom_id} {effect}.",
        confidence=confidence, evidence=(Evidence(run_id=run_id, node_ids=(1,), score_deltas=(0.01,)),),
    )


def _distilled(seq: int, run_id: str, atoms, domain: str = "bc") -> KnowledgeDistilled:
    return KnowledgeDistilled(domain=domain, seq=seq, at=float(seq), run_id=run_id, atoms=tuple(atoms))


def test_a_newer_atom_with_the_same_key_supersedes_the_older():
    first = supersede((), [_atom("change.log1p", confidence=0.6), _atom("family.knn", "hurt")])
    assert [(a.version, a.supersedes) for a in first] == [(1, None), (1, None)]
    state = fold_knowledge([_distilled(1, "r1", first)], "bc")
    second = supersede(state.current(), [_atom("change.log1p", confidence=0.5, run_id="r2"), _atom("family.svm", "hurt", run_id="r2")])
    log1p = second[0]
    assert (log1p.version, log1p.supersedes) == (2, 1)
    assert log1p.confidence == pytest.approx(1 - 0.4 * 0.5), "the same claim again: more confident"
    assert [e.run_id for e in log1p.evidence] == ["r2", "r1"], "newest evidence first, older kept"
    state = evolve_knowledge(state, _distilled(2, "r2", second))
    current = {a.atom_id: a for a in state.current()}
    assert current["change.log1p"].version == 2 and set(current) == {"change.log1p", "family.knn", "family.svm"}
    assert [a.version for a in state.history("change.log1p")] == [1, 2]
    assert state.distilled("r1") and state.distilled("r2") and not state.distilled("r3")
    assert state.last_seq == 2


def test_a_reversed_claim_keeps_its_own_confidence_and_evidence_is_bounded():
    old = Atom(atom_id="change.x", version=3, kind="other", effect="helped", claim="x helped", confidence=0.9,
               evidence=tuple(Evidence(run_id=f"r{i}", node_ids=(i,), score_deltas=(0.1,)) for i in range(MAX_EVIDENCE)))
    [new] = supersede([old], [_atom("change.x", "hurt", confidence=0.3, run_id="new")])
    assert (new.version, new.supersedes, new.effect, new.confidence) == (4, 3, "hurt", 0.3)
    assert len(new.evidence) == MAX_EVIDENCE and new.evidence[0].run_id == "new"


def test_the_fold_refuses_gaps_and_other_domains():
    state = KnowledgeState("bc")
    with pytest.raises(ValueError, match="expected seq 1"):
        evolve_knowledge(state, _distilled(2, "r1", []))
    with pytest.raises(ValueError, match="domain"):
        evolve_knowledge(state, _distilled(1, "r1", [], domain="other"))


def test_the_prompt_section_shows_the_most_confident_atoms_within_bounds():
    atoms = [_atom(f"change.a{i}", confidence=i / 10) for i in range(10)]
    chosen = select_atoms(atoms, top_k=3)
    assert [a.atom_id for a in chosen] == ["change.a9", "change.a8", "change.a7"]
    long = [_atom(f"change.long{i}", confidence=0.5, claim="word " * 100) for i in range(10)]
    bounded = select_atoms(long, top_k=8, max_chars=1000)
    assert 0 < len(bounded) < 8 and sum(len(atom_line(a)) + 1 for a in bounded) <= 1000
    assert atom_line(chosen[0]) == "- helped [features] change.a9 helped. (atom change.a9 v1, confidence 0.90)"
    brief = TaskBrief("Predict the target.", "- train.csv: 10 rows")
    shown = build_prompt("draft", brief, policy_view(fold(History().events)), (), knowledge=chosen)[1].content
    assert atom_line(chosen[0]) in shown


def test_operators_put_the_knowledge_between_the_data_and_the_previous_attempts():
    state = fold(History().node(0, "draft", plan="Model family: LightGBM.").events)
    brief = TaskBrief("Predict the target.", "- train.csv: 10 rows")
    plain = build_prompt("draft", brief, policy_view(state), ())
    assert build_prompt("draft", brief, policy_view(state), (), knowledge=()) == plain
    text = build_prompt("draft", brief, policy_view(state), (), knowledge=[_atom("family.lightgbm")])[1].content
    assert text.index("# Data") < text.index("# Knowledge from earlier runs") < text.index("# Previous attempts")
    assert "(atom family.lightgbm v1, confidence 0.50)" in text
    improve = build_prompt("improve", brief, policy_view(state), (0,), knowledge=[_atom("family.lightgbm")])[1].content
    assert "# Knowledge from earlier runs" in improve
