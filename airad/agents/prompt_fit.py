"""Fitting a prompt into the model's context window, by one rule, before it is sent.

A prompt that would not fit is shortened in a fixed order until it does: first the memory (the
oldest recalled attempts go first), then the output tails of the parents and of analyze's solution
(halved, keeping their ends), then the data overview (halved, keeping its start). Each step is
recorded in words, so the node shows what its prompt lost; nothing is left for the provider to cut
silently. When even that does not fit, `PromptTooLong` says by how much.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import structs

from airad.agents.prompt_context import OperatorContext

SHORTENED_MARK = "[… shortened to fit the model's context]"
SMALLEST_TEXT = 200


class PromptTooLong(ValueError):
    """Even shortened by the rule, the prompt needs more tokens than the model takes."""


def _tail(text: str, chars: int) -> str:
    return text if len(text) <= chars else SHORTENED_MARK + "\n" + text[-chars:]


def _head(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "\n" + SHORTENED_MARK


def _outputs_cut(context: OperatorContext, chars: int) -> OperatorContext:
    parents = tuple(structs.replace(p, output=_tail(p.output, chars)) for p in context.parents)
    solution = context.solution and structs.replace(context.solution, output=_tail(context.solution.output, chars))
    return structs.replace(context, parents=parents, solution=solution)


def _longest_output(context: OperatorContext) -> int:
    outputs = [p.output for p in context.parents] + ([context.solution.output] if context.solution else [])
    return max((len(o) for o in outputs), default=0)


def fit_context(
    context: OperatorContext, tokens: Callable[[OperatorContext], int], limit: int
) -> tuple[OperatorContext, tuple[str, ...]]:
    """`context` shortened by the rule until `tokens(context) <= limit`, and what was shortened."""
    if tokens(context) <= limit:
        return context, ()
    steps: list[str] = []
    recalled = len(context.memory)
    while context.memory and tokens(context) > limit:
        context = structs.replace(context, memory=context.memory[1:])
    if len(context.memory) < recalled:
        steps.append(f"memory: {len(context.memory)} of {recalled} earlier attempts kept")
    longest = chars = _longest_output(context)
    while chars > SMALLEST_TEXT and tokens(context) > limit:
        chars //= 2
        context = _outputs_cut(context, chars)
    if chars < longest:
        steps.append(f"output tails: cut to their last {chars} characters")
    overview = context.task.data_overview
    chars = len(overview)
    while chars > SMALLEST_TEXT and tokens(context) > limit:
        chars //= 2
        context = structs.replace(context, task=structs.replace(context.task, data_overview=_head(overview, chars)))
    if chars < len(overview):
        steps.append(f"data overview: cut to its first {chars} of {len(overview)} characters")
    needed = tokens(context)
    if needed > limit:
        lost = "; ".join(steps) or "nothing left to shorten"
        raise PromptTooLong(f"the prompt needs {needed} tokens even shortened ({lost}); the limit is {limit}")
    return context, tuple(steps)
