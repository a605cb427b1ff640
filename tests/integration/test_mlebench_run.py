"""A synthetic competition laid out exactly like MLE-bench's prepared data, searched end to end by the
real CLI (offline coder, sandboxed local executor): fitness from the harness's validation split,
test scores with medals from the competition's leaderboard, and `airad report` over the run."""

from __future__ import annotations

import json

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad
from tests.synthetic_competitions import leaf_classification, tabular_playground

pytestmark = pytest.mark.integration


def run_competition(tmp_path, make, competition: str, run_id: str, *, seed: int, nodes: int, task_extra: str = "") -> tuple[dict, object]:
    """Prepare a synthetic competition with `make`, search it with `airad run` (offline coder, greedy,
    `nodes` nodes); the run's summary and its state dir."""
    require("bwrap")
    data = make(tmp_path / "mle-bench" / competition / "prepared")
    request = tmp_path / f"{run_id}.toml"
    request.write_text(
        f'run_id = "{run_id}"\nseed = {seed}\n'
        f'[task]\nkind = "mlebench"\ncompetition = "{competition}"\ndata_dir = "{data}"\n{task_extra}'
        f'[policy]\nkind = "greedy"\nnum_drafts = 2\n[budget]\nmax_nodes = {nodes}\n'
    )
    state = tmp_path / "state"
    run = airad("run", str(request), "--json", state_dir=state, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), state


def test_a_prepared_competition_is_searched_graded_and_medalled(tmp_path):
    summary, state = run_competition(tmp_path, tabular_playground, "tabular-playground-series-may-2022", "playground", seed=1, nodes=3)
    assert summary["status"] == "finished" and summary["nodes"] == 3 and summary["metric"] == "roc_auc"
    assert 0.6 < summary["best_score"] <= 1.0

    events = [json.loads(line) for line in airad("events", "playground", "--json", state_dir=state).stdout.splitlines()]
    scored = [e for e in events if e["type"] == "node.scored" and e["valid"]]
    tested = [e for e in events if e["type"] == "node.tested"]
    assert scored and len(tested) == 3
    for event in tested:
        assert set(event["medal_thresholds"]) == {"gold", "silver", "bronze", "median"}
        assert event["above_median"] in (True, False)
        assert event["medal"] in (None, "gold", "silver", "bronze")

    detail = airad("show", "playground", "--node", str(summary["best_node_id"]), state_dir=state).stdout
    assert "grading (held-out test):" in detail and "thresholds: gold" in detail

    report = json.loads(airad("report", "playground", "--json", state_dir=state).stdout)
    [row] = report["runs"]
    assert row["has_medals"] and row["chosen"]["node_id"] == summary["best_node_id"]
    assert row["chosen"]["test"] is not None
    [group] = report["groups"]
    assert set(group["any_medal_pct"]) == {"validation", "oracle"}


def test_a_competition_with_one_hot_answers_is_searched_and_graded_on_held_out_training_rows(tmp_path):
    summary, state = run_competition(
        tmp_path, leaf_classification, "leaf-classification", "leaf", seed=2, nodes=2, task_extra="validation_fraction = 0.25\n",
    )
    assert summary["status"] == "finished" and summary["metric"] == "multiclass_log_loss"

    events = [json.loads(line) for line in airad("events", "leaf", "--json", state_dir=state).stdout.splitlines()]
    valid = [e for e in events if e["type"] == "node.scored" and e["valid"]]
    tested = [e for e in events if e["type"] == "node.tested" and e["score"] is not None]
    assert valid, "the offline coder plants bugs in some drafts, not in all"
    assert all(e["lower_is_better"] and 0.0 <= e["score"] < 1.0 for e in valid), "60 held-out leaves, by log loss"
    assert len(tested) == len(valid) and all(0.0 <= e["score"] < 1.0 for e in tested)
    assert all(e["medal"] in (None, "gold", "silver", "bronze") for e in tested)
