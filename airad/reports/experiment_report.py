"""The aggregate report of an experiment: per task and solver, mean ± SEM over seeds, and a ranking
of the solvers across all tasks (`airad experiment report`).

It reads only the experiment's fold: each finished run's figures were recorded in its
`experiment.run_finished` event (`run_result`, from `report.run_report`), so a report over a
thousand runs reads no run log.
"""

from __future__ import annotations

from msgspec import Struct

from airad.events.experiment import ExperimentRun, ExperimentState
from airad.events.fold import RunState
from airad.reports.ranking import Contest, Ranking, rank_solvers
from airad.reports.report import Stat, mean_sem, run_report
from airad.schemas.experiment_events import RunResult


class CellReport(Struct, frozen=True):
    """One task × solver. `planned` runs, `ended` of them ended, `runs` of those ended on their own
    (not cancelled or rejected) and are the ones aggregated. `test`: the held-out score of the node
    chosen by validation; `any_medal_pct` is None when the task has no leaderboard."""

    task: str
    solver: str
    planned: int
    ended: int
    runs: int
    metric: str
    lower_is_better: bool
    test: Stat
    any_medal_pct: Stat | None
    nodes: Stat
    cost_usd: Stat
    wall_s: Stat


class ExperimentReport(Struct, frozen=True):
    """What `airad experiment report` prints: progress, one cell per task × solver, the ranking."""

    experiment_id: str
    status: str
    runs_planned: int
    runs_started: int
    runs_ended: int
    cells: list[CellReport]
    ranking: Ranking


def run_result(state: RunState, finished_at: float | None) -> RunResult:
    """What an experiment records of a run that has ended: report.py's per-run figures, in brief."""
    report = run_report(state)
    chosen = report.chosen
    wall_s = finished_at - state.submitted_at if finished_at is not None and state.submitted_at is not None else None
    return RunResult(
        status=state.status,
        reason=state.finish_reason or state.rejection,
        metric=state.metric,
        lower_is_better=state.lower_is_better,
        nodes=len(state.nodes),
        buggy=sum(1 for node in state.nodes if node.buggy),
        cost_usd=state.cost_usd,
        wall_s=wall_s,
        chosen_node_id=chosen.node_id if chosen else None,
        validation=chosen.validation if chosen else None,
        test=chosen.test if chosen else None,
        medal=chosen.medal if chosen else None,
        has_medals=report.has_medals,
    )


def _cell(task: str, solver: str, runs: list[ExperimentRun]) -> CellReport:
    results = [run.result for run in runs if run.result is not None]
    complete = [result for result in results if result.complete]
    scored = next((result for result in complete if result.metric), None)
    medals = any(result.has_medals for result in complete)
    return CellReport(
        task=task,
        solver=solver,
        planned=len(runs),
        ended=len(results),
        runs=len(complete),
        metric=scored.metric if scored else "",
        lower_is_better=scored.lower_is_better if scored else False,
        test=mean_sem(result.test for result in complete),
        any_medal_pct=mean_sem(100.0 if result.medal else 0.0 for result in complete) if medals else None,
        nodes=mean_sem(float(result.nodes) for result in complete),
        cost_usd=mean_sem(result.cost_usd for result in complete),
        wall_s=mean_sem(result.wall_s for result in complete),
    )


def contests(state: ExperimentState) -> list[Contest]:
    """One contest per (task, seed): each solver's held-out score there, negated where lower is
    better so that higher always wins; None for a run that ended with no scored node. Runs that did
    not end on their own are left out (missing), not counted as losses."""
    by_key: dict[tuple[int, int], dict[str, RunResult]] = {}
    for run in state.runs:
        if run.result is not None and run.result.complete:
            by_key.setdefault((run.task_index, run.seed), {})[run.solver] = run.result
    out: list[Contest] = []
    for key in sorted(by_key):
        results = by_key[key]
        lower = next((r.lower_is_better for r in results.values() if r.metric), False)
        out.append(
            {solver: None if r.test is None else (-r.test if lower else r.test) for solver, r in results.items()}
        )
    return out


def experiment_report(state: ExperimentState) -> ExperimentReport:
    """The report of an experiment from its folded state (partial while it runs)."""
    request = state.request
    solvers = [solver.name for solver in request.solvers] if request else []
    cells: list[CellReport] = []
    for task in dict.fromkeys(run.task for run in state.runs):
        for solver in solvers:
            members = [run for run in state.runs if run.task == task and run.solver == solver]
            cells.append(_cell(task, solver, members))
    return ExperimentReport(
        experiment_id=state.experiment_id,
        status=state.status,
        runs_planned=len(state.runs),
        runs_started=sum(1 for run in state.runs if run.progress != "planned"),
        runs_ended=state.count("finished"),
        cells=cells,
        ranking=rank_solvers(solvers, contests(state)),
    )
