"""What a plugin package provides to add a search policy or an operator (docs/extending.md).

A package registers objects of these types under the entry-point groups `airad.policies` and
`airad.operators`. Both keep the built-ins' guarantees: a policy is a pure function of the run's
view (which holds no test score) and a seeded generator, so its decisions replay; an operator is a
template rendered in the same sandbox from the same context, or a pure function of that context.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msgspec import Struct

from airad.agents.answers import Answer, parse_answer
from airad.agents.policy_view import PolicyView
from airad.agents.prompt_context import OperatorContext

Decision = tuple[str, tuple[int, ...]]


@dataclass(frozen=True)
class PolicyPlugin:
    """A search policy: `params` is a frozen msgspec Struct whose tag (with `tag_field="kind"`) names the
    policy in a request; `decide(params, view, rng)` returns the operator and the parent node ids of the
    next node. `operators` lists every operator it may choose (built-in or a plugin's), which intake
    checks the daemon has. Its runs render the request's template set (`aira` unless the request's
    `operators` say otherwise)."""

    params: type[Struct]
    decide: Callable[[Any, PolicyView, random.Random], Decision]
    operators: tuple[str, ...] = ("draft", "improve", "debug")

    @property
    def name(self) -> str:
        """The policy's kind: its params struct's tag."""
        return str(self.params.__struct_config__.tag)


@dataclass(frozen=True)
class OperatorPlugin:
    """An operator: either `template` (Jinja2 text of its user message, rendered from the operator
    context like a built-in's, whose answer `parse` turns into a plan and a script) or `function` (a
    pure function of the context to a plan and a script: no model is asked). `parents` is how many
    parent nodes it takes; `offline_as` is the built-in job the offline coder answers its prompt as.
    Its prompts recall the earlier nodes `improve`'s do (its parent's other children), or the drafts
    when it takes no parent."""

    name: str
    template: str = ""
    parse: Callable[[str], Answer] = parse_answer
    function: Callable[[OperatorContext], tuple[str, str]] | None = None
    parents: int = 1
    offline_as: str = "improve"
