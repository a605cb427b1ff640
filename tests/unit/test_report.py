"""Reports over folded runs: chosen vs oracle node, gap, overfitting, and mean ± SEM over seeds."""

import math

import msgspec
import pytest

from airad.events.fold import fold
from airad.reports.report import Report, Stat, build_report, mean_sem, run_report, select_runs
from airad.schemas.events import NodeExecuted, NodeGenerated, NodeScored, NodeSelected, NodeTested, RunFinished
from airad.schemas.policies import GreedyPolicy, MctsPolicy
from airad.schemas.request import BundledTask, MleBenchTask, RunRequest
from tests.factories import History

THRESHOLDS = {"gold": 0.95, "silver": 0.9, "bronze": 0.85, "median": 0.7}


def add_node(h: History, node_id: int, validation: float | None, test: float | None, *, lower: bool = False,
             medal: str | None = None, above_median: bool | None = None, thresholds: dict | None = None) -> None:
    """A node from selection to its test score; validation None makes it buggy."""
    h.add(NodeSelected, node_id=node_id, operator="draft")
    h.add(NodeGenerated, node_id=node_id, plan="p", code="c", model="m", prompt_ref="p", completion_ref="c")
    h.add(NodeExecuted, node_id=node_id, exit_code=0, duration_s=1.0)
    h.add(NodeScored, node_id=node_id, metric="rmse" if lower else "accuracy", lower_is_better=lower,
          valid=validation is not None, score=validation)
    h.add(NodeTested, node_id=node_id, score=test, medal=medal, above_median=above_median,
          medal_thresholds=thresholds or {})


def run(run_id: str, nodes: list[tuple], *, seed: int = 0, task=None, policy=None, labels=None, lower: bool = False):
    """A finished run whose nodes are (validation, test) or (validation, test, medal, above_median)."""
    request = RunRequest(task=task or BundledTask(name="wine"), policy=policy or GreedyPolicy(), seed=seed,
                         labels=labels or {})
    h = History(run_id, request)
    for node_id, spec in enumerate(nodes):
        validation, test, *medal = spec
        if medal:
            add_node(h, node_id, validation, test, lower=lower, medal=medal[0], above_median=medal[1], thresholds=THRESHOLDS)
        else:
            add_node(h, node_id, validation, test, lower=lower)
    h.add(RunFinished, reason="max_nodes")
    return fold(h.events)


def test_chosen_by_validation_against_the_oracle_by_test():
    state = run("r", [(0.9, 0.80), (0.95, 0.78), (0.85, 0.88), (None, 0.99)])
    report = run_report(state)
    assert report.chosen.node_id == 1 and report.chosen.validation == 0.95 and report.chosen.test == 0.78
    assert report.oracle.node_id == 3 and report.oracle.validation is None and report.oracle.test == 0.99
    assert report.gap == pytest.approx(0.99 - 0.78)
    assert report.overfitting == pytest.approx(0.95 - 0.78)
    assert report.task == "wine" and report.policy == "greedy" and report.status == "finished"
    assert report.nodes == 4 and not report.has_medals


def test_lower_is_better_keeps_positive_meaning_worse():
    state = run("r", [(2.0, 2.5), (1.5, 2.2), (1.8, 1.9)], lower=True)
    report = run_report(state)
    assert report.chosen.node_id == 1 and report.oracle.node_id == 2
    assert report.gap == pytest.approx(2.2 - 1.9)
    assert report.overfitting == pytest.approx(2.2 - 1.5)


def test_validation_pessimism_gives_negative_overfitting_and_the_oracle_ties_to_the_earliest():
    report = run_report(run("r", [(0.7, 0.9), (0.6, 0.9)]))
    assert report.chosen.node_id == 0 and report.oracle.node_id == 0
    assert report.gap == 0.0
    assert report.overfitting == pytest.approx(-0.2)


def test_a_run_without_a_valid_node_has_no_choice_gap_or_overfitting():
    report = run_report(run("r", [(None, None), (None, 0.5)]))
    assert report.chosen is None and report.oracle.node_id == 1
    assert report.gap is None and report.overfitting is None
    empty = run_report(run("e", []))
    assert empty.chosen is None and empty.oracle is None and empty.nodes == 0


def test_medals_come_from_the_tested_events():
    state = run("r", [(0.9, 0.86, "bronze", True), (0.8, 0.96, "gold", True), (0.95, 0.6, None, False)],
                task=MleBenchTask(competition="spooky", data_dir="/d"))
    report = run_report(state)
    assert report.has_medals and report.task == "spooky"
    assert report.chosen.node_id == 2 and report.chosen.medal is None and report.chosen.above_median is False
    assert report.oracle.node_id == 1 and report.oracle.medal == "gold"
    assert not report.any_medal("validation") and report.any_medal("oracle")
    assert state.nodes[1].medal_thresholds == THRESHOLDS


def test_mean_and_standard_error_of_the_mean():
    stat = mean_sem([1.0, 2.0, 3.0, None])
    assert stat.n == 3 and stat.mean == 2.0 and stat.sem == pytest.approx(1.0 / math.sqrt(3))
    assert mean_sem([0.4]) == Stat(0.4, None, 1), "one value has no spread"
    assert mean_sem([None]).mean is None and mean_sem([]).n == 0


def test_groups_by_task_and_policy_over_seeds():
    states = [
        run("g0", [(0.9, 0.80), (0.95, 0.78)], seed=0),
        run("g1", [(0.9, 0.84)], seed=1),
        run("g2", [(0.9, 0.82), (0.8, 0.86)], seed=2),
        run("m0", [(0.9, 0.70)], seed=0, policy=MctsPolicy()),
    ]
    report = build_report(states)
    assert [r.run_id for r in report.runs] == ["g0", "g1", "g2", "m0"]
    greedy, mcts = report.groups
    assert (greedy.task, greedy.policy, greedy.runs, greedy.seeds) == ("wine", "greedy", 3, [0, 1, 2])
    tests = [0.78, 0.84, 0.82]
    mean = sum(tests) / 3
    sem = math.sqrt(sum((t - mean) ** 2 for t in tests) / 2) / math.sqrt(3)
    assert greedy.chosen_test.mean == pytest.approx(mean) and greedy.chosen_test.sem == pytest.approx(sem)
    assert greedy.oracle_test.mean == pytest.approx((0.80 + 0.84 + 0.86) / 3)
    assert greedy.gap.mean == pytest.approx((0.02 + 0.0 + 0.04) / 3) and greedy.gap.n == 3
    assert greedy.any_medal_pct == {} and greedy.above_median_pct == {}
    assert (mcts.policy, mcts.runs, mcts.chosen_test.mean, mcts.chosen_test.sem) == ("mcts", 1, 0.70, None)


def test_any_medal_percent_per_selection_rule():
    task = MleBenchTask(competition="spooky", data_dir="/d")
    states = [
        run("s0", [(0.9, 0.96, "gold", True), (0.8, 0.97, "gold", True)], seed=0, task=task),
        run("s1", [(0.9, 0.80, None, True), (0.8, 0.86, "bronze", True)], seed=1, task=task),
        run("s2", [(0.9, 0.60, None, False)], seed=2, task=task),
        run("s3", [(None, None, None, False)], seed=3, task=task),
    ]
    [group] = build_report(states).groups
    validation, oracle = group.any_medal_pct["validation"], group.any_medal_pct["oracle"]
    assert (validation.mean, validation.n) == (25.0, 4)
    assert validation.sem == pytest.approx(math.sqrt(((75**2) + 3 * (25**2)) / 3) / 2)
    assert oracle.mean == 50.0
    assert group.above_median_pct["validation"].mean == 50.0
    assert group.above_median_pct["oracle"].mean == 50.0


def test_grouping_by_labels_and_selecting_runs():
    states = [
        run("a", [(0.9, 0.8)], labels={"model": "o3", "exp": "1"}),
        run("b", [(0.9, 0.7)], seed=1, labels={"model": "gpt", "exp": "1"}),
        run("c", [(0.9, 0.6)], labels={"model": "o3"}, task=BundledTask(name="breast-cancer")),
    ]
    report = build_report(states, by_labels=["model"])
    assert [(g.task, g.labels, g.runs) for g in report.groups] == [
        ("wine", {"model": "o3"}, 1), ("wine", {"model": "gpt"}, 1), ("breast-cancer", {"model": "o3"}, 1)
    ]
    assert [s.run_id for s in select_runs(states, task="wine")] == ["a", "b"]
    assert [s.run_id for s in select_runs(states, labels={"model": "o3"})] == ["a", "c"]
    assert [s.run_id for s in select_runs(states, task="wine", labels={"exp": "1", "model": "gpt"})] == ["b"]


def test_report_round_trips_as_json():
    report = build_report([run("a", [(0.9, 0.8)])])
    data = msgspec.json.decode(msgspec.json.encode(report))
    assert data["runs"][0]["chosen"] == {"node_id": 0, "validation": 0.9, "test": 0.8, "medal": None, "above_median": None}
    assert set(data["groups"][0]["chosen_test"]) == {"mean", "sem", "n"}
    assert msgspec.convert(data, Report) == report
