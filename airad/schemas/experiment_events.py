"""Every fact appended to an experiment's stream `airad.experiment-events.<experiment_id>`, with stable tags.

Same rules as run events: a gapless per-experiment `seq`, a daemon timestamp, new fields get
defaults, types and tags never change. A finished run is recorded by its result summary (a few
numbers), never by its nodes: the run's own stream holds those.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from airad.schemas.experiment import ExperimentRequest


class ExperimentEventBase(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every experiment event has: its experiment, its gapless sequence number, a timestamp."""

    experiment_id: str
    seq: int
    at: float


class RunResult(Struct, frozen=True):
    """What an experiment keeps of one finished run: how it ended and the figures reports need.

    `test` and `validation` are the scores of the node chosen by validation (what the run would
    submit); `medal` is that node's medal and `has_medals` whether the task has a leaderboard;
    `baseline_test` the held-out score of the harness's gradient-boosting baseline on the run's split
    (None where the run recorded none)."""

    status: str
    reason: str = ""
    metric: str = ""
    lower_is_better: bool = False
    nodes: int = 0
    buggy: int = 0
    cost_usd: float = 0.0
    wall_s: float | None = None
    chosen_node_id: int | None = None
    validation: float | None = None
    test: float | None = None
    medal: str | None = None
    has_medals: bool = False
    baseline_test: float | None = None

    @property
    def complete(self) -> bool:
        """A run that ended on its own (not cancelled, not rejected): it counts in reports."""
        return self.status == "finished" and self.reason != "cancelled"


class ExperimentAccepted(ExperimentEventBase, frozen=True, tag="experiment.accepted"):
    """A valid experiment request was accepted; its runs follow from it (`plan_runs`)."""

    request: ExperimentRequest
    request_seq: int | None = None
    runs: int = 0


class ExperimentRejected(ExperimentEventBase, frozen=True, tag="experiment.rejected"):
    """An experiment request could not be accepted; `field` is a JSON path like `$.solvers[1].name`."""

    field: str
    reason: str
    request_seq: int | None = None
    excerpt: str = ""


class ExperimentRunStarted(ExperimentEventBase, frozen=True, tag="experiment.run_started"):
    """One run's request was published (or found already submitted)."""

    run_id: str
    task_index: int
    solver: str
    seed: int


class ExperimentRunFinished(ExperimentEventBase, frozen=True, tag="experiment.run_finished"):
    """One run ended (finished, cancelled or rejected), with its result summary."""

    run_id: str
    result: RunResult


class ExperimentCancelled(ExperimentEventBase, frozen=True, tag="experiment.cancelled"):
    """A cancel was requested: no more runs start, the running ones are cancelled."""

    reason: str = ""


class ExperimentDone(ExperimentEventBase, frozen=True, tag="experiment.done"):
    """Every started run has ended; `cancelled` when the experiment was cut short."""

    runs: int
    complete: int
    cancelled: bool = False


ExperimentEvent = (
    ExperimentAccepted
    | ExperimentRejected
    | ExperimentRunStarted
    | ExperimentRunFinished
    | ExperimentCancelled
    | ExperimentDone
)

TERMINAL_EXPERIMENT_EVENTS = (ExperimentDone, ExperimentRejected)

_decoder = msgspec.json.Decoder(ExperimentEvent)
_encoder = msgspec.json.Encoder()


def encode_experiment_event(event: ExperimentEvent) -> bytes:
    """Wire form of an experiment event: JSON with a `type` tag."""
    return _encoder.encode(event)


def decode_experiment_event(data: bytes) -> ExperimentEvent:
    """Parse one experiment event from its wire form."""
    return _decoder.decode(data)
