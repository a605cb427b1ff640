"""The fold of an experiment's events, and its aggregate report."""

import pytest

from airad.events.experiment import ExperimentState, evolve_experiment, fold_experiment
from airad.reports.experiment_report import experiment_report, run_result
from airad.events.fold import fold
from airad.schemas.events import RunFinished
from airad.schemas.experiment import ExperimentRequest, Solver, plan_runs
from airad.schemas.experiment_events import (
    ExperimentAccepted,
    ExperimentCancelled,
    ExperimentDone,
    ExperimentRunFinished,
    ExperimentRunStarted,
    RunResult,
)
from airad.schemas.request import BundledTask
from tests.factories import History

REQUEST = ExperimentRequest(
    tasks=(BundledTask(name="wine"), BundledTask(name="diabetes")),
    solvers=(Solver(name="a"), Solver(name="b")),
    seeds=(0, 1),
)


class Log:
    """Experiment events with consecutive seq numbers."""

    def __init__(self, request=REQUEST):
        self.events = []
        self.add(ExperimentAccepted, request=request, request_seq=4, runs=8)

    def add(self, kind, **fields):
        self.events.append(kind(experiment_id="e", seq=len(self.events) + 1, at=100.0 + len(self.events), **fields))
        return self

    def run(self, run_id, result=None):
        task, solver, seed = run_id.split("-")[1:]
        self.add(ExperimentRunStarted, run_id=run_id, task_index=int(task[1:]), solver=solver, seed=int(seed[1:]))
        if result is not None:
            self.add(ExperimentRunFinished, run_id=run_id, result=result)
        return self


def _result(test, lower=False, **fields):
    metric = "rmse" if lower else "accuracy"
    return RunResult(status="finished", reason="max_nodes", metric=metric, lower_is_better=lower, test=test, nodes=3,
                     cost_usd=0.5, wall_s=10.0, **fields)


def test_accepted_plans_every_run_and_the_fold_follows_them():
    log = Log().run("e-t0-a-s0", _result(0.9)).run("e-t0-b-s0")
    state = fold_experiment(log.events)
    assert state.status == "running" and len(state.runs) == 8
    assert [r.run_id for r in state.runs] == [p.run_id for p in plan_runs("e", REQUEST)]
    assert state.run("e-t0-a-s0").progress == "finished" and state.run("e-t0-a-s0").result.test == 0.9
    assert state.run("e-t0-b-s0").progress == "started"
    assert (state.count("finished"), state.count("started"), state.count("planned")) == (1, 1, 6)
    assert state.run("e-t1-a-s1").task == "diabetes" and not state.terminal


def test_cancel_then_done_is_cancelled_and_terminal():
    log = Log().run("e-t0-a-s0").add(ExperimentCancelled, reason="user")
    assert fold_experiment(log.events).status == "cancelling"
    log.add(ExperimentRunFinished, run_id="e-t0-a-s0", result=RunResult(status="finished", reason="cancelled"))
    log.add(ExperimentDone, runs=8, complete=0, cancelled=True)
    state = fold_experiment(log.events)
    assert state.status == "cancelled" and state.terminal and state.cancel_reason == "user"


def test_a_gap_in_seq_is_refused():
    log = Log()
    with pytest.raises(ValueError, match="expected seq 2"):
        evolve_experiment(fold_experiment(log.events), ExperimentDone(experiment_id="e", seq=3, at=1.0, runs=8, complete=0))
    with pytest.raises(ValueError):
        fold_experiment([])
    assert fold_experiment([], "e") == ExperimentState("e")


def test_run_result_takes_report_figures_of_the_node_chosen_by_validation():
    history = History("r").node(0, "draft", score=0.7, test=0.6).node(1, "improve", (0,), score=0.9, test=0.5)
    history.add(RunFinished, reason="max_nodes", best_node_id=1)
    state = fold(history.events)
    result = run_result(state, finished_at=history.events[-1].at)
    assert result.chosen_node_id == 1 and result.validation == 0.9 and result.test == 0.5
    assert result.nodes == 2 and result.cost_usd == pytest.approx(0.02) and result.complete
    assert result.wall_s == pytest.approx(history.events[-1].at - history.events[0].at)
    assert result.metric == "roc_auc" and not result.has_medals and result.medal is None


def test_report_aggregates_per_task_and_solver_and_ranks_with_the_metric_direction():
    log = Log()
    # wine (accuracy, higher is better): a beats b on both seeds.
    log.run("e-t0-a-s0", _result(0.9)).run("e-t0-b-s0", _result(0.8))
    log.run("e-t0-a-s1", _result(0.7)).run("e-t0-b-s1", _result(0.6))
    # diabetes (rmse, lower is better): a beats b on seed 0; b's seed-1 run was cancelled (missing).
    log.run("e-t1-a-s0", _result(50.0, lower=True)).run("e-t1-b-s0", _result(60.0, lower=True))
    log.run("e-t1-a-s1", _result(55.0, lower=True))
    log.run("e-t1-b-s1", RunResult(status="finished", reason="cancelled", metric="rmse", lower_is_better=True, test=1.0))
    report = experiment_report(fold_experiment(log.events))
    cells = {(c.task, c.solver): c for c in report.cells}
    wine_a = cells[("wine", "a")]
    assert wine_a.runs == 2 and wine_a.test.mean == pytest.approx(0.8) and wine_a.test.sem == pytest.approx(0.1)
    assert wine_a.any_medal_pct is None and wine_a.nodes.mean == 3 and wine_a.cost_usd.mean == 0.5 and wine_a.wall_s.mean == 10.0
    diabetes_b = cells[("diabetes", "b")]
    assert (diabetes_b.planned, diabetes_b.ended, diabetes_b.runs) == (2, 2, 1) and diabetes_b.test.mean == 60.0
    assert diabetes_b.lower_is_better and diabetes_b.metric == "rmse"
    first, second = report.ranking.solvers
    assert (first.solver, first.rank, second.solver, second.rank) == ("a", 1, "b", 2)
    assert first.wins == 3.0 and first.comparisons == 3, "the cancelled run is missing, not a loss or a win"
    assert report.ranking.contests == 3 and report.runs_ended == 8


def test_any_medal_percentage_where_the_task_has_a_leaderboard():
    log = Log()
    log.run("e-t0-a-s0", _result(0.9, medal="gold", has_medals=True)).run("e-t0-a-s1", _result(0.5, has_medals=True))
    cell = next(c for c in experiment_report(fold_experiment(log.events)).cells if (c.task, c.solver) == ("wine", "a"))
    assert cell.any_medal_pct.mean == 50.0 and cell.any_medal_pct.n == 2


def test_a_run_without_a_scored_node_loses_to_one_with_a_score():
    log = Log().run("e-t0-a-s0", _result(None)).run("e-t0-b-s0", _result(0.1))
    ranking = experiment_report(fold_experiment(log.events)).ranking
    assert [s.solver for s in ranking.solvers] == ["b", "a"]


def test_the_experiments_table_lists_progress_and_a_rejected_experiment_without_a_request():
    from airad.cli.experiment_output import experiments_table

    accepted = fold_experiment(Log().events)
    rejected = ExperimentState("bad", status="rejected", rejection="$.seeds: empty")
    header, first, second = experiments_table([accepted, rejected], now=100.0 + 3600).splitlines()
    assert header.split() == ["EXPERIMENT", "STATUS", "TASKS", "SOLVERS", "SEEDS", "ENDED", "RUNNING", "NOT", "STARTED", "AGE"]
    assert first.split() == ["e", "running", "2", "2", "2", f"0/{len(accepted.runs)}", "0", str(len(accepted.runs)), "1h"]
    assert second.split() == ["bad", "rejected", "-", "-", "-", "0/0", "0", "0", "-"]


def test_a_cell_sets_the_gradient_boosting_baseline_beside_the_chosen_nodes():
    from airad.cli.experiment_output import report_text
    from airad.schemas.events import Baseline, RunBaselines

    history = History("r").node(0, "draft", score=0.7, test=0.6)
    history.add(RunBaselines, baselines=(Baseline("positive rate", 0.5, 0.5), Baseline("gradient boosting", 0.8, 0.75)))
    history.add(RunFinished, reason="max_nodes", best_node_id=0)
    assert run_result(fold(history.events), finished_at=None).baseline_test == 0.75

    log = Log().run("e-t0-a-s0", _result(0.9, baseline_test=0.8)).run("e-t0-a-s1", _result(0.7, baseline_test=0.6))
    log.run("e-t0-b-s0", _result(0.8))
    cells = {(c.task, c.solver): c for c in experiment_report(fold_experiment(log.events)).cells}
    assert cells[("wine", "a")].baseline_test.mean == pytest.approx(0.7) and cells[("wine", "a")].baseline_test.n == 2
    assert cells[("wine", "b")].baseline_test.n == 0
    text = report_text(experiment_report(fold_experiment(log.events)))
    assert "BASELINE TEST (GB)" in text and "0.7 ± 0.1 (n=2)" in text
