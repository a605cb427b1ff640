"""The offline coder's analyze answers: an honest review of the output, as a tool call or as JSON."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch when litellm imports

import asyncio
import json
import re

import pytest

from airad.agents.analysis import REVIEW_TOOL, parse_review
from tests.prompting import build_analyze_prompt
from airad.agents.operators import TaskBrief
from airad.offline.coder import answer, respond
from airad.offline.scripts import render

AUC_TASK = "# Breast cancer\n\nPredict malignancy.\n\n## Evaluation\n\nSubmissions are evaluated on area under the ROC curve."
RMSE_TASK = "# Diabetes\n\nPredict progression.\n\n## Evaluation\n\nSubmissions are scored on the root mean squared error."
PLAN = "Model family: LightGBM. This is a classification task scored by ROC AUC."
CONFIG = {
    "family": "lightgbm", "problem": "classification", "metric": "roc_auc", "id_column": "id", "target_columns": ["target"],
    "params": {"n_estimators": 300}, "impute": "median", "scale": False, "one_hot": True, "log_features": False,
    "interactions": 0, "valid_size": 0.2, "seed": 1,
}
TRACEBACK = (
    "[LightGBM] [Warning] something harmless\n"
    "Traceback (most recent call last):\n"
    '  File "/work/solution.py", line 101, in <module>\n'
    '    print(f"Validation metric: {np.mean(scores):.6f}")\n'
    "NameError: name 'np' is not defined\n"
)
SUCCESS = "UserWarning: X has feature names\nValidation metric: 0.970000\n"


def messages(output: str, task: str = AUC_TASK, code: str | None = None) -> list[dict]:
    brief = TaskBrief(task, "- train.csv: 455 rows")
    built = build_analyze_prompt(brief, PLAN, render(CONFIG) if code is None else code, output)
    return [{"role": m.role, "content": m.content} for m in built]


def reviewed(output: str, task: str = AUC_TASK, code: str | None = None) -> dict:
    reply = respond(messages(output, task, code), tools=[REVIEW_TOOL])
    assert reply.text is None and reply.tool_name == "submit_review"
    return json.loads(reply.tool_arguments)


def sentences(text: str) -> int:
    return len(re.findall(r"[.!?](\s|$)", text))


def test_traceback_is_a_bug_without_a_metric():
    verdict = reviewed(TRACEBACK)
    assert verdict["is_bug"] is True and verdict["metric"] is None and verdict["lower_is_better"] is False
    assert "NameError: name 'np' is not defined" in verdict["summary"] and "line 101 of solution.py" in verdict["summary"]
    assert 2 <= sentences(verdict["summary"]) <= 3


def test_clean_run_reports_the_last_metric():
    verdict = reviewed("Validation metric: 0.5\n" + SUCCESS)
    assert verdict == {"is_bug": False, "summary": verdict["summary"], "metric": 0.97, "lower_is_better": False}
    assert "0.97" in verdict["summary"] and "ensemble" not in verdict["summary"] and "LightGBM" in verdict["summary"]
    assert 2 <= sentences(verdict["summary"]) <= 3


def test_rmse_task_means_lower_is_better():
    verdict = reviewed("Validation metric: 55.123\n", task=RMSE_TASK)
    assert verdict["lower_is_better"] is True and verdict["metric"] == 55.123 and verdict["is_bug"] is False


@pytest.mark.parametrize(
    ("evaluation", "lower"),
    [("RMSE", True), ("mean absolute error", True), ("log loss", True), ("AUC", False), ("accuracy", False), ("R²", False)],
)
def test_direction_follows_the_named_metric(evaluation, lower):
    task = f"# Task\n\nPredict y.\n\nThe evaluation metric is {evaluation}."
    assert reviewed("Validation metric: 1.5\n", task=task, code="print(1)\n")["lower_is_better"] is lower


def test_the_whole_description_is_read_even_with_its_own_headings():
    task = "# Overview\n\nPredict y.\n\n# Data\n\nSome columns.\n\n# Evaluation\n\nScored by mean absolute error."
    assert reviewed("Validation metric: 3.2\n", task=task, code="print(1)\n")["lower_is_better"] is True


@pytest.mark.parametrize(
    ("output", "metric"),
    [
        ("Validation metric: 0.91\n" + TRACEBACK, 0.91),  # a metric, then a crash
        ("training done\n", None),  # no metric line
        ("Validation metric: nan\n", None),  # not a number
        ("", None),  # no output at all
        ("Validation metric: 0.8\nthe script timed out after 600 s\n", 0.8),
    ],
)
def test_failures_and_missing_metrics_are_bugs(output, metric):
    verdict = reviewed(output)
    assert verdict["is_bug"] is True and verdict["metric"] == metric
    assert 2 <= sentences(verdict["summary"]) <= 3


def test_without_tools_the_review_is_json_in_text():
    text = answer(messages(SUCCESS))
    assert "```json\n{" in text
    review = parse_review(None, text)
    assert (review.via, review.is_bug, review.metric, review.lower_is_better) == ("json", False, 0.97, False)
    assert review.summary == reviewed(SUCCESS)["summary"]


def test_tool_choice_none_or_another_tool_gets_text():
    prompt = messages(SUCCESS)
    assert respond(prompt, [REVIEW_TOOL], "none").tool_name is None
    assert respond(prompt, [REVIEW_TOOL], {"type": "function", "function": {"name": "other"}}).tool_name is None
    assert respond(prompt, [REVIEW_TOOL], {"type": "function", "function": {"name": "submit_review"}}).tool_name == "submit_review"
    other_tool = {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}
    assert parse_review(None, respond(prompt, [other_tool]).text).via == "json"


def test_review_is_deterministic_and_independent_of_the_tools():
    prompt = messages(TRACEBACK)
    assert respond(prompt, [REVIEW_TOOL]) == respond(prompt, [REVIEW_TOOL])
    assert json.loads(respond(prompt, [REVIEW_TOOL]).tool_arguments) == json.loads(re.search(r"```json\n(.*?)\n```", answer(prompt), re.DOTALL).group(1))


async def test_litellm_returns_a_submit_review_tool_call():
    import litellm

    from airad.offline.provider import MODEL, register

    register()
    prompt = messages(SUCCESS, task=RMSE_TASK)
    response = await litellm.acompletion(model=MODEL, messages=prompt, tools=[REVIEW_TOOL], temperature=0.2, max_tokens=1024)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "submit_review" and call.id.startswith("call_")
    review = parse_review(call.function.arguments, choice.message.content or "")
    assert (review.via, review.is_bug, review.metric, review.lower_is_better) == ("tool", False, 0.97, True)
    assert response.usage.completion_tokens > 0

    plain = await litellm.acompletion(model=MODEL, messages=prompt)
    assert plain.choices[0].finish_reason == "stop" and not plain.choices[0].message.tool_calls
    review = parse_review(None, plain.choices[0].message.content)
    assert (review.via, review.is_bug, review.metric, review.lower_is_better) == ("json", False, 0.97, True)
    await asyncio.sleep(0.05)  # let litellm's logging worker finish before this test's event loop closes


async def test_litellm_solution_prompts_ignore_the_tools():
    import litellm

    from tests.prompting import build_prompt
    from airad.agents.policy_view import PolicyView
    from airad.offline.provider import MODEL, register

    register()
    built = build_prompt("draft", TaskBrief(AUC_TASK, "- train.csv: 3 rows"), PolicyView(nodes=(), lower_is_better=False, decisions=0), ())
    prompt = [{"role": m.role, "content": m.content} for m in built]
    response = await litellm.acompletion(model=MODEL, messages=prompt, tools=[REVIEW_TOOL])
    assert response.choices[0].message.content == answer(prompt) and not response.choices[0].message.tool_calls
    await asyncio.sleep(0.05)  # let litellm's logging worker finish before this test's event loop closes


def _script_task_review(output: str, printed: bool) -> dict:
    """The review of an analyze context whose task's scripts print their metric (`printed`) or write it
    to a metric file the harness reads (a script task)."""
    import msgspec

    from airad.agents.template_samples import sample_contexts

    context = sample_contexts("analyze")[0]
    task = msgspec.structs.replace(context.task, metric_printed=printed, metric_report="writes metrics.json")
    solution = msgspec.structs.replace(context.solution, output=output)
    built = msgspec.to_builtins(msgspec.structs.replace(context, task=task, solution=solution))
    reply = respond([{"role": "user", "content": "review"}], tools=[REVIEW_TOOL], context=built)
    return json.loads(reply.tool_arguments)


@pytest.mark.parametrize("output", ["", "fold 1 done\nfold 2 done\n"])
def test_a_script_task_run_without_a_metric_line_is_not_a_bug(output):
    """The review follows the task's output contract: a script task's scripts write their metric to a
    file (read by the harness), so a clean run that prints none is no bug; where the contract is the
    printed line, the same run is one."""
    verdict = _script_task_review(output, printed=False)
    assert verdict["is_bug"] is False and verdict["metric"] is None, verdict
    assert "harness reads" in verdict["summary"]
    assert _script_task_review(output, printed=True)["is_bug"] is True
    assert _script_task_review(TRACEBACK, printed=False)["is_bug"] is True
