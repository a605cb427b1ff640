"""The contract every `LLM` keeps, run against each implementation the daemon can be given.

The daemon calls `LLM.complete(model, messages, tools=None)` and relies on: the model's text coming
back unaltered in a `Completion` that names the model it asked for; usage and timing it can add to
a run's spend (finite, never negative); a tool call's JSON in `tool_arguments` (the analyze step's
`submit_review`), and none when no tool was offered; any failure raised as `LLMError` (the steps
catch that type alone: anything else would crash the run); and calls made at once, or cancelled,
leaving the LLM usable.

A test module subclasses `LLMContract` and provides these fixtures:
- `llm`: the LLM under test;
- `model`: the `ModelSpec` its calls name;
- `oracle`: a function from messages to the text the implementation's model answers them with
  (the suite checks that this text comes back unaltered, and that answers do not cross);
- `failure`: arranges that the next call fails and returns `(model, fragment)`: the `ModelSpec` to
  call with and a fragment the `LLMError`'s message must hold (it names what failed);
- `review_ready` (optional): arranges that the next call offering tools is answered with a
  `submit_review` tool call; the default arranges nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import anyio
import pytest

from airad.agents.analysis import REVIEW_TOOL, parse_review
from tests.prompting import build_analyze_prompt
from airad.agents.operators import Message, TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import PolicyView
from airad.daemon.llm import Completion, LLMError

Oracle = Callable[[Sequence[Message]], str]

def draft_messages(task: str) -> tuple[Message, ...]:
    """The draft operator's prompt for a small wine task described by `task`."""
    brief = TaskBrief(
        f"# Wine\n\n{task}\n\n## Evaluation\n\nSubmissions are evaluated on accuracy.",
        "- train.csv: 113 rows; columns: id (int64), alcohol (float64), target (int64)\n"
        "- test.csv: 65 rows; columns: id (int64), alcohol (float64)\n"
        "- sample_submission.csv: 65 rows; columns: id (int64), target (int64)",
    )
    return build_prompt("draft", brief, PolicyView(nodes=(), lower_is_better=False, decisions=0), ())


MESSAGES = draft_messages("Predict which of three cultivars a wine comes from.")


def prompt(k: int) -> tuple[Message, ...]:
    """A draft prompt of its own for each `k` (every implementation answers each differently)."""
    return draft_messages(f"Predict the cultivar of the wines of vineyard number {k}.")


def analyze_messages() -> tuple[Message, ...]:
    """The analyze step's prompt for a script that ran cleanly and printed its metric."""
    brief = TaskBrief(
        "# Diabetes\n\nPredict progression.\n\n## Evaluation\n\nSubmissions are scored on the root mean squared error.",
        "- train.csv: 282 rows; columns: id (int64), bmi (float64), target (float64)",
    )
    code = "import pandas as pd\nprint('Validation metric: 54.3')\n"
    plan = "Fit a ridge regression on all features."
    return build_analyze_prompt(brief, plan, code, "Validation metric: 54.300000\n")


class LLMContract:
    """Behaviour shared by every LLM: answer, account, call tools, fail as LLMError, run calls at once."""

    @pytest.fixture
    def review_ready(self) -> None:
        """Arrange that the next call offering tools gets a `submit_review` tool call (nothing by default)."""
        return None

    async def test_answers_with_the_models_text_unaltered_naming_the_model(self, llm, model, oracle: Oracle):
        completion = await llm.complete(model, MESSAGES)
        assert isinstance(completion, Completion)
        assert completion.text == oracle(MESSAGES) and completion.text.strip()
        assert completion.model == model.name
        assert completion.tool_arguments is None  # no tool was offered

    async def test_usage_and_timing_are_finite_and_never_negative(self, llm, model):
        completion = await llm.complete(model, MESSAGES)
        for count in (completion.prompt_tokens, completion.completion_tokens, completion.attempts):
            assert isinstance(count, int) and not isinstance(count, bool)
        assert completion.prompt_tokens >= 0 and completion.completion_tokens >= 0
        assert completion.attempts >= 1
        for amount in (completion.cost_usd, completion.seconds):
            assert isinstance(amount, float) and math.isfinite(amount) and amount >= 0

    async def test_the_same_prompt_gets_the_same_answer(self, llm, model):
        first = await llm.complete(model, MESSAGES)
        again = await llm.complete(model, MESSAGES)
        assert (again.text, again.tool_arguments, again.model) == (first.text, first.tool_arguments, first.model)

    async def test_messages_may_be_any_sequence(self, llm, model, oracle: Oracle):
        as_list = await llm.complete(model, list(MESSAGES))
        assert as_list.text == oracle(MESSAGES)

    async def test_concurrent_calls_all_complete_each_with_its_own_answer(self, llm, model, oracle: Oracle):
        prompts = [prompt(k) for k in range(8)]
        assert len({oracle(p) for p in prompts}) > 1, "the oracle must tell these prompts apart"
        answers: dict[int, Completion] = {}

        async def ask(k: int) -> None:
            answers[k] = await llm.complete(model, prompts[k])

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for k in range(len(prompts)):
                    group.start_soon(ask, k)
        assert sorted(answers) == list(range(len(prompts)))
        assert [answers[k].text for k in range(len(prompts))] == [oracle(p) for p in prompts]

    async def test_an_offered_review_tool_is_answered_with_arguments_parse_review_reads(self, llm, model, review_ready):
        completion = await llm.complete(model, analyze_messages(), tools=[REVIEW_TOOL])
        assert completion.model == model.name and isinstance(completion.text, str)
        assert completion.tool_arguments is not None
        arguments = json.loads(completion.tool_arguments)
        assert set(arguments) >= {"is_bug", "summary", "metric", "lower_is_better"}
        review = parse_review(completion.tool_arguments, completion.text)
        assert review.via == "tool" and review.summary and isinstance(review.is_bug, bool)

    async def test_a_failure_is_an_llm_error_naming_what_failed(self, llm, failure):
        model, fragment = failure
        with pytest.raises(LLMError) as caught:  # any other type would escape the steps' `except LLMError`
            await llm.complete(model, MESSAGES)
        assert fragment in str(caught.value)

    async def test_the_model_check_passes_a_working_model(self, llm, model):
        assert await llm.check_model(model) is None  # what fails it: tests/integration/test_llm_http.py

    async def test_after_a_failure_the_llm_still_answers(self, llm, model, failure, oracle: Oracle):
        failing_model, _ = failure
        with pytest.raises(LLMError):
            await llm.complete(failing_model, MESSAGES)
        completion = await llm.complete(model, MESSAGES)
        assert completion.text == oracle(MESSAGES)

    async def test_a_call_cancelled_before_it_answers_leaves_the_llm_usable(self, llm, model, oracle: Oracle):
        with anyio.CancelScope() as scope:
            scope.cancel()
            await llm.complete(model, prompt(1))  # a call with no checkpoint may still finish: either is fine
        with anyio.fail_after(30):
            completions = [await llm.complete(model, prompt(k)) for k in (2, 3)]
        assert [c.text for c in completions] == [oracle(prompt(2)), oracle(prompt(3))]
