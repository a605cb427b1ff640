"""A prompt over the model's context window is shortened by one rule (memory, then output tails, then
the data overview), and what it lost is said; one that cannot fit is refused."""

import msgspec
import pytest

from airad.agents.prompt_fit import SHORTENED_MARK, PromptTooLong, fit_context
from airad.agents.template_samples import MEMORY, sample_contexts
from airad.agents.templates import messages
from airad.daemon.template_sets import bundled_set

TEMPLATES = bundled_set("aira")


def _improve(memory=8, output=6000, overview=8000):
    context = sample_contexts("improve")[0]
    parent = msgspec.structs.replace(context.parents[0], output="x" * (output - 3) + "END")
    task = msgspec.structs.replace(context.task, data_overview="HEAD" + "- col (float64)\n" * (overview // 16))
    items = tuple(msgspec.structs.replace(MEMORY[0], node=i, plan=f"plan {i} " + "p" * 250) for i in range(memory))
    return msgspec.structs.replace(context, parents=(parent,), task=task, memory=items)


def tokens(context) -> int:
    return sum(len(m.content) for m in messages(TEMPLATES, context)) // 4


def test_a_prompt_that_fits_is_left_alone():
    context = _improve()
    assert fit_context(context, tokens, tokens(context)) == (context, ())


def test_memory_goes_first_oldest_first():
    context = _improve()
    fitted, steps = fit_context(context, tokens, tokens(context) - 40)
    assert steps == ("memory: 7 of 8 earlier attempts kept",)
    assert [m.node for m in fitted.memory] == list(range(1, 8))
    assert fitted.parents == context.parents and fitted.task == context.task


def test_then_the_output_tails_keeping_their_ends_then_the_data_overview_keeping_its_start():
    context = _improve()
    without_memory = msgspec.structs.replace(context, memory=())
    fitted, steps = fit_context(context, tokens, tokens(without_memory) - 2000)
    assert steps[0] == "memory: 0 of 8 earlier attempts kept" and steps[1].startswith("output tails: cut to their last")
    output = fitted.parents[0].output
    assert output.startswith(SHORTENED_MARK) and output.endswith("END")
    assert tokens(fitted) <= tokens(without_memory) - 2000
    limit = tokens(msgspec.structs.replace(fitted, task=msgspec.structs.replace(fitted.task, data_overview=""))) + 300
    fitted, steps = fit_context(context, tokens, limit)
    assert steps[-1].startswith("data overview: cut to its first") and len(steps) == 3
    assert fitted.task.data_overview.startswith("HEAD") and fitted.task.data_overview.endswith(SHORTENED_MARK)
    assert tokens(fitted) <= limit


def test_a_prompt_that_cannot_fit_is_refused_saying_by_how_much():
    with pytest.raises(PromptTooLong, match=r"the prompt needs \d+ tokens even shortened \(memory: 0 of 8.*the limit is 50"):
        fit_context(_improve(), tokens, 50)
