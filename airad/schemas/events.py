"""Every fact appended to a run's stream `airad.events.<run_id>`, with stable tags.

Schema evolution: new fields get defaults, field types never change, tags never change.
Events carry references, not bulk: code and plan inline; prompts, completions and full
outputs in the blob store, referenced by SHA-256.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from airad.schemas.knowledge_events import AtomRef
from airad.schemas.request import RunRequest
from airad.schemas.tags import struct_tag

BUILTIN_OPERATORS = ("draft", "improve", "debug", "crossover", "baseline")  # baseline: the user's own script, node 0
Operator = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]  # a built-in one, or a plugin's (docs/extending.md)
FinishReason = Literal["max_nodes", "wall_seconds", "budget", "cancelled", "model", "error"]
FailureStage = Literal["generate", "execute", "score"]
Medal = Literal["gold", "silver", "bronze"]


class EventBase(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every event has: its run, its gapless per-run sequence number and a daemon timestamp."""

    run_id: str
    seq: int
    at: float


class RunSubmitted(EventBase, frozen=True, tag="run.submitted"):
    """A valid request was accepted; the run exists from here on."""

    request: RunRequest
    request_seq: int | None = None


class RunRejected(EventBase, frozen=True, tag="run.rejected"):
    """A request could not be accepted; `field` is a JSON path like `$.budget.max_nodes`."""

    field: str
    reason: str
    request_seq: int | None = None
    excerpt: str = ""


class RunStarted(EventBase, frozen=True, tag="run.started"):
    """A daemon took ownership of the run (first start, or resume after a crash or hand-over)."""

    owner: str
    resumed: bool = False


class RunKnowledge(EventBase, frozen=True, tag="run.knowledge"):
    """The knowledge atoms of the run's domain that its operators' prompts include, recorded once when
    the run first starts (before any decision), so a replay shows which knowledge every prompt saw.

    `atoms` names each atom's id and version; `atoms_ref` is a blob of the atoms themselves (JSON), so
    the prompts can be rebuilt from the run's own events; `knowledge_seq` is the domain stream's last
    sequence read.
    """

    domain: str
    atoms: tuple[AtomRef, ...] = ()
    atoms_ref: str = ""
    knowledge_seq: int = 0


class NodeSelected(EventBase, frozen=True, tag="node.selected"):
    """The policy's decision, appended before it is acted on."""

    node_id: int
    operator: Operator
    parent_ids: tuple[int, ...] = ()


class ModelCall(Struct, frozen=True):
    """One answer a model gave to a node's prompt, used or not: its text (`completion_ref`, a blob), why
    it stopped (`finish_reason` as the provider said it: "stop", "length" for cut off at `max_tokens`,
    "tool_calls"; "" when not given), the room it was given, what it cost, and how long the call took
    (retries of transient faults included). `problem` says why the answer was not used; "" for the
    one that was."""

    completion_ref: str
    finish_reason: str = ""
    max_tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    problem: str = ""


class NodeGenerated(EventBase, frozen=True, tag="node.generated"):
    """The model answered and the answer parsed into a plan and a script. For a `baseline` node no
    model was asked: `model` is "user", the code is the user's script and the refs are empty.
    `context_ref` is a blob of the operator's structured context (JSON) that the request's templates
    rendered into the prompt at `prompt_ref`: with the request, it is everything that made the prompt."""

    node_id: int
    plan: str
    code: str
    model: str
    prompt_ref: str
    completion_ref: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    llm_seconds: float = 0.0
    attempts: int = 1
    context_ref: str = ""
    shortened: tuple[str, ...] = ()  # what the prompt lost to fit the model's context (docs/operators.md)
    calls: tuple[ModelCall, ...] = ()  # every answer asked for, in order; the last is the one used


class NodeQueued(EventBase, frozen=True, tag="node.queued"):
    """The node's script waits for a free slot of its executor (shared by every run of the daemon)."""

    node_id: int
    executor: str
    waiting: int = 0


class NodeDispatched(EventBase, frozen=True, tag="node.dispatched"):
    """The node's job is staged on an executor and about to start; `handle` finds it again, so a
    restarted daemon reattaches to it instead of running it twice."""

    node_id: int
    executor: str
    handle: str


class NodeExecuted(EventBase, frozen=True, tag="node.executed"):
    """The script finished (or was stopped); outputs are blob references by file name.

    `oom`: it ran out of its memory limit; `killed`: why something else ended it (a cancel, Slurm).
    `cached_from`: the earlier node of the run whose identical script's result this is (the execution
    cache); nothing ran, so `duration_s` is 0.
    """

    node_id: int
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_ref: str = ""
    stderr_ref: str = ""
    outputs: dict[str, str] = {}
    oom: bool = False
    killed: str | None = None
    cached_from: int | None = None


class NodeScored(EventBase, frozen=True, tag="node.scored"):
    """The harness scored the node's validation predictions: this is the policy's fitness."""

    node_id: int
    metric: str
    lower_is_better: bool
    valid: bool
    score: float | None = None
    error: str = ""


class NodeTested(EventBase, frozen=True, tag="node.tested"):
    """The held-out test score. Reports only: no policy's view of the run contains it.

    Tasks with a leaderboard (MLE-bench) also record the medal the score wins (`gold` / `silver` /
    `bronze`, None for none), whether it beats the leaderboard's median, and the thresholds by name
    (`gold`, `silver`, `bronze`, `median`); without a leaderboard these stay None / None / {}.
    """

    node_id: int
    score: float | None = None
    medal: Medal | None = None
    above_median: bool | None = None
    medal_thresholds: dict[str, float] = {}


class NodeAnalyzed(EventBase, frozen=True, tag="node.analyzed"):
    """The model's own review of a run (AIDE's analyze step): recorded beside the harness score,
    never trusted over it. `via` says whether it came as a tool call or as JSON in text; "none" (with
    an empty summary) when the answer was no review. `prompt_ref`: the messages the model was sent."""

    node_id: int
    summary: str
    is_bug: bool | None = None
    metric: float | None = None
    lower_is_better: bool | None = None
    via: Literal["tool", "json", "none"] = "none"
    completion_ref: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""
    prompt_ref: str = ""
    finish_reason: str = ""
    llm_seconds: float = 0.0


class NodeFailed(EventBase, frozen=True, tag="node.failed"):
    """A node could not be carried through a stage (model nonsense, executor fault); the search goes on.
    A failed generation records every answer the model gave (`calls`) and the time spent asking."""

    node_id: int
    stage: FailureStage
    reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    llm_seconds: float = 0.0
    calls: tuple[ModelCall, ...] = ()
    prompt_ref: str = ""


class Baseline(Struct, frozen=True):
    """A reference model the harness scored on the run's own split: `name` says which ("majority
    label", "positive rate", "mean", "gradient boosting"); a score is None where the split has none
    or the model could not be scored (`error` says why)."""

    name: str
    validation: float | None = None
    test: float | None = None
    error: str = ""


GRADIENT_BOOSTING = "gradient boosting"


def boosted(baselines: tuple[Baseline, ...] | None) -> Baseline | None:
    """The gradient-boosting baseline of a run's baselines, where it was scored."""
    return next((b for b in baselines or () if b.name == GRADIENT_BOOSTING and not b.error), None)


class RunBaselines(EventBase, frozen=True, tag="run.baselines"):
    """The harness's reference baselines on the run's split (docs/tasks.md), recorded once when the run
    first starts, for reports only: no policy's view holds them. Empty for tasks with none (a user's
    script, an MLE-bench competition)."""

    baselines: tuple[Baseline, ...] = ()


class RunFinished(EventBase, frozen=True, tag="run.finished"):
    """The run is over; `best_node_id` is chosen by validation score only. `distill_cost_usd` and
    `distill_tokens`: what distilling its findings into its domain's knowledge cost (part of the
    run's cost and tokens)."""

    reason: FinishReason
    best_node_id: int | None = None
    detail: str = ""
    distill_cost_usd: float = 0.0
    distill_tokens: int = 0


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
