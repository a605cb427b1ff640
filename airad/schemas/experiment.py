"""The experiment request: tasks × solvers × seeds, published on `airad.experiments`; and its expansion
into ordinary run requests with deterministic run ids."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from airad.schemas.json_schema import standard_json_schema
from airad.schemas.policies import GreedyPolicy, OperatorSpec, PolicySpec
from airad.schemas.request import (
    Baseline,
    Budget,
    Domain,
    ExecutorSpec,
    LocalExecutor,
    ModelSpec,
    OperatorModels,
    PositiveInt,
    Program,
    RunId,
    RunRequest,
    Seed,
    TaskSpec,
    request_size_rule,
    task_label,
)

SolverName = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", description="Letters, digits, '-' and '_', 1 to 32 characters."),
]
RESERVED_LABELS = ("experiment", "solver")
MAX_RUNS = 10_000


class Solver(Struct, frozen=True, forbid_unknown_fields=True):
    """One solver configuration of an experiment: a policy, its operators and a model, under a name.
    `program` replaces the experiment's research program for this solver's runs ("" for none), so an
    experiment can compare a search with and without one."""

    name: SolverName
    policy: PolicySpec = GreedyPolicy()
    operators: OperatorSpec | None = None
    model: ModelSpec = ModelSpec()
    operator_models: OperatorModels = {}
    budget: Budget | None = None
    program: Program | None = None


class ExperimentRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A portfolio of runs: every solver on every task with every seed, under shared settings.

    `budget` applies to each run unless its solver names its own; `max_parallel_runs` bounds how many
    of the experiment's runs are in flight at once (None: all of them). `program`, `baseline` and
    `domain` are given to every run (see RunRequest)."""

    tasks: Annotated[tuple[TaskSpec, ...], Meta(min_length=1)]
    solvers: Annotated[tuple[Solver, ...], Meta(min_length=1)]
    seeds: Annotated[tuple[Seed, ...], Meta(min_length=1)] = (0,)
    budget: Budget = Budget()
    executor: ExecutorSpec = LocalExecutor()
    labels: dict[str, str] = {}
    experiment_id: RunId | None = None
    max_parallel_runs: PositiveInt | None = None
    program: Program = ""
    baseline: Baseline | None = None
    domain: Domain | None = None


class PlannedRun(Struct, frozen=True):
    """One run of an experiment: which task (by index), solver and seed, and its run id."""

    run_id: str
    task_index: int
    solver: str
    seed: int


def experiment_run_id(experiment_id: str, task_index: int, solver: str, seed: int) -> str:
    """`<experiment>-t<task index>-<solver>-s<seed>`; past 64 characters, its first 51 and a digest of
    the whole, so the id stays a valid, unique RunId."""
    readable = f"{experiment_id}-t{task_index}-{solver}-s{seed}"
    if len(readable) <= 64:
        return readable
    return f"{readable[:51]}-{hashlib.sha256(readable.encode()).hexdigest()[:12]}"


def plan_runs(experiment_id: str, request: ExperimentRequest) -> list[PlannedRun]:
    """Every run of the experiment in the order they start: by seed, then task, then solver, so the
    first runs already compare every solver on every task."""
    return [
        PlannedRun(experiment_run_id(experiment_id, index, solver.name, seed), index, solver.name, seed)
        for seed in request.seeds
        for index in range(len(request.tasks))
        for solver in request.solvers
    ]


def run_count(request: ExperimentRequest) -> int:
    """How many runs the experiment plans: tasks × solvers × seeds."""
    return len(request.tasks) * len(request.solvers) * len(request.seeds)


def run_request(experiment_id: str, request: ExperimentRequest, planned: PlannedRun) -> RunRequest:
    """The ordinary run request of one planned run, labelled with its experiment and solver."""
    solver = next(s for s in request.solvers if s.name == planned.solver)
    return RunRequest(
        task=request.tasks[planned.task_index],
        policy=solver.policy,
        operators=solver.operators,
        model=solver.model,
        operator_models=solver.operator_models,
        seed=planned.seed,
        budget=solver.budget or request.budget,
        executor=request.executor,
        run_id=planned.run_id,
        labels={**request.labels, "experiment": experiment_id, "solver": solver.name},
        program=request.program if solver.program is None else solver.program,
        baseline=request.baseline,
        domain=request.domain,
    )


def task_names(request: ExperimentRequest) -> list[str]:
    """The name each task goes by in reports: its label, with `#<index>` when two tasks share one."""
    labels = [task_label(task) for task in request.tasks]
    return [label if labels.count(label) == 1 else f"{label}#{index}" for index, label in enumerate(labels)]


def experiment_problem(request: ExperimentRequest) -> tuple[str, str] | None:
    """(field, reason) for what the schema alone cannot say is wrong, else None."""
    names = [solver.name for solver in request.solvers]
    for index, name in enumerate(names):
        if names.index(name) != index:
            return f"$.solvers[{index}].name", f"solver name {name!r} is used twice"
    for index, seed in enumerate(request.seeds):
        if request.seeds.index(seed) != index:
            return f"$.seeds[{index}]", f"seed {seed} is listed twice"
    for label in RESERVED_LABELS:
        if label in request.labels:
            return f"$.labels.{label}", f"the label {label!r} is set by the experiment itself"
    runs = run_count(request)
    if runs > MAX_RUNS:
        return "$", f"the experiment has {runs} runs; the limit is {MAX_RUNS}"
    return None


def experiment_request_json_schema(extend: Callable[[dict], dict] | None = None) -> dict:
    """The JSON Schema of `ExperimentRequest`, as committed in docs/experiment-request.schema.json:
    standard 2020-12; `extend` as in `run_request_json_schema`."""
    schema = msgspec.json.schema(ExperimentRequest)
    if extend is not None:
        schema = extend(schema)
    rule = request_size_rule("airad.experiments", "experiment.rejected")
    return standard_json_schema(schema, "airad experiment request", f"One experiment request. {rule}")
