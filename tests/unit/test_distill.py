"""Distillation's pure part: findings from a hand-made run, the distill prompt, parsing the model's
atoms against the harness's evidence, and the evidence-only fallback."""

import json

import msgspec
import pytest

from airad.agents.distill import DistillError, evidence_atoms, parse_distilled
from tests.prompting import build_distill_prompt
from airad.agents.families import family_of
from airad.agents.findings import change_key, change_kind, plan_change, run_findings
from airad.events.fold import fold
from airad.schemas.events import NodeExecuted, NodeGenerated, NodeScored, NodeSelected, NodeTested
from airad.schemas.request import BundledTask, RunRequest
from tests.factories import History

LGBM = "Model family: LightGBM. This is a classification task."
KNN = "Model family: k-nearest neighbours. This is a classification task."
LOG1P = "Improving node 0 (LightGBM, validation score 0.97). Change: added signed log1p copies of the numeric features. Everything else is kept."
TREES = "Improving node 1 (k-nearest neighbours). Change: raised n_neighbors from 5 to 11. Everything else is kept."


def _run(run_id: str = "r1", **request) -> History:
    """Drafts 0 (LightGBM, 0.97) and 1 (k-NN, 0.91), a buggy draft 2, improve steps 3 and 5 (log1p
    on node 0: +0.01, +0.02), 4 (n_neighbors on node 1: -0.01), and a buggy improve 6; domain bc."""
    request = RunRequest(**{"task": BundledTask(name="breast-cancer"), "domain": "bc", "run_id": run_id, **request})
    h = History(run_id, request)
    h.node(0, "draft", plan=LGBM, score=0.97, test=0.1)
    h.node(1, "draft", plan=KNN, score=0.91, test=0.99)
    h.node(2, "draft", plan="Model family: random forest.", score=None)
    h.node(3, "improve", (0,), plan=LOG1P, score=0.98)
    h.node(4, "improve", (1,), plan=TREES, score=0.90)
    h.node(5, "improve", (0,), plan=LOG1P, score=0.99)
    h.node(6, "improve", (0,), plan="Change: something broken.", score=None)
    return h


def test_findings_measure_families_against_the_mean_draft_and_changes_against_the_parent():
    findings = {f.key: f for f in run_findings(fold(_run().events))}
    assert set(findings) == {
        "family.lightgbm", "family.knn", "change.added-signed-log1p-copies-of-the-numeric-features", "change.raised-n_neighbors-from-n-to-n",
    }
    lgbm, knn = findings["family.lightgbm"], findings["family.knn"]
    assert lgbm.effect == "helped" and lgbm.node_ids == (0,) and lgbm.score_deltas == pytest.approx((0.03,))
    assert knn.effect == "hurt" and knn.score_deltas == pytest.approx((-0.03,))
    log1p = findings["change.added-signed-log1p-copies-of-the-numeric-features"]
    assert log1p.kind == "features" and log1p.node_ids == (3, 5) and log1p.score_deltas == pytest.approx((0.01, 0.02))
    assert log1p.subject == "added signed log1p copies of the numeric features" and log1p.reference == "the parent"
    neighbours = findings["change.raised-n_neighbors-from-n-to-n"]
    assert neighbours.effect == "hurt" and neighbours.kind == "hyper_parameters"


def test_findings_ignore_test_scores_and_follow_the_metric_direction():
    events = _run().events
    scrambled = [msgspec.structs.replace(e, score=0.5) if isinstance(e, NodeTested) else e for e in events]
    assert run_findings(fold(scrambled)) == run_findings(fold(events))
    lower = [msgspec.structs.replace(e, lower_is_better=True) if isinstance(e, NodeScored) else e for e in events]
    effects = {f.key: f.effect for f in run_findings(fold(lower))}
    assert effects["family.lightgbm"] == "hurt" and effects["family.knn"] == "helped"
    assert effects["change.added-signed-log1p-copies-of-the-numeric-features"] == "hurt"


def test_a_run_with_one_family_and_no_improve_steps_has_no_findings():
    h = History("r2")
    h.node(0, "draft", plan=LGBM, score=0.9)
    h.node(1, "draft", plan=LGBM, score=0.8)
    assert run_findings(fold(h.events)) == ()
    assert run_findings(fold(History("r3").events)) == ()


def test_plan_changes_keys_and_kinds():
    assert plan_change(LOG1P) == "added signed log1p copies of the numeric features"
    assert plan_change("Use a bigger forest. Then more.") == "Use a bigger forest"
    assert change_key("raised n_estimators from 300 to 600") == change_key("raised n_estimators from 200 to 400")
    assert change_key("added signed log1p copies") == "change.added-signed-log1p-copies"
    assert change_kind("switched numeric imputation from median to mean") == "preprocessing"
    assert change_kind("switched the model family from random forest to the stronger LightGBM") == "model_family"
    assert change_kind("halved the learning rate to 0.025 with 600 boosting rounds") == "hyper_parameters"
    assert change_kind("added pairwise products of the first four numeric features") == "features"
    assert change_kind("prayed") == "other"
    assert family_of("We train an XGBoost model, then a random forest.") == "xgboost"
    assert family_of("Model family: random forest. Unlike LightGBM ...") == "random_forest"
    assert family_of("no idea") is None


def test_the_distill_prompt_carries_the_findings_as_json_and_the_current_atoms():
    state = fold(_run().events)
    findings = run_findings(state)
    current = evidence_atoms(findings[:1], "r0", "roc_auc", False)
    system, user = build_distill_prompt("breast-cancer", "r1", "roc_auc", False, findings, current)
    assert "# Your job: distill" in user.content and "(higher is better)" in user.content
    block = user.content.split("```json\n", 1)[1].split("```", 1)[0]
    assert [f["key"] for f in json.loads(block)] == [f.key for f in findings]
    assert "# Current knowledge" in user.content and f"(atom {current[0].atom_id} v1" in user.content


def _answer(*atoms) -> str:
    return "Here are the atoms:\n```json\n" + json.dumps({"atoms": list(atoms)}) + "\n```\n"


def test_parsed_atoms_take_their_evidence_from_the_harness_not_the_model():
    state = fold(_run().events)
    findings = run_findings(state)
    text = _answer(
        {"key": "family.LightGBM", "kind": "model_family", "effect": "helped", "claim": "LightGBM is best.",
         "confidence": 3, "node_ids": [0, 99], "score_deltas": [5.0]},
        {"key": "change.log1p", "kind": "colour", "effect": "helped", "claim": "log1p features help.", "confidence": 0.6, "node_ids": [3, 5]},
        {"key": "family.knn", "kind": "model_family", "effect": "helped", "claim": "k-NN is great.", "confidence": 0.9, "node_ids": [1]},
        {"key": "no nodes", "effect": "hurt", "claim": "x", "confidence": 0.5, "node_ids": [42]},
        {"key": "family.lightgbm", "kind": "model_family", "effect": "helped", "claim": "duplicate", "confidence": 0.1, "node_ids": [0]},
    )
    atoms = parse_distilled(text, findings, "r1", "roc_auc", False)
    assert [a.atom_id for a in atoms] == ["family.lightgbm", "change.log1p"], "k-NN's claim contradicts its nodes; 42 is no node"
    lgbm, log1p = atoms
    assert lgbm.confidence == 0.95 and lgbm.source == "model" and lgbm.version == 1
    assert lgbm.evidence[0].node_ids == (0,) and lgbm.evidence[0].score_deltas == pytest.approx((0.03,))
    assert lgbm.evidence[0].run_id == "r1" and lgbm.evidence[0].metric == "roc_auc"
    assert log1p.kind == "other" and log1p.evidence[0].score_deltas == pytest.approx((0.01, 0.02))


@pytest.mark.parametrize("text, reason", [
    ("I'm sorry, as a language model I prefer poetry.", "no JSON object"),
    ('{"atoms": "many"}', "no list `atoms`"),
    ('{"atoms": []}', "none of the answer's 0 atoms"),
    ('<think>{"atoms": []}</think>{"atoms": [{"key": "x", "effect": "helped", "claim": "c", "confidence": "high", "node_ids": [0]}]}', "none of the answer's 1 atoms"),
])
def test_nonsense_answers_raise_distill_error(text, reason):
    findings = run_findings(fold(_run().events))
    with pytest.raises(DistillError, match=reason):
        parse_distilled(text, findings, "r1", "roc_auc", False)


def test_evidence_atoms_word_each_finding_and_grow_confident_with_more_nodes():
    findings = run_findings(fold(_run().events))
    atoms = {a.atom_id: a for a in evidence_atoms(findings, "r1", "roc_auc", False)}
    lgbm = atoms["family.lightgbm"]
    assert lgbm.source == "evidence" and lgbm.effect == "helped" and lgbm.kind == "model_family"
    assert lgbm.claim.startswith("LightGBM drafts helped: 1 draft averaged validation roc_auc 0.97")
    log1p = atoms["change.added-signed-log1p-copies-of-the-numeric-features"]
    assert "over 2 improve steps" in log1p.claim and log1p.confidence > lgbm.confidence
    assert log1p.evidence[0].node_ids == (3, 5)


def test_a_finding_whose_nodes_disagree_is_less_confident():
    h = History("r4")
    h.node(0, "draft", plan=LGBM, score=0.9)
    for node_id, score in ((1, 0.95), (2, 0.94), (3, 0.89)):
        h.node(node_id, "improve", (0,), plan=LOG1P, score=score)
    [finding] = run_findings(fold(h.events))
    [atom] = evidence_atoms([finding], "r4", "roc_auc", False)
    assert finding.effect == "helped" and atom.confidence == pytest.approx(0.75 * 2 / 3, abs=0.01)


def test_unfinished_and_failed_nodes_are_no_evidence():
    h = History("r5")
    h.node(0, "draft", plan=LGBM, score=0.9)
    h.node(1, "draft", plan=KNN, score=0.8)
    h.add(NodeSelected, node_id=2, operator="improve", parent_ids=(0,))
    h.add(NodeGenerated, node_id=2, plan=LOG1P, code="x", model="m", prompt_ref="p", completion_ref="c")
    h.add(NodeExecuted, node_id=2, exit_code=0, duration_s=1.0)
    assert {f.key for f in run_findings(fold(h.events))} == {"family.lightgbm", "family.knn"}
