"""Every fact appended to a run's stream `airad.events.<run_id>`, with stable tags.

Schema evolution: new fields get defaults, field types never change, tags never change.
Events carry references, not bulk: code and plan inline; prompts, completions and full
outputs in the blob store, referenced by SHA-256. Every field is described (`Meta(description=...)`)
for docs/events.schema.json (`events_json_schema`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from airad.schemas.errors import MAX_FIELD_CHARS, MAX_REASON_CHARS
from airad.schemas.event_fields import (  # noqa: F401 (re-exported: events' field types)
    BUILTIN_OPERATORS,
    MAX_EXCERPT_CHARS,
    CompletionRef,
    CompletionTokens,
    CostUsd,
    ExecutorKind,
    FailureStage,
    FinishReason,
    LlmSeconds,
    Medal,
    ModelCall,
    ModelCalls,
    NodeId,
    Operator,
    PromptRef,
    PromptTokens,
    RequestSeq,
)
from airad.schemas.json_schema import standard_json_schema
from airad.schemas.knowledge_events import AtomRef
from airad.schemas.request import RunRequest
from airad.schemas.tags import struct_tag


class EventBase(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every event has: its run, its gapless per-run sequence number and a daemon timestamp."""

    run_id: Annotated[str, Meta(description="The run; its events are on the subject airad.events.<run_id>.")]
    seq: Annotated[int, Meta(description="The event's place in its run: 1, 2, 3... without gaps.")]
    at: Annotated[float, Meta(description="When the daemon appended the event, in Unix seconds.")]


class RunSubmitted(EventBase, frozen=True, tag="run.submitted"):
    """A valid request was accepted; the run exists from here on."""

    request: Annotated[RunRequest, Meta(description="The request as accepted, every default filled in.")]
    request_seq: RequestSeq = None


class RunRejected(EventBase, frozen=True, tag="run.rejected"):
    """A request could not be accepted; `field` is a JSON path like `$.budget.max_nodes`."""

    field: Annotated[
        str,
        Meta(
            description="The JSON path at fault, like `$.budget.max_nodes`; `$` for the whole request.",
            extra_json_schema={"maxLength": MAX_FIELD_CHARS},
        ),
    ]
    reason: Annotated[
        str,
        Meta(
            description="Why it was rejected; a longer one keeps its start and end around an ellipsis (…).",
            extra_json_schema={"maxLength": MAX_REASON_CHARS},
        ),
    ]
    request_seq: RequestSeq = None
    excerpt: Annotated[
        str,
        Meta(
            description="The request's first bytes, decoded as UTF-8 (an invalid byte as U+FFFD).",
            extra_json_schema={"maxLength": MAX_EXCERPT_CHARS},
        ),
    ] = ""


class RunStarted(EventBase, frozen=True, tag="run.started"):
    """A daemon took ownership of the run (first start, or resume after a crash or hand-over)."""

    owner: Annotated[str, Meta(description="The daemon that drives the run from here on (its lease holder).")]
    resumed: Annotated[bool, Meta(description="Whether an earlier daemon had already started the run.")] = False


class RunKnowledge(EventBase, frozen=True, tag="run.knowledge"):
    """The knowledge atoms of the run's domain that its operators' prompts include, recorded once when
    the run first starts (before any decision), so a replay shows which knowledge every prompt saw.

    `atoms` names each atom's id and version; `atoms_ref` is a blob of the atoms themselves (JSON), so
    the prompts can be rebuilt from the run's own events; `knowledge_seq` is the domain stream's last
    sequence read.
    """

    domain: Annotated[str, Meta(description="The run's domain (its request's `domain`).")]
    atoms: Annotated[
        tuple[AtomRef, ...], Meta(description="Each atom the prompts include, as `atom_id` and `version`.")
    ] = ()
    atoms_ref: Annotated[
        str, Meta(description='SHA-256 of the blob of the atoms themselves, a JSON array; "" when there are none.')
    ] = ""
    knowledge_seq: Annotated[
        int, Meta(description="The last sequence of the domain's stream airad.knowledge.<domain> that was read.")
    ] = 0


class NodeSelected(EventBase, frozen=True, tag="node.selected"):
    """The policy's decision, appended before it is acted on."""

    node_id: NodeId
    operator: Operator
    parent_ids: Annotated[
        tuple[int, ...], Meta(description="The nodes the operator works from (none for a draft).")
    ] = ()


class NodeGenerated(EventBase, frozen=True, tag="node.generated"):
    """The model answered and the answer parsed into a plan and a script. For a `baseline` node no
    model was asked: `model` is "user", the code is the user's script and the refs are empty.
    `context_ref` is a blob of the operator's structured context (JSON) that the request's templates
    rendered into the prompt at `prompt_ref`: with the request, it is everything that made the prompt."""

    node_id: NodeId
    plan: Annotated[str, Meta(description="The plan the model wrote before its script.")]
    code: Annotated[str, Meta(description="The Python script the node runs.")]
    model: Annotated[str, Meta(description='The litellm model string that answered; "user" for a baseline node.')]
    prompt_ref: PromptRef
    completion_ref: CompletionRef
    prompt_tokens: PromptTokens = 0
    completion_tokens: CompletionTokens = 0
    cost_usd: CostUsd = 0.0
    llm_seconds: LlmSeconds = 0.0
    attempts: Annotated[int, Meta(description="How many answers were asked for until one was usable.")] = 1
    context_ref: Annotated[
        str,
        Meta(
            description="SHA-256 of the blob of the operator's structured context (JSON) that the templates "
            'rendered into the prompt; "" for a baseline node.'
        ),
    ] = ""
    shortened: Annotated[
        tuple[str, ...],
        Meta(
            description="What the prompt lost to fit the model's context window (docs/operators.md); "
            "empty when nothing."
        ),
    ] = ()
    calls: ModelCalls = ()


class NodeQueued(EventBase, frozen=True, tag="node.queued"):
    """The node's script waits for a free slot of its executor (shared by every run of the daemon)."""

    node_id: NodeId
    executor: ExecutorKind
    waiting: Annotated[int, Meta(description="How many scripts were already waiting for that executor.")] = 0


class NodeDispatched(EventBase, frozen=True, tag="node.dispatched"):
    """The node's job is staged on an executor and about to start; `handle` finds it again, so a
    restarted daemon reattaches to it instead of running it twice."""

    node_id: NodeId
    executor: ExecutorKind
    handle: Annotated[str, Meta(description="The executor's own name for the job, to find it again after a restart.")]


class NodeExecuted(EventBase, frozen=True, tag="node.executed"):
    """The script finished (or was stopped); outputs are blob references by file name.

    `oom`: it ran out of its memory limit; `killed`: why something else ended it (a cancel, Slurm).
    `cached_from`: the earlier node of the run whose identical script's result this is (the execution
    cache); nothing ran, so `duration_s` is 0.
    """

    node_id: NodeId
    exit_code: Annotated[int | None, Meta(description="The script's exit status; null when it has none (killed).")]
    duration_s: Annotated[float, Meta(description="How long the script ran, in seconds; 0 for a cached result.")]
    timed_out: Annotated[bool, Meta(description="Whether it ran past its time limit (node_timeout_s).")] = False
    stdout_tail: Annotated[str, Meta(description='The last 4,000 characters of its stdout ("…" first when cut).')] = ""
    stderr_tail: Annotated[str, Meta(description='The last 4,000 characters of its stderr ("…" first when cut).')] = ""
    stdout_ref: Annotated[
        str,
        Meta(
            description="SHA-256 of the blob of its whole stdout (past 2 MiB: the first and last MiB, with a note "
            "between)."
        ),
    ] = ""
    stderr_ref: Annotated[str, Meta(description="SHA-256 of the blob of its whole stderr, like stdout_ref.")] = ""
    outputs: Annotated[
        dict[str, str], Meta(description="Each file it wrote (a path relative to its work dir) → SHA-256 of its blob.")
    ] = {}
    oom: Annotated[bool, Meta(description="Whether it ran out of its memory limit.")] = False
    killed: Annotated[
        str | None,
        Meta(
            description='Why something other than the script ended it ("cancelled", "cancelled by Slurm", '
            '"node failure", ...); null when nothing did.'
        ),
    ] = None
    cached_from: Annotated[
        int | None,
        Meta(
            description="The earlier node of the run whose identical script's result this is (nothing ran); "
            "null when it ran."
        ),
    ] = None


class NodeScored(EventBase, frozen=True, tag="node.scored"):
    """The harness scored the node's validation predictions: this is the policy's fitness."""

    node_id: NodeId
    metric: Annotated[str, Meta(description="The task's metric, e.g. accuracy.")]
    lower_is_better: Annotated[bool, Meta(description="Whether a lower score is better.")]
    valid: Annotated[bool, Meta(description="Whether the predictions could be scored.")]
    score: Annotated[float | None, Meta(description="The validation score; null when not valid.")] = None
    error: Annotated[str, Meta(description='Why the predictions could not be scored; "" when valid.')] = ""


class NodeTested(EventBase, frozen=True, tag="node.tested"):
    """The held-out test score. Reports only: no policy's view of the run contains it.

    Tasks with a leaderboard (MLE-bench) also record the medal the score wins (`gold` / `silver` /
    `bronze`, None for none), whether it beats the leaderboard's median, and the thresholds by name
    (`gold`, `silver`, `bronze`, `median`); without a leaderboard these stay None / None / {}.
    """

    node_id: NodeId
    score: Annotated[float | None, Meta(description="The held-out test score; null when it could not be scored.")] = (
        None
    )
    medal: Annotated[
        Medal | None, Meta(description="The medal the score wins on the task's leaderboard; null for none.")
    ] = None
    above_median: Annotated[
        bool | None, Meta(description="Whether the score beats the leaderboard's median; null without a leaderboard.")
    ] = None
    medal_thresholds: Annotated[
        dict[str, float],
        Meta(description="The leaderboard's gold, silver, bronze and median scores by name; {} without one."),
    ] = {}


class NodeAnalyzed(EventBase, frozen=True, tag="node.analyzed"):
    """The model's own review of a run (AIDE's analyze step): recorded beside the harness score,
    never trusted over it. `via` says whether it came as a tool call or as JSON in text; "none" (with
    an empty summary) when the answer was no review. `prompt_ref`: the messages the model was sent."""

    node_id: NodeId
    summary: Annotated[str, Meta(description='The model\'s review of the execution; "" when there was none.')]
    is_bug: Annotated[bool | None, Meta(description="Whether the model thinks the script is buggy.")] = None
    metric: Annotated[float | None, Meta(description="The metric value the model read in the output.")] = None
    lower_is_better: Annotated[bool | None, Meta(description="Whether the model thinks lower is better.")] = None
    via: Annotated[
        Literal["tool", "json", "none"],
        Meta(description="How the review came: a tool call, JSON in the text, or none (no review)."),
    ] = "none"
    completion_ref: CompletionRef = ""
    prompt_tokens: PromptTokens = 0
    completion_tokens: CompletionTokens = 0
    cost_usd: CostUsd = 0.0
    model: Annotated[str, Meta(description="The litellm model string that answered.")] = ""
    prompt_ref: PromptRef = ""
    finish_reason: Annotated[
        str, Meta(description='Why the answer stopped, as the provider said ("stop", "length", "tool_calls").')
    ] = ""
    llm_seconds: LlmSeconds = 0.0


class NodeFailed(EventBase, frozen=True, tag="node.failed"):
    """A node could not be carried through a stage (model nonsense, executor fault); the search goes on.
    A failed generation records every answer the model gave (`calls`) and the time spent asking."""

    node_id: NodeId
    stage: Annotated[FailureStage, Meta(description="The stage it failed in: generate, execute or score.")]
    reason: Annotated[str, Meta(description='What went wrong ("the run was cancelled" for a cancel).')]
    prompt_tokens: PromptTokens = 0
    completion_tokens: CompletionTokens = 0
    cost_usd: CostUsd = 0.0
    llm_seconds: LlmSeconds = 0.0
    calls: ModelCalls = ()
    prompt_ref: PromptRef = ""


class Baseline(Struct, frozen=True):
    """A reference model the harness scored on the run's own split: `name` says which ("majority
    label", "positive rate", "mean", "gradient boosting"); a score is None where the split has none
    or the model could not be scored (`error` says why)."""

    name: Annotated[str, Meta(description='Which reference model, e.g. "majority label", "gradient boosting".')]
    validation: Annotated[float | None, Meta(description="Its validation score; null when there is none.")] = None
    test: Annotated[float | None, Meta(description="Its held-out test score; null when there is none.")] = None
    error: Annotated[str, Meta(description='Why it could not be scored; "" when it was.')] = ""


GRADIENT_BOOSTING = "gradient boosting"


def boosted(baselines: tuple[Baseline, ...] | None) -> Baseline | None:
    """The gradient-boosting baseline of a run's baselines, where it was scored."""
    return next((b for b in baselines or () if b.name == GRADIENT_BOOSTING and not b.error), None)


class RunBaselines(EventBase, frozen=True, tag="run.baselines"):
    """The harness's reference baselines on the run's split (docs/tasks.md), recorded once when the run
    first starts, for reports only: no policy's view holds them. Empty for tasks with none (a user's
    script, an MLE-bench competition)."""

    baselines: Annotated[tuple[Baseline, ...], Meta(description="Each reference model and its scores.")] = ()


class RunFinished(EventBase, frozen=True, tag="run.finished"):
    """The run is over; `best_node_id` is chosen by validation score only. `distill_cost_usd` and
    `distill_tokens`: what distilling its findings into its domain's knowledge cost (part of the
    run's cost and tokens)."""

    reason: Annotated[
        FinishReason,
        Meta(
            description="What ended the run: a budget limit (max_nodes, wall_seconds, budget), a cancel, "
            "the model failing its check (model) or an error; `detail` says more."
        ),
    ]
    best_node_id: Annotated[
        int | None,
        Meta(
            description="The scored, valid node with the best validation score (in the metric's direction); "
            "on a tie the earliest, the lowest node_id; null when no node has a valid score."
        ),
    ] = None
    detail: Annotated[str, Meta(description='What happened, in words; "" when the reason says it all.')] = ""
    distill_cost_usd: Annotated[
        float, Meta(description="What distilling the run's findings into its domain's knowledge cost, in USD.")
    ] = 0.0
    distill_tokens: Annotated[int, Meta(description="The tokens distilling the run's findings took.")] = 0


Event = (
    RunSubmitted
    | RunRejected
    | RunStarted
    | RunKnowledge
    | RunBaselines
    | NodeSelected
    | NodeGenerated
    | NodeQueued
    | NodeDispatched
    | NodeExecuted
    | NodeScored
    | NodeTested
    | NodeAnalyzed
    | NodeFailed
    | RunFinished
)

TERMINAL_EVENTS = (RunFinished, RunRejected)

_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    """Wire form of an event: JSON with a `type` tag."""
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    """Parse one event from its wire form."""
    return _decoder.decode(data)


def event_tag(event: Event) -> str:
    """The stable tag of an event, e.g. 'node.executed'."""
    return struct_tag(event)


def events_json_schema() -> dict:
    """The JSON Schema of one run event, as committed in docs/events.schema.json: standard 2020-12."""
    description = (
        "One event of a run, a message on airad.events.<run_id>, told apart by its `type`. An event written "
        "by an older daemon may lack a field that has a default: read it as the default. New fields may be added."
    )
    return standard_json_schema(msgspec.json.schema(Event), "airad run event", description)
