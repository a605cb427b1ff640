"""The offline coder reads the operator's structured context, not the rendered text: a template that
says nothing the coder recognises still gets a real answer, and the answer follows the context."""

import json

import msgspec
import pytest

from airad.agents.analysis import parse_review
from airad.agents.answers import parse_answer
from airad.agents.findings import Finding
from airad.agents.operators import TaskBrief
from airad.agents.policy_view import NodeView, PolicyView
from airad.offline.coder import respond
from airad.offline.context_prompt import prompt_from_context
from airad.offline.prompt import parse_prompt
from tests.prompting import analyze_context, build_prompt, distill_context, operator_prompt_context
from tests.unit.test_offline_coder import DESCRIPTION, OVERVIEW

OPAQUE = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Do the thing."}]
BRIEF = TaskBrief(DESCRIPTION, OVERVIEW, metric="roc_auc", lower_is_better=False)
DRAFT = NodeView(0, "draft", (), (1,), True, False, 0.91, "LightGBM on every column.", "print('Validation metric: 0.91')", "", 0)
BUG = NodeView(1, "improve", (0,), (), True, True, None, "Add ratios.", "raise KeyError('ratio')", "KeyError: 'ratio'", 0)
VIEW = PolicyView(nodes=(DRAFT, BUG), lower_is_better=False, decisions=2)
PARENTS = {"draft": (), "improve": (0,), "debug": (1,), "crossover": (0, 0)}


@pytest.mark.parametrize("operator", ["draft", "improve", "debug", "crossover"])
def test_an_opaque_prompt_gets_a_script_from_the_context(operator):
    context = msgspec.to_builtins(operator_prompt_context(operator, BRIEF, VIEW, PARENTS[operator]))
    reply = respond(OPAQUE, context=context)
    answer = parse_answer(reply.text)
    assert "submission" in answer.code and answer.plan


@pytest.mark.parametrize("operator", ["draft", "improve", "debug", "crossover"])
def test_the_context_reads_as_the_bundled_text_does(operator):
    """The parts the coder takes from a context are those it reads off the bundled template's text."""
    context = operator_prompt_context(operator, BRIEF, VIEW, PARENTS[operator])
    from_text = parse_prompt(build_prompt(operator, BRIEF, VIEW, PARENTS[operator])[1].content)
    from_context = prompt_from_context(msgspec.to_builtins(context))
    for part in ("job", "data", "parent_id", "parent_code", "parent_score", "error", "attempts"):
        assert getattr(from_context, part) == getattr(from_text, part), part
    assert from_text.task.startswith(from_context.task), "the template adds its metric sentence to the task"


def test_an_opaque_analyze_prompt_gets_a_review_of_the_context_s_output():
    context = msgspec.to_builtins(analyze_context(BRIEF, "a plan", "print(1)", "Validation metric: 0.8731\n"))
    reply = respond(OPAQUE, context=context)
    review = parse_review(None, reply.text)
    assert review.metric == pytest.approx(0.8731) and review.is_bug is False


def test_an_opaque_distill_prompt_gets_atoms_from_the_context_s_findings():
    finding = Finding(
        key="family.lightgbm", kind="model_family", subject="lightgbm", effect="helped", node_ids=(0, 2),
        scores=(0.9, 0.92), score_deltas=(0.05, 0.07), reference="the mean draft",
    )
    context = msgspec.to_builtins(distill_context("breast-cancer", "r1", "roc_auc", False, [finding]))
    atoms = json.loads(respond(OPAQUE, context=context).text)["atoms"]
    assert [a["key"] for a in atoms] == ["family.lightgbm"] and atoms[0]["node_ids"] == [0, 2]


@pytest.mark.parametrize("operator", ["draft", "improve"])
def test_the_coder_does_not_propose_a_script_the_run_has_tried(operator):
    """Given the answer's own script among the run's tried scripts, the same context gets another
    script; the tried scripts do not seed the answer (without a repeat, the answer is unchanged)."""
    from airad.agents.script_key import script_key

    context = msgspec.to_builtins(operator_prompt_context(operator, BRIEF, VIEW, PARENTS[operator]))
    first = parse_answer(respond(OPAQUE, context=context).text).code
    unrelated = respond(OPAQUE, context={**context, "tried_scripts": [script_key("print(1)")]}).text
    assert parse_answer(unrelated).code == first
    again = parse_answer(respond(OPAQUE, context={**context, "tried_scripts": [script_key(first)]}).text).code
    assert script_key(again) != script_key(first) and "submission" in again
