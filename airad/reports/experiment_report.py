"""The aggregate report of an experiment: per task and solver, mean ± SEM over seeds, and two
rankings of the solvers across all tasks, Bradley–Terry and Soft Condorcet Optimization
(`airad experiment report`).

It reads only the experiment's fold: each finished run's figures were recorded in its
`experiment.run_finished` event (`run_result`, from `report.run_report`), so a report over a
thousand runs reads no run log. As in `airad report`, a seed is one sample (the latest run of a
repeated seed counts) and runs that did not end on their own are named, never aggregated.
"""

from __future__ import annotations

from msgspec import Struct

from airad.events.experiment import ExperimentRun, ExperimentState
from airad.events.fold import RunState
from airad.reports.ranking import Contest, Ranking, ScoRanking, rank_solvers, rank_solvers_sco
from airad.reports.report import Stat, latest_per_seed, mean_sem, run_report, uncounted_reason
from airad.schemas.events import boosted
from airad.schemas.experiment_events import RunResult


class CellReport(Struct, frozen=True):
    """One task × solver. `planned` runs, `ended` of them ended, `runs` of those ended on their own
    (not cancelled, rejected, or ended by a broken model or an error), one per seed, and are the ones
    aggregated; `left_out` names each ended run that is not (run id -> why), `repeated_seeds` the
    seeds more than one such run had (the latest counts). `test`: the held-out score of the node
    chosen by validation; `baseline_test` the harness's gradient-boosting baseline's on the same splits
    (n = 0 where the runs recorded none); `any_medal_pct` is None when the task has no leaderboard."""

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
    left_out: dict[str, str] = {}
    repeated_seeds: list[int] = []
    baseline_test: Stat | None = None


class ExperimentReport(Struct, frozen=True):
    """What `airad experiment report` prints: progress, one cell per task × solver, the rankings:
    `ranking` by Bradley–Terry and `sco_ranking` by Soft Condorcet Optimization."""

    experiment_id: str
    status: str
    runs_planned: int
    runs_started: int
    runs_ended: int
    cells: list[CellReport]
    ranking: Ranking
    sco_ranking: ScoRanking | None = None


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
        baseline_test=baseline.test if (baseline := boosted(report.baselines)) else None,
    )


def counted_runs(runs: list[ExperimentRun]) -> tuple[list[ExperimentRun], dict[str, str], list[int]]:
    """Of one cell's runs: those aggregated (ended on their own, the latest of each seed), why each
    other ended run is not (run id -> why), and the seeds repeated."""
    why = {run.run_id: uncounted_reason(run.result.status, run.result.reason) for run in runs if run.result is not None}
    eligible = [run for run in runs if why.get(run.run_id) == ""]
    kept, repeated = latest_per_seed(eligible, lambda run: run.seed)
    latest = {run.seed: run.run_id for run in kept}
    for run in eligible:
        if latest[run.seed] != run.run_id:
            why[run.run_id] = f"repeats seed {run.seed}: the later run {latest[run.seed]} counts"
    return kept, {run_id: reason for run_id, reason in why.items() if reason}, repeated


def _cell(task: str, solver: str, runs: list[ExperimentRun]) -> CellReport:
    kept, left_out, repeated = counted_runs(runs)
    complete = [run.result for run in kept if run.result is not None]
    scored = next((result for result in complete if result.metric), None)
    medals = any(result.has_medals for result in complete)
    return CellReport(
        task=task,
        solver=solver,
        planned=len(runs),
        ended=sum(1 for run in runs if run.result is not None),
        runs=len(complete),
        metric=scored.metric if scored else "",
        lower_is_better=scored.lower_is_better if scored else False,
        test=mean_sem(result.test for result in complete),
        any_medal_pct=mean_sem(100.0 if result.medal else 0.0 for result in complete) if medals else None,
        nodes=mean_sem(float(result.nodes) for result in complete),
        cost_usd=mean_sem(result.cost_usd for result in complete),
        wall_s=mean_sem(result.wall_s for result in complete),
        left_out=left_out,
        repeated_seeds=repeated,
        baseline_test=mean_sem(result.baseline_test for result in complete),
    )


def contests(state: ExperimentState) -> list[Contest]:
    """One contest per (task, seed): each solver's held-out score there, negated where lower is
    better so that higher always wins; None for a run that ended with no scored node. Runs that did
    not end on their own are left out (missing), not counted as losses; of runs that repeat a seed,
    the latest counts."""
    by_key: dict[tuple[int, int], dict[str, RunResult]] = {}
    for run in state.runs:
        if run.result is not None and not uncounted_reason(run.result.status, run.result.reason):
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
    votes = contests(state)
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
        ranking=rank_solvers(solvers, votes),
        sco_ranking=rank_solvers_sco(solvers, votes),
    )
