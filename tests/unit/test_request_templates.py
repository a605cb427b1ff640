"""A request's own templates: a request file's templates_dir becomes the templates' text, and intake
rejects a bad template or set naming the field, for runs and for an experiment's solvers."""

import json

import pytest

from airad.daemon.validation import parse_experiment, parse_request
from airad.schemas.errors import FieldError

GOOD = "# Custom draft for {{ task.name }}\n\n{{ output_contract }}\n"


def _request_file(tmp_path, operators: str) -> str:
    return f"""
run_id = "t1"
task = {{ kind = "bundled", name = "iris" }}
policy = {{ kind = "greedy" }}
[operators]
{operators}
"""


def test_templates_dir_becomes_the_templates_text(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "draft.j2").write_text(GOOD)
    (tmp_path / "prompts" / "notes.txt").write_text("not a template")
    raw = _request_file(tmp_path, 'template_set = "aide"\ntemplates_dir = "prompts"')
    request = parse_request(raw, toml=True, base_dir=tmp_path)
    assert request.operators.templates == {"draft": GOOD} and request.operators.template_set == "aide"


@pytest.mark.parametrize(
    "setup, operators, field, reason",
    [
        (None, 'templates_dir = "missing"', "$.operators.templates_dir", "is not a folder"),
        ("empty", 'templates_dir = "prompts"', "$.operators.templates_dir", "holds no *.j2 template"),
        ("good", 'templates_dir = "prompts"\ntemplates = {}', "$.operators.templates_dir", "not both"),
    ],
)
def test_a_bad_templates_dir_is_named(tmp_path, setup, operators, field, reason):
    if setup:
        (tmp_path / "prompts").mkdir()
    if setup == "good":
        (tmp_path / "prompts" / "draft.j2").write_text(GOOD)
    with pytest.raises(FieldError) as caught:
        parse_request(_request_file(tmp_path, operators), toml=True, base_dir=tmp_path)
    assert caught.value.field == field and reason in caught.value.reason


def _json(operators: dict) -> str:
    return json.dumps({"task": {"kind": "bundled", "name": "iris"}, "operators": operators})


@pytest.mark.parametrize(
    "operators, field, reason",
    [
        ({"templates": {"draft": "{{ nope }} {{ output_contract }}"}}, "$.operators.templates.draft", "unknown variable(s): nope"),
        ({"templates": {"improve": "Improve it."}}, "$.operators.templates.improve", "leaves out the output contract"),
        ({"templates": {"debug": "{% for %}"}}, "$.operators.templates.debug", "does not compile"),
        ({"templates": {"system": "{% if false %}x{% endif %}"}}, "$.operators.templates.system", "renders to nothing"),
        ({"template_set": "dojo"}, "$.operators.template_set", "unknown template set 'dojo'"),
        ({"templates": {"Bad Name": GOOD}}, "$.operators.templates", "a key: Expected `str` matching regex"),
    ],
)
def test_a_bad_template_is_rejected_at_intake_naming_the_field(operators, field, reason):
    with pytest.raises(FieldError) as caught:
        parse_request(_json(operators))
    assert caught.value.field.startswith(field) and reason in caught.value.reason


def test_a_good_request_template_is_accepted_as_given():
    request = parse_request(_json({"templates": {"draft": GOOD}}))
    assert request.operators.templates == {"draft": GOOD}


def test_an_experiment_solver_s_bad_template_is_named_at_its_place():
    raw = json.dumps({
        "experiment_id": "e1",
        "tasks": [{"kind": "bundled", "name": "iris"}],
        "solvers": [
            {"name": "plain", "policy": {"kind": "greedy"}},
            {"name": "mine", "policy": {"kind": "greedy"}, "operators": {"templates": {"draft": "no contract"}}},
        ],
    })
    with pytest.raises(FieldError) as caught:
        parse_experiment(raw)
    assert caught.value.field == "$.solvers[1].operators.templates.draft"
