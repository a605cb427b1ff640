"""`ExperimentState` is the fold of an experiment's events: its planned runs and how far each got."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from msgspec import Struct, structs

from airad.events.stream import check_next
from airad.schemas.experiment import ExperimentRequest, plan_runs, task_names
from airad.schemas.experiment_events import (
    ExperimentAccepted,
    ExperimentCancelled,
    ExperimentDone,
    ExperimentEvent,
    ExperimentRejected,
    ExperimentRunFinished,
    ExperimentRunStarted,
    RunResult,
)

ExperimentStatus = Literal["new", "running", "cancelling", "done", "cancelled", "rejected"]
RunProgress = Literal["planned", "started", "finished"]


class ExperimentRun(Struct, frozen=True):
    """One planned run of the experiment and how far it got; `result` once it has ended."""

    run_id: str
    task_index: int
    task: str
    solver: str
    seed: int
    progress: RunProgress = "planned"
    result: RunResult | None = None


class ExperimentState(Struct, frozen=True):
    """Everything known about one experiment; `runs` in the order they start."""

    experiment_id: str
    last_seq: int = 0
    status: ExperimentStatus = "new"
    request: ExperimentRequest | None = None
    submitted_at: float | None = None
    finished_at: float | None = None
    runs: tuple[ExperimentRun, ...] = ()
    positions: dict[str, int] = {}
    rejection: str = ""
    cancel_reason: str = ""

    @property
    def terminal(self) -> bool:
        """True once the experiment is done (complete or cancelled) or was rejected."""
        return self.status in ("done", "cancelled", "rejected")

    @property
    def cancelling(self) -> bool:
        """True once a cancel was recorded."""
        return self.status in ("cancelling", "cancelled")

    def count(self, progress: RunProgress) -> int:
        """How many runs got exactly as far as `progress`."""
        return sum(1 for run in self.runs if run.progress == progress)

    def run(self, run_id: str) -> ExperimentRun:
        """The planned run with this id (KeyError when the experiment has none)."""
        return self.runs[self.positions[run_id]]


def _planned(experiment_id: str, request: ExperimentRequest) -> tuple[ExperimentRun, ...]:
    names = task_names(request)
    return tuple(
        ExperimentRun(p.run_id, p.task_index, names[p.task_index], p.solver, p.seed)
        for p in plan_runs(experiment_id, request)
    )


def _update_run(state: ExperimentState, run_id: str, **changes) -> tuple[ExperimentRun, ...]:
    runs = list(state.runs)
    position = state.positions[run_id]
    runs[position] = structs.replace(runs[position], **changes)
    return tuple(runs)


def evolve_experiment(state: ExperimentState, event: ExperimentEvent) -> ExperimentState:
    """Apply one event. Events must arrive in `seq` order without gaps."""
    check_next("experiment", state.experiment_id, state.last_seq, event.experiment_id, event.seq)
    state = structs.replace(state, last_seq=event.seq)
    match event:
        case ExperimentAccepted():
            runs = _planned(state.experiment_id, event.request)
            return structs.replace(
                state,
                status="running",
                request=event.request,
                submitted_at=event.at,
                runs=runs,
                positions={run.run_id: index for index, run in enumerate(runs)},
            )
        case ExperimentRejected():
            return structs.replace(state, status="rejected", rejection=f"{event.field}: {event.reason}")
        case ExperimentRunStarted():
            return structs.replace(state, runs=_update_run(state, event.run_id, progress="started"))
        case ExperimentRunFinished():
            runs = _update_run(state, event.run_id, progress="finished", result=event.result)
            return structs.replace(state, runs=runs)
        case ExperimentCancelled():
            return structs.replace(state, status="cancelling", cancel_reason=event.reason)
        case ExperimentDone():
            return structs.replace(state, status="cancelled" if event.cancelled else "done", finished_at=event.at)
    raise TypeError(f"unknown experiment event {type(event).__name__}")


def fold_experiment(events: Iterable[ExperimentEvent], experiment_id: str | None = None) -> ExperimentState:
    """The state of an experiment after all of `events`."""
    state = ExperimentState(experiment_id) if experiment_id is not None else None
    for event in events:
        if state is None:
            state = ExperimentState(event.experiment_id)
        state = evolve_experiment(state, event)
    if state is None:
        raise ValueError("cannot fold an empty history without an experiment_id")
    return state
