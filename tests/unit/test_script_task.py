"""Script tasks: the harness reads the score from the metric file the script wrote."""

import json

import pytest

from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError
from airad.schemas.request import ScriptTask
from airad.tasks.grading.metric_file import read_metric
from airad.tasks.registry import open_task, task_problem
from airad.tasks.script import ScriptProject


@pytest.mark.parametrize(
    "data,key,score",
    [
        (b"0.875\n", None, 0.875),
        (b"  12 ", None, 12.0),
        (b'{"accuracy": 0.9, "loss": 0.3}', "accuracy", 0.9),
        (b'{"accuracy": 1}', "accuracy", 1.0),
        (b'{"accuracy": "0.5"}', "accuracy", 0.5),
    ],
)
def test_metric_files_that_hold_a_number(data, key, score):
    assert read_metric(data, "metrics.json", key).score == score


@pytest.mark.parametrize(
    "data,key,error",
    [
        (None, None, "the script wrote no metrics.json"),
        (b"", None, "should hold one number but holds nothing (an empty file)"),
        (b"accuracy=0.9", None, "should hold one number but holds 'accuracy=0.9'"),
        (b"nan", None, "metrics.json is not finite (nan)"),
        (b"{not json", "accuracy", "metrics.json is not JSON"),
        (b"[0.9]", "accuracy", "should be a JSON object with the key 'accuracy'"),
        (b'{"acc": 0.9}', "accuracy", "metrics.json has no key 'accuracy' (its keys: 'acc')"),
        (b'{"accuracy": "high"}', "accuracy", "metrics.json['accuracy'] is '\"high\"', not a number"),
        (b'{"accuracy": true}', "accuracy", "not a number"),
        (b'{"accuracy": null}', "accuracy", "not a number"),
        (b'{"accuracy": Infinity}', "accuracy", "metrics.json['accuracy'] is not finite (inf)"),
        (b"\xff\xfe", None, "not UTF-8"),
    ],
)
def test_missing_or_garbled_metric_files_are_invalid_with_a_clear_reason(data, key, error):
    score = read_metric(data, "metrics.json", key)
    assert not score.valid and score.score is None
    assert error in score.error


def test_the_harness_grades_validation_and_an_optional_test_score(tmp_path):
    plain = ScriptProject(ScriptTask(dir=str(tmp_path), metric="rmse", lower_is_better=True, metric_file="out/metric.txt"))
    assert plain.submission_path == "out/metric.txt"
    grades = plain.grade(b"1.5")
    assert (grades.metric, grades.lower_is_better, grades.validation.score) == ("rmse", True, 1.5)
    assert not grades.test.valid and grades.test.error == "the task has no held-out test score"
    with_test = ScriptProject(ScriptTask(dir=str(tmp_path), metric_key="val", test_key="test"))
    grades = with_test.grade(json.dumps({"val": 0.8, "test": 0.7}).encode())
    assert grades.validation.score == 0.8 and grades.test.score == 0.7
    assert "no key 'test'" in with_test.grade(b'{"val": 0.8}').test.error
    missing = with_test.grade(None)
    assert "wrote no metrics.json" in missing.validation.error and missing.test.error == missing.validation.error


def test_the_brief_lists_the_project_and_asks_for_the_metric_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a,b,y\n1,2,3\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    task = ScriptProject(ScriptTask(dir=str(tmp_path), metric="accuracy", metric_key="accuracy", description="Classify wines."))
    brief = task.brief()
    assert "Classify wines." in brief.description and "accuracy (higher is better)" in brief.description
    assert brief.data_overview.splitlines() == ["- input/data/rows.csv (12 bytes); header: a,b,y", "- input/train.py (9 bytes)"]
    assert "`metrics.json` as a JSON object with the key `accuracy`" in brief.response_format
    assert "./input/" in brief.response_format


def test_a_script_task_opens_on_its_directory(tmp_path):
    task = open_task(ScriptTask(dir=str(tmp_path)), 0, tmp_path / "tasks")
    assert task.public_dir == tmp_path.resolve() and task.name == tmp_path.name
    assert not (tmp_path / "tasks").exists(), "nothing is prepared: the project is the input"


@pytest.mark.parametrize(
    "fields,field,reason",
    [
        ({"dir": "/nonexistent/project"}, "$.task.dir", "is not a directory"),
        ({"test_key": "test"}, "$.task.test_key", "needs metric_key too"),
        ({"metric_key": "a", "test_key": "a"}, "$.task.test_key", "must differ"),
    ],
)
def test_task_problems_name_the_field(tmp_path, fields, field, reason):
    spec = ScriptTask(**{"dir": str(tmp_path), **fields})
    assert task_problem(spec)[0] == field and reason in task_problem(spec)[1]
    with pytest.raises(FieldError):
        open_task(spec, 0, tmp_path)


@pytest.mark.parametrize("metric_file", ["../metrics.json", "/tmp/metrics.json", ".hidden", "a//b", ""])
def test_the_metric_file_stays_inside_the_work_dir(tmp_path, metric_file):
    raw = json.dumps({"task": {"kind": "script", "dir": str(tmp_path), "metric_file": metric_file}})
    with pytest.raises(FieldError) as caught:
        parse_request(raw)
    assert caught.value.field == "$.task.metric_file"
