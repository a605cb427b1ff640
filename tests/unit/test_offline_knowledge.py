"""The offline coder both produces knowledge atoms (it answers the distill prompt from its evidence)
and uses them (drafts and improve steps follow what helped and avoid what hurt)."""

from __future__ import annotations

from airad.agents.answers import parse_answer
from airad.agents.distill import parse_distilled
from tests.prompting import build_distill_prompt
from airad.agents.findings import change_key, run_findings
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import NodeView, PolicyView
from airad.events.fold import fold
from airad.offline.catalog import FAMILY_NAMES, default_params
from airad.offline.coder import answer
from airad.offline.prompt import parse_prompt
from airad.offline.scripts import read_config, render
from airad.schemas.knowledge_events import Atom, Evidence
from tests.unit.test_distill import _run
from tests.unit.test_offline_coder import DESCRIPTION, OVERVIEW

LOG1P = change_key("added signed log1p copies of the numeric features")


def _atom(atom_id: str, effect: str, confidence: float = 0.6, kind: str = "model_family") -> Atom:
    return Atom(atom_id=atom_id, version=2, kind=kind, effect=effect, claim=f"{atom_id} {effect} in earlier runs.",
                confidence=confidence, evidence=(Evidence(run_id="r0", node_ids=(1,), score_deltas=(0.01,)),))


def _messages(operator: str, knowledge, nodes=(), parents=(), round_: int = 0) -> list[dict]:
    view = PolicyView(nodes=tuple(nodes), lower_is_better=False, decisions=len(nodes))
    brief = TaskBrief(DESCRIPTION + f"\nRound {round_}.", OVERVIEW)
    return [{"role": m.role, "content": m.content} for m in build_prompt(operator, brief, view, tuple(parents), knowledge=knowledge)]


def _node(i: int, plan: str, code: str, score: float = 0.95) -> NodeView:
    return NodeView(id=i, operator="draft", parent_ids=(), children=(), done=True, buggy=False, score=score,
                    plan=plan, code=code, error="", debug_depth=0)


def test_the_distill_answer_is_deterministic_and_parses_into_one_atom_per_finding():
    state = fold(_run().events)
    findings = run_findings(state)
    messages = [{"role": m.role, "content": m.content} for m in build_distill_prompt("breast-cancer", "r1", "roc_auc", False, findings)]
    text = answer(messages)
    assert answer(messages) == text
    atoms = parse_distilled(text, findings, "r1", "roc_auc", False)
    assert [a.atom_id for a in atoms] == [f.key for f in findings]
    assert all(a.source == "model" for a in atoms)
    claims = {a.atom_id: a.claim for a in atoms}
    assert claims["family.lightgbm"].startswith("Prefer LightGBM: 1 draft scored 0.97 on average")
    assert claims["family.knn"].startswith("Avoid k-nearest neighbours")


def test_the_coder_reads_the_knowledge_section():
    knowledge = [_atom("family.lightgbm", "helped", 0.8), _atom(LOG1P, "helped", 0.5, kind="features")]
    prompt = parse_prompt(_messages("draft", knowledge)[1]["content"])
    assert [(k.atom_id, k.effect, k.version, k.confidence) for k in prompt.knowledge] == [
        ("family.lightgbm", "helped", 2, 0.8), (LOG1P, "helped", 2, 0.5),
    ]
    assert "Knowledge" not in prompt.data and "Knowledge" not in prompt.task


def test_drafts_take_the_family_and_features_that_helped():
    knowledge = [_atom("family.lightgbm", "helped", 0.8), _atom(LOG1P, "helped", 0.5, kind="features")]
    for round_ in range(4):
        parsed = parse_answer(answer(_messages("draft", knowledge, round_=round_)))
        config = read_config(parsed.code)
        assert config["family"] == "lightgbm" and config["log_features"] is True
        assert parsed.plan.startswith("Model family: LightGBM.")
        assert "(atom family.lightgbm v2)" in parsed.plan and f"(atom {LOG1P} v2)" in parsed.plan


def test_a_second_draft_moves_on_and_drafts_avoid_families_that_hurt():
    hurt = [_atom(f"family.{f}", "hurt") for f in FAMILY_NAMES if f != "hist_gb"]
    for round_ in range(4):
        parsed = parse_answer(answer(_messages("draft", hurt, round_=round_)))
        assert read_config(parsed.code)["family"] == "hist_gb", "the one family that did not hurt"
        assert "It avoids what hurt in earlier runs" in parsed.plan
    knowledge = [_atom("family.lightgbm", "helped", 0.8), _atom("family.extra_trees", "helped", 0.7)]
    first = parse_answer(answer(_messages("draft", knowledge)))
    second = parse_answer(answer(_messages("draft", knowledge, nodes=[_node(0, first.plan, first.code)])))
    assert read_config(second.code)["family"] == "extra_trees", "LightGBM was tried in this run already"


def _parent() -> tuple[str, str]:
    parent = parse_answer(answer(_messages("draft", [])))
    config = {**read_config(parent.code), "log_features": False}
    return parent.plan, render(config)


def test_improve_steps_prefer_a_change_that_helped_and_avoid_one_that_hurt():
    plan, code = _parent()
    helped = [_atom(LOG1P, "helped", kind="features")]
    hurt = [_atom(LOG1P, "hurt", kind="features")]
    for score in (0.91, 0.92, 0.93, 0.94, 0.95):
        nodes = [_node(0, plan, code, score)]
        chosen = parse_answer(answer(_messages("improve", helped, nodes, (0,))))
        assert "Change: added signed log1p copies of the numeric features." in chosen.plan
        assert f"Earlier runs found this change helped (atom {LOG1P} v2)." in chosen.plan
        assert read_config(chosen.code)["log_features"] is True
        avoided = parse_answer(answer(_messages("improve", hurt, nodes, (0,))))
        assert "log1p" not in avoided.plan.split("Change: ")[1].split(".")[0]
        assert f"It avoids changes that hurt in earlier runs (atom {LOG1P} v2)." in avoided.plan


def test_improve_steps_do_not_switch_to_a_family_that_hurt():
    plan, code = _parent()
    forest = render({**read_config(code), "family": "random_forest", "params": default_params("random_forest", "classification"), "scale": False})
    hurt = [_atom("family.lightgbm", "hurt")]
    for score in (0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98):
        parsed = parse_answer(answer(_messages("improve", hurt, [_node(0, plan, forest, score)], (0,))))
        assert read_config(parsed.code)["family"] == "random_forest", parsed.plan
        assert "It avoids changes that hurt in earlier runs (atom family.lightgbm v2)." in parsed.plan


def test_without_knowledge_the_answers_are_unchanged():
    plan, code = _parent()
    for operator, nodes, parents in (("draft", (), ()), ("improve", [_node(0, plan, code)], (0,))):
        plain = _messages(operator, (), nodes, parents)
        assert "Knowledge" not in plain[1]["content"]
        assert parse_prompt(plain[1]["content"]).knowledge == []
