"""Issue 19: a seed is one sample, runs that did not end on their own are listed but not aggregated,
and one sample prints no spread, in `airad report` and in the experiment report."""

import csv
import io
import json
import math

import msgspec
import pytest

from airad.cli.experiment_output import report_csv as experiment_csv
from airad.cli.experiment_output import report_text as experiment_text
from airad.cli.output import fmt_stat, to_json
from airad.cli.report_output import report_csv, report_text
from airad.events.experiment import fold_experiment
from airad.events.fold import fold
from airad.reports.experiment_report import experiment_report
from airad.reports.report import Stat, build_report, mean_sem
from airad.schemas.events import NodeExecuted, NodeGenerated, NodeScored, NodeSelected, NodeTested, RunFinished
from airad.schemas.experiment_events import RunResult
from airad.schemas.request import BundledTask, RunRequest
from tests.factories import History
from tests.unit.test_experiment_fold import Log, _result


def _run(run_id: str, seed: int, test: float, *, submitted: float, reason: str = "max_nodes"):
    """A run of wine × greedy with one valid node whose held-out score is `test`, submitted at `submitted`."""
    h = History(run_id, RunRequest(task=BundledTask(name="wine"), seed=seed))
    h.events[0] = msgspec.structs.replace(h.events[0], at=submitted)
    h.add(NodeSelected, node_id=0, operator="draft")
    h.add(NodeGenerated, node_id=0, plan="p", code="c", model="m", prompt_ref="p", completion_ref="c")
    h.add(NodeExecuted, node_id=0, exit_code=0, duration_s=1.0)
    h.add(NodeScored, node_id=0, metric="accuracy", lower_is_better=False, valid=True, score=test + 0.05)
    h.add(NodeTested, node_id=0, score=test)
    h.add(RunFinished, reason=reason, best_node_id=0)
    return fold(h.events)


def test_one_sample_has_no_spread():
    assert mean_sem([0.4]) == Stat(0.4, None, 1)
    assert fmt_stat(Stat(0.4, None, 1)) == "0.4 ± — (n=1)"
    assert fmt_stat(mean_sem([0.908, 0.912, 0.916])) == "0.912 ± 0.0023 (n=3)"
    assert fmt_stat(Stat(None, None, 0)) == "-"


def test_a_repeated_seed_is_one_sample_and_the_latest_run_counts():
    states = [
        _run("first-s0", 0, 0.70, submitted=10.0),
        _run("again-s0", 0, 0.80, submitted=30.0),
        _run("only-s1", 1, 0.90, submitted=20.0),
    ]
    report = build_report(states)
    [group] = report.groups
    assert (group.runs, group.counted, group.seeds, group.repeated_seeds) == (3, 2, [0, 1], [0])
    assert group.chosen_test.n == 2 and group.chosen_test.mean == pytest.approx(0.85)
    assert group.chosen_test.sem == pytest.approx(0.05)
    runs = {r.run_id: r for r in report.runs}
    assert [r.run_id for r in report.runs] == ["first-s0", "again-s0", "only-s1"], "every run is listed, in order"
    assert not runs["first-s0"].counted and "repeats seed 0" in runs["first-s0"].left_out
    assert "again-s0" in runs["first-s0"].left_out
    assert runs["again-s0"].counted and runs["only-s1"].counted and runs["only-s1"].left_out == ""
    data = json.loads(to_json(report))
    assert data["groups"][0]["repeated_seeds"] == [0] and data["groups"][0]["counted"] == 2
    assert set(data["groups"][0]["chosen_test"]) == {"mean", "sem", "n"}


def test_cancelled_and_broken_runs_are_listed_but_not_aggregated():
    states = [
        _run("good", 0, 0.80, submitted=1.0),
        _run("cancelled", 1, 0.10, submitted=2.0, reason="cancelled"),
        _run("model-down", 2, 0.20, submitted=3.0, reason="model"),
        _run("crashed", 3, 0.30, submitted=4.0, reason="error"),
        _run("later-but-cancelled", 0, 0.00, submitted=5.0, reason="cancelled"),
    ]
    report = build_report(states)
    [group] = report.groups
    assert (group.runs, group.counted, group.seeds, group.repeated_seeds) == (5, 1, [0], [])
    assert group.chosen_test == Stat(0.80, None, 1), "n=1: no spread, and the cancelled repeat of seed 0 is out"
    why = {r.run_id: (r.status, r.reason, r.counted, r.left_out) for r in report.runs}
    assert why["cancelled"] == ("finished", "cancelled", False, "cancelled")
    assert why["model-down"] == ("finished", "model", False, "ended with reason model")
    assert why["crashed"] == ("finished", "error", False, "ended with reason error")
    assert why["good"] == ("finished", "max_nodes", True, "")
    text = report_text(report)
    assert "0.8 ± — (n=1)" in text and "± 0 " not in text and "1 of 5" in text
    assert "finished (cancelled)" in text and "no: cancelled" in text and "no: ended with reason model" in text
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [(r["run_id"], r["counted"], r["left_out"]) for r in rows][:2] == [
        ("good", "True", ""), ("cancelled", "False", "cancelled")
    ]
    assert json.loads(to_json(report))["groups"][0]["chosen_test"] == {"mean": 0.8, "sem": None, "n": 1}


def test_seeds_0_0_1_give_n_2_and_name_the_repeat_in_the_text():
    states = [_run("a", 0, 0.7, submitted=1.0), _run("b", 0, 0.9, submitted=2.0), _run("c", 1, 0.8, submitted=3.0)]
    text = report_text(build_report(states))
    assert "(n=2)" in text and "0,1 (0 repeated: latest run counts)" in text and "2 of 3" in text
    assert "no: repeats seed 0: the later run b counts" in text


def test_the_experiment_report_leaves_out_model_and_error_runs_and_prints_n():
    log = Log()
    log.run("e-t0-a-s0", _result(0.9)).run("e-t0-b-s0", _result(0.8))
    log.run("e-t0-a-s1", RunResult(status="finished", reason="model", metric="accuracy", test=0.1, nodes=1))
    log.run("e-t0-b-s1", _result(0.6))
    for run_id, reason in (("e-t1-a-s0", "error"), ("e-t1-b-s0", "cancelled")):
        log.run(run_id, RunResult(status="finished", reason=reason, metric="rmse", lower_is_better=True, test=1.0))
    report = experiment_report(fold_experiment(log.events))
    cells = {(c.task, c.solver): c for c in report.cells}
    wine_a, wine_b = cells[("wine", "a")], cells[("wine", "b")]
    assert (wine_a.planned, wine_a.ended, wine_a.runs) == (2, 2, 1)
    assert wine_a.test == Stat(0.9, None, 1) and wine_a.left_out == {"e-t0-a-s1": "ended with reason model"}
    assert wine_b.test.n == 2 and wine_b.test.sem == pytest.approx(0.1) and wine_b.left_out == {}
    diabetes_a, diabetes_b = cells[("diabetes", "a")], cells[("diabetes", "b")]
    assert diabetes_a.runs == 0 and diabetes_a.left_out == {"e-t1-a-s0": "ended with reason error"}
    assert diabetes_b.left_out == {"e-t1-b-s0": "cancelled"}
    by_name = {s.solver: s for s in report.ranking.solvers}
    assert by_name["a"].comparisons == 1 and by_name["b"].comparisons == 1, "only wine seed 0 compares a and b"
    text = experiment_text(report)
    assert "0.9 ± — (n=1)" in text and "0.7 ± 0.1 (n=2)" in text and "0.9 ± 0 " not in text
    assert "  e-t0-a-s1: ended with reason model" in text and "  e-t1-b-s0: cancelled" in text
    data = json.loads(to_json(report))
    wine_a_json = next(c for c in data["cells"] if (c["task"], c["solver"]) == ("wine", "a"))
    assert wine_a_json["test"] == {"mean": 0.9, "sem": None, "n": 1}


def test_the_experiment_report_names_both_rankings_in_text_csv_and_json():
    log = Log()
    log.run("e-t0-a-s0", _result(0.9)).run("e-t0-b-s0", _result(0.8))
    log.run("e-t0-a-s1", _result(0.7)).run("e-t0-b-s1", _result(0.6))
    report = experiment_report(fold_experiment(log.events))
    text = experiment_text(report)
    assert "ranking of solvers by Bradley–Terry" in text and "ranking of solvers by Soft Condorcet Optimization" in text
    data = json.loads(to_json(report))
    assert data["ranking"]["method"].startswith("Bradley–Terry")
    assert data["sco_ranking"]["method"].startswith("Soft Condorcet Optimization")
    assert [s["solver"] for s in data["sco_ranking"]["solvers"]] == ["a", "b"] and data["sco_ranking"]["votes"] == 2
    rows = list(csv.DictReader(io.StringIO(experiment_csv(report))))
    assert {(r["solver"], r["rank"], r["sco_rank"]) for r in rows} == {("a", "1", "1"), ("b", "2", "2")}
    assert all(r["sco_method"].startswith("Soft Condorcet") for r in rows)
    assert not math.isnan(float(rows[0]["sco_rating"]))


def test_a_cell_whose_runs_repeat_a_seed_counts_the_latest_once():
    from airad.events.experiment import ExperimentRun
    from airad.reports.experiment_report import counted_runs

    runs = [
        ExperimentRun("x-s0", 0, "wine", "a", 0, "finished", _result(0.5)),
        ExperimentRun("y-s0", 0, "wine", "a", 0, "finished", _result(0.7)),
        ExperimentRun("z-s1", 0, "wine", "a", 1, "finished", _result(0.9)),
        ExperimentRun("w-s2", 0, "wine", "a", 2, "started"),
    ]
    kept, left_out, repeated = counted_runs(runs)
    assert [run.run_id for run in kept] == ["y-s0", "z-s1"] and repeated == [0]
    assert left_out == {"x-s0": "repeats seed 0: the later run y-s0 counts"}
