"""Prompt templates: the bundled sets, the checks intake makes on a request's own templates, the
sandbox, and the schedule and words the contexts carry."""

import pytest

from airad.agents.prompt_context import complexity_level, in_words, node_complexity
from airad.agents.template_samples import sample_contexts
from airad.agents.templates import TEMPLATE_NAMES, TemplateProblem, demote_headings, messages, render, template_problems
from airad.daemon.template_sets import bundled_set, bundled_sets, operators_problem, templates_of
from airad.schemas.policies import AIDE_OPERATORS, OperatorSpec
from tests.factories import History
from airad.agents.policy_view import policy_view
from airad.events.fold import fold


@pytest.mark.parametrize("name", ["aide", "aira"])
def test_each_bundled_set_has_every_template_and_passes_intake(name):
    templates = bundled_set(name)
    assert set(TEMPLATE_NAMES) <= set(templates)
    assert template_problems(templates, custom=sorted(templates)) == []


def test_the_sets_are_the_bundled_ones_and_policies_default_to_them():
    assert bundled_sets() == ("aide", "aira")
    assert OperatorSpec().template_set == "aira" and AIDE_OPERATORS.template_set == "aide"


def _problem(templates: dict[str, str]) -> TemplateProblem:
    found = template_problems({**bundled_set("aira"), **templates}, custom=sorted(templates))
    assert found, "the template was accepted"
    return found[0]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{{ taks.description }} {{ output_contract }}", "names unknown variable(s): taks"),
        ("{{ task.descripton }} {{ output_contract }}", "does not render"),
        ("{% if %}{{ output_contract }}", "does not compile: line 1"),
        ("{% if false %}{{ output_contract }}{% endif %}", "renders to nothing"),
        ("Write a good script.", "leaves out the output contract"),
        ("{% include '_missing' %}{{ output_contract }}", "uses a template the set does not have: '_missing'"),
        ("{{ ''.__class__.__mro__ }}{{ output_contract }}", "does not render"),
        ("{{ range(10**9) | list | length }}{{ output_contract }}", "does not render"),
    ],
)
def test_a_bad_draft_template_is_named_with_its_reason(text, reason):
    problem = _problem({"draft": text})
    assert problem.name == "draft"
    assert reason in problem.reason


def test_an_unknown_template_name_is_refused():
    assert _problem({"drafts": "{{ output_contract }}"}).reason.startswith("is not a template name")


def test_a_template_checked_only_through_the_ones_that_use_it():
    """A partial with a typo is caught when the operator template that imports it renders."""
    templates = {"_parts": "{% macro head() %}{{ task.nme }}{% endmacro %}", "draft": "{% import '_parts' as p with context %}{{ p.head() }}{{ output_contract }}"}
    problem = _problem(templates)
    assert problem.name == "draft" and "nme" in problem.reason


def test_a_good_custom_template_replaces_the_sets_by_name():
    spec = OperatorSpec(templates={"draft": "CUSTOM {{ task.name }}\n\n{{ output_contract }}"})
    assert operators_problem(spec, "$.operators") is None
    system, user = messages(templates_of(spec), sample_contexts("draft")[0])
    assert user.content.startswith("CUSTOM penguins") and system.content == messages(bundled_set("aira"), sample_contexts("draft")[0])[0].content


def test_intake_names_the_field_of_a_bad_template_or_set():
    problem = operators_problem(OperatorSpec(templates={"debug": "{{ nope }}"}), "$.operators")
    assert problem.field == "$.operators.templates.debug" and "nope" in problem.reason
    problem = operators_problem(OperatorSpec(template_set="dojo"), "$.solvers[1].operators")
    assert problem.field == "$.solvers[1].operators.template_set" and "aide, aira" in problem.reason


def test_render_keeps_fenced_text_exactly_and_collapses_blank_runs_elsewhere():
    templates = {"draft": "A\n\n\n\nB\n```\nx\n\n\n\ny\n```\n{{ output_contract }}"}
    text = render(templates, "draft", sample_contexts("draft")[0])
    assert text.startswith("A\n\nB\n```\nx\n\n\n\ny\n```\n")


def test_headings_of_user_markdown_go_one_level_deeper_outside_fences():
    assert demote_headings("# Goal\ntext\n```\n# comment\n```\n## Ideas") == "## Goal\ntext\n```\n# comment\n```\n### Ideas"


@pytest.mark.parametrize("count, level", [(0, "simple"), (1, "simple"), (2, "normal"), (3, "normal"), (4, "complex"), (9, "complex")])
def test_the_complexity_schedule_is_aira_s(count, level):
    assert complexity_level(count) == level


def test_drafts_count_earlier_drafts_and_improvements_their_parent_s_earlier_children():
    history = History()
    for i in range(3):
        history.node(i, "draft", score=0.5)
    history.node(3, "improve", parents=(0,), score=0.6).node(4, "improve", parents=(0,), score=0.6)
    view = policy_view(fold(history.events))
    assert node_complexity(view, 2, "draft", ()) == "normal"
    assert node_complexity(view, 5, "draft", ()) == "normal"
    assert node_complexity(view, 3, "improve", (0,)) == "simple"
    assert node_complexity(view, 5, "improve", (0,)) == "normal"


@pytest.mark.parametrize("seconds, words", [(45, "45 seconds"), (600, "10 minutes"), (7200, "2 hours"), (5400, "90 minutes"), (9000, "2 hours and 30 minutes")])
def test_time_limits_in_words(seconds, words):
    assert in_words(seconds) == words
