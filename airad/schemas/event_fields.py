"""The field types run events share (a node's id, blob references, token and cost counts, finish
reasons, medals) and `ModelCall`, one answer a model gave; each described for docs/events.schema.json."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

BUILTIN_OPERATORS = ("draft", "improve", "debug", "crossover", "baseline")  # baseline: the user's own script, node 0
Operator = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_-]{0,39}$",
        description="draft, improve, debug or crossover; baseline for node 0 of a run from the user's own script; "
        "or a plugin's operator (docs/extending.md).",
    ),
]
FinishReason = Literal["max_nodes", "wall_seconds", "budget", "cancelled", "model", "error"]
FailureStage = Literal["generate", "execute", "score"]
Medal = Literal["gold", "silver", "bronze"]
MAX_EXCERPT_CHARS = 500

NodeId = Annotated[int, Meta(description="The node: 0, 1, 2... in the order the policy selected them.")]
PromptRef = Annotated[
    str,
    Meta(
        description="SHA-256 of the blob of the messages sent to the model: JSON `[[role, content], ...]`, "
        'e.g. `[["system", "..."], ["user", "..."]]`; "" when no model was asked.'
    ),
]
CompletionRef = Annotated[
    str, Meta(description='SHA-256 of the blob of the model\'s answer, as UTF-8 text; "" when there is none.')
]
PromptTokens = Annotated[int, Meta(description="Prompt tokens the model was sent, every call together.")]
CompletionTokens = Annotated[int, Meta(description="Completion tokens the model answered, every call together.")]
CostUsd = Annotated[float, Meta(description="What the model calls cost, in USD (0 for a local or offline model).")]
LlmSeconds = Annotated[float, Meta(description="Seconds spent waiting for the model, every call and retry together.")]
ExecutorKind = Annotated[str, Meta(description="The executor kind running the script: local, container, ssh, slurm.")]
RequestSeq = Annotated[
    int | None, Meta(description="The request message's sequence in the AIRAD_REQUESTS stream; null when not known.")
]


class ModelCall(Struct, frozen=True):
    """One answer a model gave to a node's prompt, used or not: its text (`completion_ref`, a blob), why
    it stopped (`finish_reason` as the provider said it: "stop", "length" for cut off at `max_tokens`,
    "tool_calls"; "" when not given), the room it was given, what it cost, and how long the call took
    (retries of transient faults included). `problem` says why the answer was not used; "" for the
    one that was."""

    completion_ref: CompletionRef
    finish_reason: Annotated[
        str,
        Meta(
            description='Why the answer stopped, as the provider said: "stop", "length" (cut off at max_tokens), '
            '"tool_calls"; "" when not given.'
        ),
    ] = ""
    max_tokens: Annotated[int, Meta(description="The room the answer was given, in tokens.")] = 0
    prompt_tokens: Annotated[int, Meta(description="Tokens of this call's prompt.")] = 0
    completion_tokens: Annotated[int, Meta(description="Tokens of this call's answer.")] = 0
    cost_usd: Annotated[float, Meta(description="What this call cost, in USD.")] = 0.0
    seconds: Annotated[float, Meta(description="How long the call took, retries of passing faults included.")] = 0.0
    problem: Annotated[str, Meta(description='Why the answer was not used; "" for the one that was.')] = ""


ModelCalls = Annotated[
    tuple[ModelCall, ...],
    Meta(description="Every answer the model gave to the prompt, in order; the last is the one used."),
]
