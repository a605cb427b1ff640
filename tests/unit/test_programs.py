"""Research programs: a bounded Markdown field of the request, a `# Research program` section of
every prompt, and files a request file names (program_file, baseline_file) inlined as text."""

import json

import pytest

from tests.prompting import build_analyze_prompt
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import NodeView, PolicyView
from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError
from airad.schemas.request import MAX_PROGRAM_CHARS

BRIEF = TaskBrief("# Wine\n\nPredict the cultivar. Evaluated on accuracy.", "- train.csv: 100 rows; columns: id (int64), target (int64)")
PROGRAM = """# Goal
Beat the user's accuracy without slowing training down.

## Ideas to try
- extra trees

```python
# a comment in a code block stays as it is
```
"""
BUNDLED = {"task": {"kind": "bundled", "name": "wine"}}


def _view(*nodes):
    return PolicyView(nodes=tuple(nodes), lower_is_better=False, decisions=len(nodes))


def _node(i=0):
    return NodeView(id=i, operator="draft", parent_ids=(), children=(), done=True, buggy=False, score=0.9,
                    plan="Model family: random forest.", code="print(1)\n", error="", debug_depth=0)


@pytest.mark.parametrize("operator,parents", [("draft", ()), ("improve", (0,)), ("debug", (0,)), ("crossover", (0, 0))])
def test_every_operator_prompt_has_the_program_after_the_data(operator, parents):
    user = build_prompt(operator, BRIEF, _view(_node()), parents, program=PROGRAM)[1].content
    assert user.index("# Data") < user.index("# Research program") < user.index(f"# Your job: {operator}")
    section = user[user.index("# Research program"): user.index("# Your job")]
    assert "Beat the user's accuracy" in section
    assert "\n## Goal\n" in section and "\n### Ideas to try\n" in section, "the program's headings stay inside its section"
    assert "\n# a comment in a code block stays as it is\n" in section
    headings = [line for line in user.splitlines() if line.startswith("# ") and not line.startswith("# a comment")]
    assert "# Goal" not in headings


def test_no_program_no_section_and_the_prompt_is_unchanged():
    view = _view(_node())
    assert build_prompt("improve", BRIEF, view, (0,)) == build_prompt("improve", BRIEF, view, (0,), program="  \n")
    assert "# Research program" not in build_prompt("improve", BRIEF, view, (0,))[1].content


def test_the_analyze_prompt_has_the_program_too():
    user = build_analyze_prompt(BRIEF, "a plan", "print(1)", "done", program=PROGRAM)[1].content
    assert user.index("# Task") < user.index("# Research program") < user.index("# Your job: analyze")
    assert "# Research program" not in build_analyze_prompt(BRIEF, "a plan", "print(1)", "done")[1].content


def test_a_task_brief_may_replace_the_response_format():
    brief = TaskBrief("d", "o", response_format="Write metrics.json.")
    user = build_prompt("draft", brief, _view(), ())[1].content
    assert user.endswith("# Response format\n\nWrite metrics.json.\n")


def test_program_is_bounded_and_the_rejection_names_it():
    assert parse_request(json.dumps({**BUNDLED, "program": "x" * MAX_PROGRAM_CHARS})).program == "x" * MAX_PROGRAM_CHARS
    with pytest.raises(FieldError) as caught:
        parse_request(json.dumps({**BUNDLED, "program": "x" * (MAX_PROGRAM_CHARS + 1)}))
    assert caught.value.field == "$.program" and str(MAX_PROGRAM_CHARS) in caught.value.reason


def test_a_request_file_names_its_program_and_script_beside_it(tmp_path):
    (tmp_path / "PROGRAM.md").write_text(PROGRAM)
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / "project").mkdir()
    raw = 'program_file = "PROGRAM.md"\nbaseline_file = "train.py"\n[task]\nkind = "script"\ndir = "project"\n'
    request = parse_request(raw, toml=True, base_dir=tmp_path)
    assert request.program == PROGRAM and request.baseline == "print('hi')\n"
    assert request.task.dir == str((tmp_path / "project").resolve()), "a script task's dir is relative to the request file"
    as_json = json.dumps({**BUNDLED, "program_file": "PROGRAM.md"})
    assert parse_request(as_json, base_dir=tmp_path).program == PROGRAM


@pytest.mark.parametrize(
    "extra,field,reason",
    [
        ({"program_file": "missing.md"}, "$.program_file", "cannot read"),
        ({"baseline_file": "missing.py"}, "$.baseline_file", "cannot read"),
        ({"program_file": "PROGRAM.md", "program": "inline"}, "$.program_file", "not both"),
        ({"program_file": "big.md"}, "$.program_file", f"the limit is {MAX_PROGRAM_CHARS}"),
        ({"program_file": 3}, "$.program_file", "name of a file"),
    ],
)
def test_file_references_that_cannot_be_inlined_are_rejected_by_field(tmp_path, extra, field, reason):
    (tmp_path / "PROGRAM.md").write_text("# Goal\n")
    (tmp_path / "big.md").write_text("x" * (MAX_PROGRAM_CHARS + 1))
    with pytest.raises(FieldError) as caught:
        parse_request(json.dumps({**BUNDLED, **extra}), base_dir=tmp_path)
    assert caught.value.field == field and reason in caught.value.reason


def test_a_published_request_cannot_name_files():
    with pytest.raises(FieldError) as caught:
        parse_request(json.dumps({**BUNDLED, "program_file": "PROGRAM.md"}))
    assert caught.value.field == "$.program_file"


def test_baseline_must_be_a_script():
    with pytest.raises(FieldError) as caught:
        parse_request(json.dumps({**BUNDLED, "baseline": ""}))
    assert caught.value.field == "$.baseline"


def test_the_python_client_inlines_a_request_files_program_and_script(tmp_path):
    from airad.client import InvalidRequest, to_request

    (tmp_path / "PROGRAM.md").write_text(PROGRAM)
    (tmp_path / "train.py").write_text("print('hi')\n")
    path = tmp_path / "run.toml"
    path.write_text('program_file = "PROGRAM.md"\nbaseline_file = "train.py"\n[task]\nkind = "bundled"\nname = "wine"\n')
    request = to_request(path)
    assert request.program == PROGRAM and request.baseline == "print('hi')\n"
    path.write_text('program_file = "nowhere.md"\n[task]\nkind = "bundled"\nname = "wine"\n')
    with pytest.raises(InvalidRequest, match=r"\$\.program_file: cannot read"):
        to_request(path)
